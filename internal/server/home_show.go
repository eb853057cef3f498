package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/web/components"
)

// AnnotationOIDCGroup maps a catalog Group to an identity provider group of another name.
const AnnotationOIDCGroup = catalog.AnnotationOIDCGroup

// teamsOf returns the catalog Groups the user belongs to (see catalog.Snapshot.TeamsOf).
func teamsOf(snap *catalog.Snapshot, u *auth.User) []*catalog.Record {
	return snap.TeamsOf(u.Subject, u.Email, u.Groups)
}

// handleHome is "my services" for a signed-in user, and the catalog for everyone else.
func (s *Server) handleHome(c echo.Context) error {
	u := userFrom(c.Request().Context())
	if u == nil {
		return c.Redirect(http.StatusFound, "/catalog")
	}
	snap := s.Catalog.Snapshot()
	vm := components.Home{User: u.Name}
	if vm.User == "" {
		vm.User = u.Subject
	}
	sc := s.scope(c, snap)
	mine := teamsOf(snap, u)
	teams, owned := teamsAndOwned(snap, sc, mine)
	vm.Teams = teams
	// Someone on call sees what is on fire before their own services.
	if onCall(snap, mine) {
		fire := s.onFire(c.Request().Context(), snap, sc)
		fire.OnCall = true
		vm.Fire = &fire
	}
	for _, o := range owned {
		vm.Services = append(vm.Services, s.entityRowWithHealth(o))
	}
	return s.page(c, http.StatusOK, components.Page{Title: "My services", Nav: "catalog"}, components.HomeView(vm))
}

// teamsAndOwned are the user's teams and what they own that the user may view, each once.
func teamsAndOwned(snap *catalog.Snapshot, sc *access.Scope, mine []*catalog.Record) ([]components.Link, []*catalog.Record) {
	var teams []components.Link
	var owned []*catalog.Record
	seen := map[string]bool{}
	for _, t := range mine {
		teams = append(teams, components.Link{Label: t.Entity.DisplayName(), Href: entityHref(t.Entity.Ref())})
		for _, o := range snap.Related(t.Entity, catalog.RelOwnerOf) {
			if k := o.Entity.Ref().Key(); !seen[k] && sc.Record(o) {
				seen[k] = true
				owned = append(owned, o)
			}
		}
	}
	return teams, owned
}
