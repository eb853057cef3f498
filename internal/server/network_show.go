package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
)

// networkComponents are the catalog's components mapped to clusters, with the dependencies
// they declare: what network reach is computed over.
func networkComponents(snap *catalog.Snapshot) []cluster.NetworkComponent {
	var out []cluster.NetworkComponent
	for _, rec := range snap.Records() {
		e := rec.Entity
		if e.Kind != "Component" {
			continue
		}
		q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
		if !mapped || err != nil {
			continue
		}
		nc := cluster.NetworkComponent{Ref: e.Ref().String(), Query: q}
		for _, r := range e.Relations {
			if r.Type == catalog.RelDependsOn {
				nc.DependsOn = append(nc.DependsOn, r.Target.String())
			}
		}
		out = append(out, nc)
	}
	return out
}

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
	for _, cr := range s.Clusters.Reach(networkComponents(snap), q.Cluster) {
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
