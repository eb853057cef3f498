package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/graph"
	"github.com/portico-dev/portico/internal/traces"
	"github.com/portico-dev/portico/web/components"
)

// handleDependencies compares the calls Jaeger saw with the catalog's dependsOn.
func (s *Server) handleDependencies(c echo.Context) error {
	snap, rec, err := s.observedEntity(c, "traces")
	if err != nil {
		return err
	}
	service, lookback := rec.Entity.JaegerService()
	vm := components.DepMap{Lookback: fmtDuration(lookback)}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.Traces.Budget())
	defer cancel()
	links, err := s.Traces.Dependencies(ctx, lookback)
	if err != nil {
		vm.Err = traces.Explain(err, s.Traces.Budget())
		return render(c, http.StatusOK, components.DepMapView(vm))
	}
	m := depMap(snap, s.services.of(snap), s.scope(c, snap), rec.Entity, service, links)
	m.Lookback = vm.Lookback
	return render(c, http.StatusOK, components.DepMapView(m))
}

// depMap draws callers → service → callees with call counts; a call the catalog does not
// declare is red, a declared dependency with no calls is dashed.
// Services the user may not view are drawn as "hidden".
// byService maps the traces' service names to components (jaegerIndex).
func depMap(snap *catalog.Snapshot, byService map[string]*catalog.Record, sc *access.Scope, e *catalog.Entity, service string, links []traces.Link) components.DepMap {
	declares := func(from *catalog.Entity, to string) bool {
		for _, ref := range from.RelationsOf(catalog.RelDependsOn) {
			if r, ok := snap.Get(ref); ok && observes(r.Entity) {
				if name, _ := r.Entity.JaegerService(); name == to {
					return true
				}
			}
		}
		return false
	}
	node := func(name string) graphNodeSpec {
		n := graphNodeSpec{Label: name, Kind: "service", Missing: true}
		if r, ok := byService[name]; ok {
			n = graphNodeSpec{Label: r.Entity.DisplayName(), Kind: r.Entity.Kind, Href: entityHref(r.Entity.Ref())}
			if !sc.Record(r) {
				n = graphNodeSpec{Label: hiddenLabel, Kind: r.Entity.Kind, Hidden: true}
			}
		}
		return n
	}
	shown := func(name string) string { // a name for the lists under the map
		if r, ok := byService[name]; ok && !sc.Record(r) {
			return hiddenLabel
		}
		return name
	}
	var res components.DepMap
	var left, right []graphNodeSpec
	called := map[string]bool{}
	for _, l := range links {
		switch {
		case l.Child == service && l.Parent != service:
			n := node(l.Parent)
			n.EdgeLabel = fmt.Sprintf("%d calls", l.Calls)
			if r, ok := byService[l.Parent]; ok && !declares(r.Entity, service) {
				n.EdgeClass = "undeclared"
			}
			left = append(left, n)
		case l.Parent == service && l.Child != service:
			called[l.Child] = true
			n := node(l.Child)
			n.EdgeLabel = fmt.Sprintf("%d calls", l.Calls)
			if !declares(e, l.Child) {
				n.EdgeClass = "undeclared"
				res.Undeclared = append(res.Undeclared, shown(l.Child))
			}
			right = append(right, n)
		}
	}
	for _, ref := range e.RelationsOf(catalog.RelDependsOn) {
		r, ok := snap.Get(ref)
		if !ok || !observes(r.Entity) {
			continue // resources are not traced
		}
		if name, _ := r.Entity.JaegerService(); !called[name] {
			n := node(name)
			n.EdgeLabel, n.EdgeClass = "declared, no calls", "unused"
			right = append(right, n)
			res.Unused = append(res.Unused, shown(name))
		}
	}
	sort.Strings(res.Undeclared)
	sort.Strings(res.Unused)
	if len(left) > 0 || len(right) > 0 {
		res.Graph = graph.Layout(e.DisplayName(), e.Kind, capNodes(left), capNodes(right))
	}
	return res
}

func capNodes(n []graphNodeSpec) []graphNodeSpec {
	sort.SliceStable(n, func(i, j int) bool { return n[i].Label < n[j].Label })
	if len(n) > maxPerColumn {
		return n[:maxPerColumn]
	}
	return n
}
