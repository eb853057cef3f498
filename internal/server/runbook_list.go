package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleRunbookList(c echo.Context) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	owners := runbookOwners(s.Catalog.Snapshot())
	vm := components.RunbookList{Query: q}
	for _, b := range s.Runbooks.List(q) {
		vm.Books = append(vm.Books, components.RunbookRow{Title: b.Title, Href: "/runbooks/" + b.Path, Path: b.Path,
			Summary: b.Summary, Entities: owners[b.Path]})
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Runbooks", Nav: "runbooks"}, components.RunbookListView(vm))
}

// runbookOwners maps each runbook path to the entities linking to it, by the Portico
// annotation or a runbook/playbook link with a relative path.
func runbookOwners(snap *catalog.Snapshot) map[string][]components.Link {
	out := map[string][]components.Link{}
	for _, r := range snap.Records() {
		e := r.Entity
		var paths []string
		if p := e.Metadata.Annotations[catalog.AnnotationRunbook]; p != "" {
			paths = append(paths, runbooks.Normalize(p))
		}
		for _, l := range e.Metadata.Links {
			if (l.Type == "runbook" || l.Type == "playbook") && !strings.Contains(l.URL, "://") {
				paths = append(paths, runbooks.Normalize(l.URL))
			}
		}
		seen := map[string]bool{}
		for _, p := range paths {
			if !seen[p] {
				seen[p] = true
				out[p] = append(out[p], components.Link{Label: e.DisplayName(), Href: entityHref(e.Ref())})
			}
		}
	}
	return out
}
