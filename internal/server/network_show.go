package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/reach"
	"github.com/portico-dev/portico/web/components"
)

// networkOf is the component's reach in each cluster where it runs.
func (s *Server) networkOf(snap *catalog.Snapshot, e *catalog.Entity) (api.Network, error) {
	out := api.Network{Clusters: []api.NetworkCluster{}}
	q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
	if err != nil {
		return out, fmt.Errorf("%w: %v", derrors.Invalid, err)
	}
	if !mapped {
		return out, fmt.Errorf("%w: %s has no backstage.io/kubernetes-id or kubernetes-label-selector annotation", derrors.NotFound, e.Ref().Short())
	}
	if s.Clusters == nil {
		return out, nil
	}
	ref := e.Ref().String()
	for _, cr := range s.Clusters.Reach(s.components(snap), q.Cluster) {
		r, ok := cr.Graph.Of(ref)
		if !ok {
			continue // it does not run there
		}
		out.Clusters = append(out.Clusters, api.NetworkCluster{Cluster: cr.Cluster, Environment: cr.Environment,
			Stale: cr.Reachability.Probed && !cr.Reachability.Reachable, Policies: cr.Policies, Reach: r})
	}
	return out, nil
}

func (s *Server) handleAPINetwork(c echo.Context) error {
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	n, err := s.networkOf(snap, rec.Entity)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// handleNetworkPanel is the runtime tab's network reach panel.
func (s *Server) handleNetworkPanel(c echo.Context) error {
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	n, err := s.networkOf(snap, rec.Entity)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.NetworkView(networkVM(snap, n)))
}

func networkVM(snap *catalog.Snapshot, n api.Network) components.NetworkPanel {
	vm := components.NetworkPanel{Empty: "Nothing of this component runs in a configured cluster."}
	link := func(ref string) components.Link {
		r, err := catalog.ParseRef(ref, "Component", "default")
		if err != nil {
			return components.Link{Label: ref}
		}
		l := components.Link{Label: r.Name}
		if !strings.EqualFold(r.Namespace, catalog.DefaultNamespace) {
			l.Label = r.Namespace + "/" + r.Name
		}
		if _, ok := snap.Get(r); ok {
			l.Href = entityHref(r)
		}
		return l
	}
	links := func(refs []string) []components.Link {
		out := make([]components.Link, 0, len(refs))
		for _, r := range refs {
			out = append(out, link(r))
		}
		return out
	}
	rules := func(rs []reach.Rule) []components.NetworkRule {
		out := make([]components.NetworkRule, 0, len(rs))
		for _, r := range rs {
			out = append(out, components.NetworkRule{Policy: r.Policy, Peers: r.Peers, Ports: r.Ports, Services: links(r.Services)})
		}
		return out
	}
	for _, cl := range n.Clusters {
		r := cl.Reach
		nc := components.NetworkCluster{Name: cl.Cluster, Environment: cl.Environment, Stale: cl.Stale, Policies: cl.Policies,
			IngressPolicies: r.IngressPolicies, EgressPolicies: r.EgressPolicies, Callers: links(r.Callers), Callees: links(r.Callees),
			Admits: rules(r.Admits), Allows: rules(r.Allows)}
		for _, b := range r.Blocked {
			nc.Blocked = append(nc.Blocked, components.NetworkBlock{From: link(b.From), To: link(b.To), Why: b.Why})
		}
		vm.Clusters = append(vm.Clusters, nc)
	}
	return vm
}
