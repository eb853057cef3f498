package server

import (
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleTeamsList(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	var vm components.Teams
	for _, r := range snap.Records() {
		e := r.Entity
		if !strings.EqualFold(e.Kind, catalog.KindGroup) {
			continue
		}
		t := components.Team{Name: e.Metadata.Name, Title: e.DisplayName(), Href: entityHref(e.Ref()),
			Description: e.Metadata.Description, Type: e.SpecString("type"),
			Members: len(e.RelationsOf(catalog.RelHasMember)), Owned: countVisible(sc, e.RelationsOf(catalog.RelOwnerOf))}
		if p := e.SpecMap("profile"); p != nil {
			t.Email, _ = p["email"].(string)
		}
		if parents := e.RelationsOf(catalog.RelChildOf); len(parents) > 0 {
			t.Parent = refLink(parents[0])
		}
		vm.Teams = append(vm.Teams, t)
	}
	// Teams that own things first, then by name: the page is mostly used to find an owner.
	sort.SliceStable(vm.Teams, func(i, j int) bool {
		a, b := vm.Teams[i], vm.Teams[j]
		if (a.Type == "team") != (b.Type == "team") {
			return a.Type == "team"
		}
		return strings.ToLower(a.Title) < strings.ToLower(b.Title)
	})
	return s.page(c, http.StatusOK, components.Page{Title: "Teams", Nav: "teams"}, components.TeamsView(vm))
}

// countVisible counts the references the user may view.
func countVisible(sc *access.Scope, refs []catalog.Ref) int {
	n := 0
	for _, r := range refs {
		if sc.Ref(r) {
			n++
		}
	}
	return n
}
