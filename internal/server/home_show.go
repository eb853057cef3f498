package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/web/components"
)

// AnnotationOIDCGroup maps a catalog Group to an identity provider group of another name.
const AnnotationOIDCGroup = "portico.dev/oidc-group"

// teamsOf returns the catalog Groups the user belongs to: those named like one of their OIDC
// groups (or annotated with it), and those listing the user's catalog User as a member.
func teamsOf(snap *catalog.Snapshot, u *auth.User) []*catalog.Record {
	var out []*catalog.Record
	for _, r := range snap.Records() {
		e := r.Entity
		if !strings.EqualFold(e.Kind, catalog.KindGroup) {
			continue
		}
		match := slices.ContainsFunc(u.Groups, func(g string) bool {
			return strings.EqualFold(g, e.Metadata.Name) || strings.EqualFold(g, e.Metadata.Annotations[AnnotationOIDCGroup])
		})
		for _, m := range snap.Related(e, catalog.RelHasMember) {
			if isUser(m.Entity, u) {
				match = true
			}
		}
		if match {
			out = append(out, r)
		}
	}
	return out
}

func isUser(e *catalog.Entity, u *auth.User) bool {
	if strings.EqualFold(e.Metadata.Name, u.Subject) {
		return true
	}
	email, _ := e.SpecMap("profile")["email"].(string)
	return u.Email != "" && strings.EqualFold(email, u.Email)
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
	teams, owned := teamsAndOwned(snap, s.scope(c, snap), u)
	vm.Teams = teams
	for _, o := range owned {
		vm.Services = append(vm.Services, s.entityRowWithHealth(o))
	}
	return s.page(c, http.StatusOK, components.Page{Title: "My services", Nav: "catalog"}, components.HomeView(vm))
}

// teamsAndOwned are the user's teams and what they own that the user may view, each once.
func teamsAndOwned(snap *catalog.Snapshot, sc *access.Scope, u *auth.User) ([]components.Link, []*catalog.Record) {
	var teams []components.Link
	var owned []*catalog.Record
	seen := map[string]bool{}
	for _, t := range teamsOf(snap, u) {
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
