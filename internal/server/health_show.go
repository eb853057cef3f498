package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleHealthShow(c echo.Context) error {
	filter := c.QueryParam("severity")
	if filter != "" && filter != "error" && filter != "warning" {
		return fmt.Errorf("%w: Severity must be error or warning", derrors.Invalid)
	}
	snap := s.Catalog.Snapshot()
	vm := components.Health{Entities: snap.Len(), Filter: filter}
	for _, st := range s.Catalog.Statuses() {
		row := components.SourceRow{Name: st.Name, Location: st.Location, Revision: shortRev(st.Revision),
			Entities: st.Entities, Error: st.Error, OK: !st.RefreshedAt.IsZero() && st.Error == ""}
		if !st.RefreshedAt.IsZero() {
			row.RefreshedAt = st.RefreshedAt.UTC().Format(time.DateTime) + " UTC"
			row.Took = st.Duration.Round(time.Millisecond).String()
		}
		vm.Sources = append(vm.Sources, row)
	}
	for _, p := range visibleProblems(snap, s.scope(c, snap)) {
		if p.Severity == catalog.SeverityError {
			vm.Errors++
		} else {
			vm.Warnings++
		}
		if filter == "" || string(p.Severity) == filter {
			vm.Problems = append(vm.Problems, problemRow(snap, p))
		}
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Catalog health", Nav: "health"}, components.HealthView(vm))
}

func problemRow(snap *catalog.Snapshot, p catalog.Problem) components.ProblemRow {
	where := p.File
	if p.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", p.File, p.Line, max(p.Column, 1))
	}
	row := components.ProblemRow{Severity: string(p.Severity), Source: p.Source, Where: where, Message: p.Message}
	if p.Entity != "" {
		if ref, err := catalog.ParseRef(p.Entity, "", catalog.DefaultNamespace); err == nil {
			row.Entity = components.Link{Label: ref.Short()}
			if _, ok := snap.Get(ref); ok {
				row.Entity.Href = entityHref(ref)
			}
		}
	}
	return row
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

// visibleProblems are the catalog's problems, less those about an entity the user may not
// view (problems about files stay: they name no entity).
func visibleProblems(snap *catalog.Snapshot, sc *access.Scope) []catalog.Problem {
	all := snap.Problems()
	if sc.All() {
		return all
	}
	out := make([]catalog.Problem, 0, len(all))
	for _, p := range all {
		if p.Entity != "" {
			if ref, err := catalog.ParseRef(p.Entity, "", catalog.DefaultNamespace); err == nil {
				if _, exists := snap.Get(ref); exists && !sc.Ref(ref) {
					continue
				}
			}
		}
		out = append(out, p)
	}
	return out
}
