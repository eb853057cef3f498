package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleRunbookShow(c echo.Context) error {
	p := c.Param("*")
	snap := s.Catalog.Snapshot()
	b, ok := s.runbook(snap, p)
	if !ok {
		return fmt.Errorf("%w: There is no runbook %q; see the list of runbooks", derrors.NotFound, p)
	}
	html, err := s.Runbooks.HTML(b)
	if err != nil {
		return err
	}
	vm := components.Runbook{Title: b.Title, Path: b.Path, HTML: html, Entities: s.runbookOwners(snap, s.scope(c, snap))[b.Path]}
	return s.page(c, http.StatusOK, components.Page{Title: b.Title, Nav: "runbooks"}, components.RunbookView(vm))
}
