package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleRunbookList(c echo.Context) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	snap := s.Catalog.Snapshot()
	owners := s.runbookOwners(snap, s.scope(c, snap))
	vm := components.RunbookList{Query: q}
	for _, b := range s.allRunbooks(snap, q) {
		vm.Books = append(vm.Books, components.RunbookRow{Title: b.Title, Href: runbookHref(b.Path), Path: b.Path,
			Summary: b.Summary, Entities: owners[b.Path]})
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Runbooks", Nav: "runbooks"}, components.RunbookListView(vm))
}
