package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

// meshCluster is a cluster's mesh configuration with the routes' traffic, as the API
// answers it.
type meshCluster struct {
	cluster.ClusterMesh
	// Traffic is each of the component's Services' traffic by version ("" for all), from the
	// mesh's metrics, keyed "namespace/name"; absent without Prometheus or mesh metrics.
	Traffic      map[string]map[string]meshStat `json:"traffic,omitempty"`
	TrafficError string                         `json:"trafficError,omitempty"`
}

type meshStat struct {
	Rate       float64 `json:"rate"`
	Success    float64 `json:"success"`
	P95Seconds float64 `json:"p95Seconds,omitempty"`
}

// meshOf is the mesh configuration around the component in each cluster where it runs.
func (s *Server) meshOf(ctx context.Context, e *catalog.Entity) ([]meshCluster, error) {
	q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", derrors.Invalid, err)
	}
	if !mapped {
		return nil, fmt.Errorf("%w: %s has no backstage.io/kubernetes-id or kubernetes-label-selector annotation", derrors.NotFound, e.Ref().Short())
	}
	out := []meshCluster{}
	if s.Clusters == nil {
		return out, nil
	}
	for _, cm := range s.Clusters.Mesh(q) {
		mc := meshCluster{ClusterMesh: cm}
		if s.Metrics != nil && len(cm.Routes) > 0 {
			mc.Traffic = map[string]map[string]meshStat{}
			for _, svc := range cm.Services {
				ns, name, _ := strings.Cut(svc, "/")
				stats, err := s.Metrics.MeshStats(ctx, ns, name, time.Now())
				if err != nil {
					mc.TrafficError = err.Error()
					break
				}
				if len(stats) > 0 {
					mc.Traffic[svc] = map[string]meshStat{}
					for v, st := range stats {
						mc.Traffic[svc][v] = meshStat{Rate: st.Rate, Success: st.Success, P95Seconds: st.P95.Seconds()}
					}
				}
			}
		}
		out = append(out, mc)
	}
	return out, nil
}

func (s *Server) handleAPIMesh(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	m, err := s.meshOf(c.Request().Context(), rec.Entity)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clusters": m})
}

// handleMeshPanel is the runtime tab's traffic panel.
func (s *Server) handleMeshPanel(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	m, err := s.meshOf(c.Request().Context(), rec.Entity)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.MeshView(meshVM(m, s.Metrics != nil)))
}

func meshVM(ms []meshCluster, withMetrics bool) components.MeshPanel {
	vm := components.MeshPanel{Empty: "Nothing of this component runs in a configured cluster."}
	for _, m := range ms {
		c := components.MeshCluster{Name: m.Cluster, Environment: m.Environment, Served: strings.Join(m.Served, ", "), Services: m.Services}
		for _, r := range m.Routes {
			rv := components.MeshRouteView{Source: r.Source, Rule: r.Rule, Hosts: strings.Join(r.Hosts, ", "), Parents: strings.Join(r.Parents, ", "),
				Match: r.Match, Timeout: r.Timeout, Retries: r.Retries, Extras: r.Extras}
			for _, d := range r.Destinations {
				dv := components.MeshDestView{Service: d.Service, Subset: d.Subset, Port: d.Port, Weight: int(d.Weight), Ours: d.Ours}
				if st, ok := trafficOf(m, d); ok {
					dv.Rate, dv.Success = fmt.Sprintf("%.1f", st.Rate), fmt.Sprintf("%.2f%%", st.Success*100)
					dv.Failing = st.Success < 0.99
					if st.P95Seconds > 0 {
						dv.P95 = (time.Duration(st.P95Seconds * float64(time.Second))).Round(time.Millisecond).String()
					}
				}
				rv.Destinations = append(rv.Destinations, dv)
			}
			c.Routes = append(c.Routes, rv)
		}
		switch {
		case len(m.Routes) == 0:
		case !withMetrics:
			c.MetricsNote = "Prometheus is not configured: no traffic figures per route."
		case m.TrafficError != "":
			c.MetricsNote = "Traffic figures unavailable: " + m.TrafficError
		case len(m.Traffic) == 0:
			c.MetricsNote = "Prometheus has none of the mesh's request metrics (istio_requests_total) for these Services."
		}
		for _, p := range m.Policies {
			c.Policies = append(c.Policies, components.TrafficPolicyView{Source: p.Source, Host: p.Host, OutlierDetection: p.OutlierDetection,
				LoadBalancer: p.LoadBalancer, TLS: p.TLS, ConnectionPool: p.ConnectionPool, Subsets: p.Subsets})
		}
		for _, t := range m.MTLS {
			c.MTLS = append(c.MTLS, components.MTLSView{Source: t.Source, Scope: t.Scope, Mode: t.Mode, Ports: t.Ports,
				Strict: t.Mode == "STRICT" || strings.HasPrefix(t.Mode, "meshed")})
		}
		for _, a := range m.Authz {
			c.Authz = append(c.Authz, components.AuthzView{Source: a.Source, Scope: a.Scope, Action: a.Action, Rules: a.Rules})
		}
		vm.Clusters = append(vm.Clusters, c)
	}
	return vm
}

// trafficOf finds a destination's figures: its subset's version, else its whole Service.
func trafficOf(m meshCluster, d cluster.RouteDestination) (meshStat, bool) {
	byVersion, ok := m.Traffic[d.Ref]
	if !d.Ours || !ok {
		return meshStat{}, false
	}
	if d.Subset != "" && d.Version == "" {
		return meshStat{}, false // a subset whose version is not known
	}
	st, ok := byVersion[d.Version]
	return st, ok
}
