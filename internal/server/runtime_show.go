package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

// clusterService is what the server needs from the cluster caches.
type clusterService interface {
	Runtime(q cluster.Query) cluster.Runtime
	Health(q cluster.Query) cluster.Health
	Overviews() []cluster.Overview
	Subscribe(q cluster.Query) (<-chan struct{}, func())
	Logs(ctx context.Context, q cluster.Query, r cluster.LogRequest) ([]cluster.LogLine, error)
	FollowLogs(ctx context.Context, q cluster.Query, r cluster.LogRequest, emit func(cluster.LogLine) error) error
	Cluster(name string) *cluster.Cluster
	Objects(q cluster.Query, withPods bool) cluster.ServiceObjects
	CustomResources() map[string]bool
	Reach(comps []cluster.Component, only string) []cluster.ClusterReach
	Autoscaling(q cluster.Query) []cluster.ClusterAutoscaling
	Mesh(q cluster.Query) []cluster.ClusterMesh
}

// runtimeOf maps an entity to its workloads. mapped is false for entities that do not say
// where they run.
func (s *Server) runtimeOf(e *catalog.Entity) (rt cluster.Runtime, mapped bool, err error) {
	q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
	if !mapped || err != nil || s.Clusters == nil {
		return cluster.Runtime{}, mapped, err
	}
	return s.Clusters.Runtime(q), true, nil
}

func (s *Server) handleRuntimeShow(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	rt, mapped, mapErr := s.runtimeOf(rec.Entity)
	vm := components.Runtime{Mapped: mapped, Selector: rt.Selector, Health: badge(rt.Health),
		Refresh: entityHref(rec.Entity.Ref()) + "/runtime"}
	if mapErr != nil {
		vm.Error = mapErr.Error()
	}
	for _, cr := range rt.Clusters {
		vm.Clusters = append(vm.Clusters, clusterRuntimeVM(cr, entityHref(rec.Entity.Ref())+"/logs"))
	}
	return render(c, http.StatusOK, components.RuntimeView(vm))
}

func (s *Server) handleAPIRuntime(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	rt, mapped, mapErr := s.runtimeOf(rec.Entity)
	if mapErr != nil {
		return fmt.Errorf("%w: %v", derrors.Invalid, mapErr)
	}
	if !mapped {
		return fmt.Errorf("%w: %s has no backstage.io/kubernetes-id or kubernetes-label-selector annotation", derrors.NotFound, rec.Entity.Ref().Short())
	}
	if rt.Clusters == nil {
		rt.Clusters = []cluster.ClusterRuntime{}
	}
	return c.JSON(http.StatusOK, rt)
}

func badge(h cluster.Health) components.HealthBadge {
	return components.HealthBadge{Level: h.Level.String(), Reason: h.Reason}
}

func clusterRuntimeVM(cr cluster.ClusterRuntime, logsBase string) components.ClusterRuntime {
	vm := components.ClusterRuntime{Name: cr.DisplayName, Environment: cr.Environment, Health: badge(cr.Health)}
	vm.Error, vm.Stale = reachNotice(cr.Reachability)
	for _, w := range cr.Workloads {
		wv := workloadVM(w)
		logs := func(key, val string) string {
			return logsBase + "?" + url.Values{"cluster": {cr.Name}, "namespace": {w.Namespace}, key: {val}}.Encode()
		}
		wv.LogsHref = logs("workload", w.Name)
		if w.Kind == "Deployment" {
			wv.ManageHref = strings.TrimSuffix(logsBase, "/logs") + workloadPath(cr.Name, w.Namespace, w.Name)
		}
		for i := range wv.Pods {
			wv.Pods[i].LogsHref = logs("pod", wv.Pods[i].Name)
			if wv.Pods[i].Node != "" {
				wv.Pods[i].NodeHref = nodeHref(cr.Name, wv.Pods[i].Node)
			}
		}
		vm.Workloads = append(vm.Workloads, wv)
	}
	for _, s := range cr.Services {
		vm.Services = append(vm.Services, components.Field{Label: s.Namespace + "/" + s.Name, Value: s.Type + " " + s.ClusterIP + " " + strings.Join(s.Ports, ",")})
	}
	for _, i := range cr.Ingresses {
		for _, u := range i.URLs {
			vm.Ingresses = append(vm.Ingresses, components.Link{Label: u, Href: u})
		}
	}
	for _, e := range cr.Events {
		vm.Events = append(vm.Events, components.Field{Label: e.Reason, Value: fmt.Sprintf("%s: %s (×%d, %s ago)", e.Object, e.Message, e.Count, age(e.Last))})
	}
	return vm
}

// reachNotice says what a cluster's reachability means for what is shown: an error when
// nothing is cached yet, a "stale since" notice when the cache may be behind.
func reachNotice(r cluster.Reachability) (errText, stale string) {
	switch {
	case !r.Synced && r.Error != "":
		return "Cluster unreachable, nothing cached yet: " + r.Error, ""
	case !r.Synced:
		return "Connecting to the cluster…", ""
	case r.Probed && !r.Reachable:
		return "", fmt.Sprintf("Stale since %s (%s ago): the cluster is unreachable, this is its last known state. %s",
			r.StaleSince.UTC().Format("15:04:05 UTC"), time.Since(r.StaleSince).Round(time.Second), r.Error)
	}
	return "", ""
}

func workloadVM(w cluster.Workload) components.Workload {
	vm := components.Workload{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Replicas: fmt.Sprintf("%d/%d", w.Ready, w.Desired),
		Updated: w.Updated, Available: w.Available, Revision: w.Revision, Image: strings.Join(w.Images, ", "),
		Rollout: w.Rollout, RolloutReason: w.RolloutReason, Health: badge(w.Health)}
	if h := w.HPA; h != nil {
		vm.HPA = fmt.Sprintf("HPA %d→%d of %d–%d", h.Current, h.Desired, h.Min, h.Max)
		if len(h.Metrics) > 0 {
			vm.HPA += " (" + strings.Join(h.Metrics, ", ") + ")"
		}
	}
	if p := w.PDB; p != nil {
		vm.PDB = fmt.Sprintf("PDB %s: %d healthy of %d needed, %d disruptions allowed", p.Name, p.CurrentHealthy, p.DesiredHealthy, p.AllowedDisrupted)
	}
	for _, p := range w.Pods {
		row := components.PodRow{Name: p.Name, Phase: p.Phase, Node: p.Node, Age: age(p.Created), Reason: p.Reason, Ready: p.Ready, Restarts: p.Restarts}
		if p.LastTermination != "" {
			row.LastTermination = fmt.Sprintf("%s, exit %d", p.LastTermination, p.ExitCode)
		}
		vm.Pods = append(vm.Pods, row)
	}
	return vm
}

func age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// entityRowWithHealth is entityRow plus the live health of components mapped to workloads.
func (s *Server) entityRowWithHealth(r *catalog.Record) components.EntityRow {
	row := entityRow(r)
	if s.Clusters == nil || !strings.EqualFold(r.Entity.Kind, catalog.KindComponent) {
		return row
	}
	if rt, mapped, err := s.runtimeOf(r.Entity); mapped && err == nil {
		b := badge(rt.Health)
		row.Health = &b
	}
	return row
}

// Live updates batch changes: a page hears at most one "changed" event per interval, sent
// shortly after the first change so a burst (a rollout touching many pods) arrives as one.
const (
	sseBatch     = 100 * time.Millisecond
	sseMinGap    = 250 * time.Millisecond
	sseHeartbeat = 15 * time.Second
)

// handleRuntimeEvents streams server-sent "changed" events while the component's objects
// change in any cluster; the runtime panel reloads itself on each.
func (s *Server) handleRuntimeEvents(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	q, mapped, err := cluster.QueryFor(rec.Entity.Metadata.Annotations)
	if !mapped || err != nil || s.Clusters == nil {
		return c.NoContent(http.StatusNoContent) // tells EventSource not to reconnect
	}
	changed, unsubscribe := s.Clusters.Subscribe(q)
	defer unsubscribe()
	return streamChanges(c, changed)
}

// streamChanges streams server-sent "changed" events, batched, while changed fires, with
// keep-alives, until the client goes.
func streamChanges(c echo.Context, changed <-chan struct{}) error {
	w := c.Response()
	// The server's write timeout suits pages, not streams that stay open for hours.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	w.Flush()
	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	ctx := c.Request().Context()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			w.Flush()
		case <-changed:
			wait := max(sseBatch, sseMinGap-time.Since(last))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			select { // changes during the wait are covered by this event
			case <-changed:
			default:
			}
			last = time.Now()
			fmt.Fprintf(w, "event: changed\ndata: %d\n\n", last.UnixMilli())
			w.Flush()
		}
	}
}
