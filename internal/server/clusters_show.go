package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/web/components"
)

// componentCache keeps the catalog's mapped components for one snapshot: parsing every
// component's selector on each request would cost more than the pages that use them.
type componentCache struct {
	mu    sync.Mutex
	snap  *catalog.Snapshot
	comps []cluster.Component
}

// components are the catalog's components mapped to clusters, with the dependencies they
// declare (for network reach), for snap.
func (s *Server) components(snap *catalog.Snapshot) []cluster.Component {
	s.comps.mu.Lock()
	defer s.comps.mu.Unlock()
	if s.comps.snap != snap {
		s.comps.snap, s.comps.comps = snap, mappedComponents(snap)
	}
	return s.comps.comps
}

// mappedComponents lists snap's components that say where they run.
func mappedComponents(snap *catalog.Snapshot) []cluster.Component {
	var out []cluster.Component
	for _, rec := range snap.Records() {
		e := rec.Entity
		if e.Kind != "Component" {
			continue
		}
		q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
		if !mapped || err != nil {
			continue
		}
		nc := cluster.Component{Ref: e.Ref().String(), Name: e.Metadata.Name, Query: q}
		for _, r := range e.Relations {
			// The target's own ref: a relation may spell it in another case.
			if dep, ok := snap.Get(r.Target); ok && r.Type == catalog.RelDependsOn {
				nc.DependsOn = append(nc.DependsOn, dep.Entity.Ref().String())
			}
		}
		out = append(out, nc)
	}
	return out
}

// clusterHref is a cluster's page; nodeHref one of its nodes'.
func clusterHref(name string) string { return "/clusters/" + name }
func nodeHref(cl, node string) string {
	return clusterHref(cl) + "/nodes/" + node
}

// clusterNamed resolves the :cluster of the URL.
func (s *Server) clusterNamed(c echo.Context) (*cluster.Cluster, error) {
	var cl *cluster.Cluster
	if s.Clusters != nil {
		cl = s.Clusters.Cluster(c.Param("cluster"))
	}
	if cl == nil {
		return nil, fmt.Errorf("%w: There is no cluster %q", derrors.NotFound, c.Param("cluster"))
	}
	return cl, nil
}

// serviceLink links a component ref the user may view; ok is false for one they may not.
func serviceLink(snap *catalog.Snapshot, sc *access.Scope, ref string) (components.Link, bool) {
	r, err := catalog.ParseRef(ref, "Component", "default")
	if err != nil {
		return components.Link{}, false
	}
	rec, found := snap.Get(r)
	if !found || !sc.Record(rec) {
		return components.Link{}, false
	}
	return components.Link{Label: rec.Entity.DisplayName(), Href: entityHref(rec.Entity.Ref())}, true
}

// clusterState is what the cluster page and its API show, from the caches.
type clusterState struct {
	Name         string                     `json:"name"`
	DisplayName  string                     `json:"displayName"`
	Environment  string                     `json:"environment,omitempty"`
	Reachability cluster.Reachability       `json:"reachability"`
	ControlPlane cluster.ControlPlane       `json:"controlPlane"`
	Nodes        []cluster.NodeSummary      `json:"nodes"`
	Events       []cluster.Event            `json:"events"`
	Namespaces   []cluster.NamespaceSummary `json:"namespaces"`
	Autoscaler   *cluster.AutoscalerStatus  `json:"autoscaler,omitempty"`
	Pods         int                        `json:"pods"`
}

// clusterStateOf reads a cluster's state; namespaces list only the services sc may view
// (with a count of the others).
func (s *Server) clusterStateOf(cl *cluster.Cluster, snap *catalog.Snapshot, sc *access.Scope) (clusterState, map[string]int) {
	st := clusterState{Name: cl.Name, DisplayName: cl.DisplayName, Environment: cl.Environment, Reachability: cl.Reachability(),
		ControlPlane: cl.ControlPlane(time.Now()), Nodes: cl.Nodes(), Events: cl.WarningEvents(30), Namespaces: cl.Namespaces(s.components(snap)),
		Autoscaler: cl.Autoscaler()}
	hidden := map[string]int{}
	for i, ns := range st.Namespaces {
		st.Pods += ns.Pods
		visible := ns.Services[:0:0]
		for _, ref := range ns.Services {
			if sc.RefString(ref) {
				visible = append(visible, ref)
			} else {
				hidden[ns.Name]++
			}
		}
		st.Namespaces[i].Services = visible
	}
	return st, hidden
}

func (s *Server) handleClusterShow(c echo.Context) error {
	cl, err := s.clusterNamed(c)
	if err != nil {
		return err
	}
	snap := s.Catalog.Snapshot()
	st, hidden := s.clusterStateOf(cl, snap, s.scope(c, snap))
	vm := components.ClusterPage{Name: cl.Name, DisplayName: cl.DisplayName, Environment: cl.Environment, Version: st.Reachability.Version,
		Live: clusterLiveVM(cl.Name, snap, s.scope(c, snap), st, hidden)}
	if s.Metrics != nil {
		vm.APIServerURL = clusterHref(cl.Name) + "/apiserver"
	}
	r := st.Reachability
	vm.OK, vm.Reachability = r.Reachable, "API reachable"
	switch {
	case !r.Probed:
		vm.Reachability = "connecting"
	case !r.Reachable:
		vm.Reachability = "API unreachable"
	}
	vm.Error, vm.Stale = reachNotice(r)
	return s.page(c, http.StatusOK, components.Page{Title: "Cluster " + cl.DisplayName, Nav: "clusters"}, components.ClusterView(vm))
}

// handleClusterLive is the cluster page's part that reloads itself.
func (s *Server) handleClusterLive(c echo.Context) error {
	cl, err := s.clusterNamed(c)
	if err != nil {
		return err
	}
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	st, hidden := s.clusterStateOf(cl, snap, sc)
	return render(c, http.StatusOK, components.ClusterLiveView(clusterLiveVM(cl.Name, snap, sc, st, hidden)))
}

func (s *Server) handleAPICluster(c echo.Context) error {
	cl, err := s.clusterNamed(c)
	if err != nil {
		return err
	}
	snap := s.Catalog.Snapshot()
	st, _ := s.clusterStateOf(cl, snap, s.scope(c, snap))
	return c.JSON(http.StatusOK, st)
}

// handleAPIClusters lists the clusters with their overviews.
func (s *Server) handleAPIClusters(c echo.Context) error {
	out := []cluster.Overview{}
	if s.Clusters != nil {
		out = append(out, s.Clusters.Overviews()...)
	}
	return c.JSON(http.StatusOK, map[string]any{"clusters": out})
}

func clusterLiveVM(name string, snap *catalog.Snapshot, sc *access.Scope, st clusterState, hidden map[string]int) components.ClusterLive {
	vm := components.ClusterLive{URL: clusterHref(name) + "/live", ControlPlane: badge(st.ControlPlane.Health), ChecksError: st.ControlPlane.ChecksError,
		LeasesError: st.ControlPlane.LeasesError, Pods: st.Pods}
	if !st.ControlPlane.CheckedAt.IsZero() {
		vm.CheckedAgo = age(st.ControlPlane.CheckedAt)
	}
	for _, hc := range st.ControlPlane.Checks {
		vm.Checks = append(vm.Checks, components.CheckRow{Endpoint: hc.Endpoint, Name: hc.Name, OK: hc.OK, Message: hc.Message})
		if !hc.OK {
			vm.ChecksFailed++
		}
	}
	for _, l := range st.ControlPlane.Leases {
		row := components.LeaseRow{Component: l.Component, Holder: l.Holder, State: l.State, Transitions: l.Transitions}
		if !l.Renewed.IsZero() {
			row.Renewed, row.Duration = l.Age.String(), l.Duration.String()
		}
		vm.Leases = append(vm.Leases, row)
	}
	for _, n := range st.Nodes {
		vm.Nodes = append(vm.Nodes, nodeRow(name, n))
		if n.Ready == "True" {
			vm.NodesReady++
		}
		if n.Unschedulable {
			vm.Cordoned++
		}
	}
	vm.Events = eventRows(st.Events)
	for _, ns := range st.Namespaces {
		row := components.NamespaceRow{Name: ns.Name, Phase: ns.Phase, Pods: ns.Pods, Hidden: hidden[ns.Name]}
		for _, ref := range ns.Services {
			if l, ok := serviceLink(snap, sc, ref); ok {
				row.Services = append(row.Services, l)
			}
		}
		vm.Namespaces = append(vm.Namespaces, row)
	}
	if a := st.Autoscaler; a != nil {
		vm.Autoscaler = autoscalerVM(*a)
	}
	return vm
}

func eventRows(events []cluster.Event) []components.EventRow {
	out := make([]components.EventRow, 0, len(events))
	for _, e := range events {
		out = append(out, components.EventRow{Object: e.Object, Namespace: e.Namespace, Reason: e.Reason, Message: e.Message, Count: e.Count, Ago: age(e.Last)})
	}
	return out
}

func usage(a cluster.Allocation, text func(int64) string) components.Usage {
	return components.Usage{Text: fmt.Sprintf("%s / %s (%d%%)", text(a.Requested), text(a.Allocatable), a.Percent), Percent: a.Percent}
}

func nodeRow(clusterName string, n cluster.NodeSummary) components.NodeRow {
	return components.NodeRow{Name: n.Name, Href: nodeHref(clusterName, n.Name), Health: badge(n.Health), Problems: n.Problems,
		Cordoned: n.Unschedulable, Taints: n.Taints, Roles: n.Roles, Kubelet: n.KubeletVersion, CPU: usage(n.CPU, cluster.FormatMillicores),
		Memory: usage(n.Memory, cluster.FormatBytes), Pods: fmt.Sprintf("%d / %d", n.Pods, n.PodCapacity), Age: age(n.Created)}
}

// handleAPIServerPanel charts the cluster's API server from Prometheus.
func (s *Server) handleAPIServerPanel(c echo.Context) error {
	cl, err := s.clusterNamed(c)
	if err != nil {
		return err
	}
	r := metrics.RangeNamed(c.QueryParam("range"))
	charts := s.Metrics.ChartsOf(c.Request().Context(), metrics.APIServerCharts, metrics.Target{Name: cl.Name, Labels: cl.APIServerMetrics}, r, time.Now())
	base := clusterHref(cl.Name) + "/apiserver"
	vm := components.MetricsPanel{URL: base, ID: "apiserver", Title: "API server requests"}
	for _, x := range metrics.Ranges {
		vm.Ranges = append(vm.Ranges, components.RangeLink{Label: x.Name, Href: base + "?range=" + x.Name, Active: x.Name == r.Name})
	}
	vm.Charts = s.chartsVM(charts, r)
	return render(c, http.StatusOK, components.MetricsView(vm))
}

// chartsVM lays out charts for display.
func (s *Server) chartsVM(charts []metrics.Chart, r metrics.Range) []components.Chart {
	out := make([]components.Chart, 0, len(charts))
	for _, ch := range charts {
		in := chart.Input{Title: ch.Title, Unit: ch.Unit, Start: ch.Start, End: ch.End, Step: r.Step, Err: ch.Err}
		if len(ch.Queries) > 0 {
			in.Href = s.Metrics.GraphURL(ch.Queries, r)
		}
		for _, se := range ch.Series {
			cs := chart.Series{Name: se.Name, Points: make([]chart.Point, len(se.Points))}
			for i, p := range se.Points {
				cs.Points[i] = chart.Point{T: p.T, V: p.V}
			}
			in.Series = append(in.Series, cs)
		}
		out = append(out, chart.Layout(in))
	}
	return out
}

// nodeOf resolves the :cluster and :node of the URL against the caches.
func (s *Server) nodeOf(c echo.Context) (*cluster.Cluster, cluster.NodeDetail, error) {
	cl, err := s.clusterNamed(c)
	if err != nil {
		return nil, cluster.NodeDetail{}, err
	}
	snap := s.Catalog.Snapshot()
	d, ok := cl.Node(c.Param("node"), cl.ServiceOfPod(s.components(snap)))
	if !ok {
		if !cl.Synced() {
			return cl, d, fmt.Errorf("%w: The caches of cluster %s are not synced yet (it may be unreachable); try again shortly", derrors.Unavailable, cl.Name)
		}
		return cl, d, fmt.Errorf("%w: Cluster %s has no node %q", derrors.NotFound, cl.Name, c.Param("node"))
	}
	return cl, d, nil
}

// visiblePods keeps the node's pods the user may see: those of services they may view,
// and, for users who view everything, the pods of no service too.
func visiblePods(snap *catalog.Snapshot, sc *access.Scope, d *cluster.NodeDetail) int {
	hidden := 0
	kept := d.PodsOn[:0:0]
	for _, p := range d.PodsOn {
		if p.Service != "" {
			if sc.RefString(p.Service) {
				kept = append(kept, p)
				continue
			}
		} else if sc.All() {
			kept = append(kept, p)
			continue
		}
		hidden++
	}
	d.PodsOn = kept
	return hidden
}

func (s *Server) handleAPINode(c echo.Context) error {
	cl, d, err := s.nodeOf(c)
	if err != nil {
		return err
	}
	snap := s.Catalog.Snapshot()
	hidden := visiblePods(snap, s.scope(c, snap), &d)
	return c.JSON(http.StatusOK, map[string]any{"cluster": cl.Name, "node": d, "hiddenPods": hidden})
}

func (s *Server) handleNodeShow(c echo.Context) error {
	cl, d, err := s.nodeOf(c)
	if err != nil {
		return err
	}
	vm := s.nodeVM(c, cl, d)
	if id, err := strconv.Atoi(c.QueryParam("done")); err == nil && s.Audit != nil {
		if e, err := s.Audit.Get(c.Request().Context(), id); err == nil && e.Kind == "Node" && e.Name == d.Name && e.Cluster == cl.Name {
			vm.Flash = doneFlash(e, c.QueryParam("again") != "")
		}
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Node " + d.Name, Nav: "clusters"}, components.NodeView(vm))
}

func (s *Server) nodeVM(c echo.Context, cl *cluster.Cluster, d cluster.NodeDetail) components.NodePage {
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	hidden := visiblePods(snap, sc, &d)
	vm := components.NodePage{Cluster: components.Link{Label: cl.DisplayName, Href: clusterHref(cl.Name)}, Environment: cl.Environment,
		Production: s.actions.ProductionEnvironment(cl.Environment), Node: nodeRow(cl.Name, d.NodeSummary), Addresses: d.Addresses, OS: d.OS,
		Runtime: d.Runtime, Labels: d.Labels, HiddenPods: hidden, Events: eventRows(d.Events)}
	vm.CSRF, _ = c.Get("csrf").(string)
	for _, cond := range d.Conditions {
		row := components.ConditionRow{Type: cond.Type, Status: cond.Status, Reason: cond.Reason, Message: cond.Message, Bad: cond.Bad}
		if !cond.Since.IsZero() {
			row.Since = age(cond.Since) + " ago"
		}
		vm.Conditions = append(vm.Conditions, row)
	}
	for _, p := range d.PodsOn {
		row := components.NodePodRow{Namespace: p.Namespace, Name: p.Name, Owner: p.Owner, Phase: p.Phase, Ready: p.Ready, Restarts: p.Restarts,
			Reason: p.Reason, CPU: cluster.FormatMillicores(p.CPU), Memory: cluster.FormatBytes(p.Memory)}
		if l, ok := serviceLink(snap, sc, p.Service); ok {
			row.Service = l
		}
		vm.Pods = append(vm.Pods, row)
	}
	if d.CordonAudit != "" && s.Audit != nil {
		vm.CordonAudit = components.Link{Label: "audit entry " + d.CordonAudit, Href: "/audit/" + d.CordonAudit}
	}
	a := components.NodeAction{Name: actions.NodeCordon, Verb: "Cordon", Key: newFormKey()}
	if d.Unschedulable {
		a.Name, a.Verb = actions.NodeUncordon, "Uncordon"
	}
	a.Post = nodeHref(cl.Name, d.Name) + "/" + a.Name
	a.NeedReason, a.NeedName = s.actions.NodeConfirmation(cl.Environment)
	dec := s.decide(c.Request().Context(), policy.Cordon, nodeTarget(cl, d.Name))
	a.Allowed, a.Why = dec.Allowed, dec.Reason
	vm.Action = a
	return vm
}

func nodeTarget(cl *cluster.Cluster, node string) policy.Target {
	return policy.Target{Service: "node " + node, Cluster: cl.Name, Environment: cl.Environment}
}

// nodeAction hands a cordon or uncordon to the write path.
func (s *Server) nodeAction(c echo.Context, cl *cluster.Cluster, d cluster.NodeDetail, in nodeInput) (actions.Outcome, error) {
	ch, viaAgent := channel(c)
	out, err := s.actions.Node(c.Request().Context(), actions.NodeRequest{Actor: s.actor(c.Request().Context()), Cluster: cl, ClusterName: cl.Name,
		Environment: cl.Environment, Node: d.Name, Unschedulable: d.Unschedulable, Action: c.Param("action"), Reason: in.Reason,
		Confirm: in.Confirm, Key: in.Key, Invalid: in.invalid, RequestID: c.Response().Header().Get(echo.HeaderXRequestID), SourceIP: c.RealIP(),
		Channel: ch, Agent: viaAgent})
	result := string(out.Entry.Result)
	if result == "" {
		result = "not recorded"
	}
	s.actionsDone.WithLabelValues(c.Param("action"), result).Inc()
	return out, err
}

// nodeInput is a node action's fields.
type nodeInput struct {
	Reason  string `json:"reason,omitempty"`
	Confirm string `json:"confirm,omitempty"`
	Key     string `json:"-"`
	invalid error
}

func (s *Server) handleNodeAction(c echo.Context) error {
	cl, d, err := s.nodeOf(c)
	if err != nil {
		return err
	}
	in := nodeInput{Reason: strings.TrimSpace(c.FormValue("reason")), Confirm: strings.TrimSpace(c.FormValue("confirm")), Key: c.FormValue("key")}
	out, err := s.nodeAction(c, cl, d, in)
	if err != nil {
		status, title, msg := classify(err)
		if status == http.StatusInternalServerError {
			return err
		}
		vm := s.nodeVM(c, cl, d)
		vm.Flash = &components.Flash{Kind: "error", Title: title, Message: msg}
		return s.page(c, status, components.Page{Title: "Node " + d.Name, Nav: "clusters"}, components.NodeView(vm))
	}
	to := nodeHref(cl.Name, d.Name) + "?done=" + strconv.Itoa(out.Entry.ID)
	if out.Duplicate {
		to += "&again=1"
	}
	return c.Redirect(http.StatusSeeOther, to)
}

func (s *Server) handleAPINodeAction(c echo.Context) error {
	cl, d, err := s.nodeOf(c)
	if err != nil {
		return err
	}
	var in nodeInput
	if c.Request().ContentLength != 0 {
		dec := json.NewDecoder(c.Request().Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			in.invalid = fmt.Errorf("%w: The body must be a JSON object with reason and confirm: %v", derrors.Invalid, err)
		}
	}
	in.Key = c.Request().Header.Get("Idempotency-Key")
	out, err := s.nodeAction(c, cl, d, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func autoscalerVM(a cluster.AutoscalerStatus) *components.AutoscalerStatus {
	vm := &components.AutoscalerStatus{Raw: a.Raw, Health: components.HealthBadge{Level: "unknown", Reason: a.Problem}}
	switch a.Health {
	case "Healthy":
		vm.Health.Level = "healthy"
	case "Unhealthy":
		vm.Health.Level = "degraded"
	}
	if !a.Updated.IsZero() {
		vm.Updated = age(a.Updated) + " ago"
	}
	if a.Raw == "" {
		vm.NodeGroups = append(vm.NodeGroups, components.AutoscalerGroup{Name: "whole cluster", Health: a.Health, Ready: a.Ready, ScaleUp: a.ScaleUp, ScaleDown: a.ScaleDown})
	}
	for _, g := range a.NodeGroups {
		vm.NodeGroups = append(vm.NodeGroups, components.AutoscalerGroup{Name: g.Name, Health: g.Health, Ready: g.Ready, Size: g.Size, ScaleUp: g.ScaleUp, ScaleDown: g.ScaleDown})
	}
	for _, e := range a.Events {
		vm.Recent = append(vm.Recent, components.Field{Label: e.Reason, Value: fmt.Sprintf("%s (%s ago)", e.Message, age(e.Last))})
	}
	return vm
}
