package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/graph"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/traces"
	"github.com/portico-dev/portico/web/components"
)

// metricsService is what the server needs from Prometheus.
type metricsService interface {
	Charts(ctx context.Context, t metrics.Target, r metrics.Range, now time.Time) []metrics.Chart
	GraphURL(queries []string, r metrics.Range) string
}

// alertService is what the server needs from Prometheus' and Alertmanager's alerts.
type alertService interface {
	All(ctx context.Context) alerts.Result
}

// traceService is what the server needs from Jaeger.
type traceService interface {
	Find(ctx context.Context, q traces.Query) ([]traces.Summary, error)
	Get(ctx context.Context, id string) (*traces.Trace, error)
	Operations(ctx context.Context, service string) ([]string, error)
	Dependencies(ctx context.Context, lookback time.Duration) ([]traces.Link, error)
	UIURL(traceID string) string
	Budget() time.Duration
}

// observes reports whether an entity gets the observability panels: components, which run.
func observes(e *catalog.Entity) bool { return strings.EqualFold(e.Kind, catalog.KindComponent) }

func (s *Server) observeVM(e *catalog.Entity) components.Observe {
	var o components.Observe
	if !observes(e) {
		return o
	}
	base := entityHref(e.Ref())
	if s.Metrics != nil {
		o.MetricsURL = base + "/metrics"
	}
	if s.Alerts != nil {
		o.AlertsURL = base + "/alerts"
	}
	if s.Traces != nil {
		o.TracesURL, o.DepsURL = base+"/traces?panel=1", base+"/dependencies"
	}
	if s.Pipelines != nil {
		o.PipelinesURL, o.DoraURL = base+"/pipelines", base+"/dora"
	}
	return o
}

// observedEntity resolves the path's entity and checks it may be viewed and observed.
func (s *Server) observedEntity(c echo.Context, configured bool, what string) (*catalog.Snapshot, *catalog.Record, error) {
	if !configured {
		return nil, nil, fmt.Errorf("%w: No %s backend is configured", derrors.NotFound, what)
	}
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return nil, nil, err
	}
	if !observes(rec.Entity) {
		return nil, nil, fmt.Errorf("%w: Only components have %s", derrors.NotFound, what)
	}
	return snap, rec, nil
}

func (s *Server) metricsTarget(e *catalog.Entity) metrics.Target {
	name, prom := e.ServiceName(), e.Prometheus()
	t := metrics.Target{Name: name, Namespace: e.KubernetesNamespace(), Labels: metrics.LabelMatchers(prom.Labels, name), Rules: metrics.ParseRules(prom.Rules)}
	if rt, mapped, err := s.runtimeOf(e); mapped && err == nil {
		for _, cr := range rt.Clusters {
			for _, w := range cr.Workloads {
				if t.Namespace == "" {
					t.Namespace = w.Namespace
				}
				for _, p := range w.Pods {
					t.Pods = append(t.Pods, p.Name)
				}
			}
		}
	}
	return t
}

func (s *Server) handleMetricsPanel(c echo.Context) error {
	_, rec, err := s.observedEntity(c, s.Metrics != nil, "metrics")
	if err != nil {
		return err
	}
	r := metrics.RangeNamed(c.QueryParam("range"))
	charts := s.Metrics.Charts(c.Request().Context(), s.metricsTarget(rec.Entity), r, time.Now())
	base := entityHref(rec.Entity.Ref()) + "/metrics"
	vm := components.MetricsPanel{URL: base}
	for _, x := range metrics.Ranges {
		vm.Ranges = append(vm.Ranges, components.RangeLink{Label: x.Name, Href: base + "?range=" + x.Name, Active: x.Name == r.Name})
	}
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
		vm.Charts = append(vm.Charts, chart.Layout(in))
	}
	return render(c, http.StatusOK, components.MetricsView(vm))
}

func (s *Server) handleAPIMetrics(c echo.Context) error {
	_, rec, err := s.observedEntity(c, s.Metrics != nil, "metrics")
	if err != nil {
		return err
	}
	r := metrics.RangeNamed(c.QueryParam("range"))
	return c.JSON(http.StatusOK, map[string]any{"range": r.Name, "step": r.Step.String(),
		"charts": s.Metrics.Charts(c.Request().Context(), s.metricsTarget(rec.Entity), r, time.Now())})
}

func matcherOf(e *catalog.Entity) alerts.Matcher {
	prom := e.Prometheus()
	return alerts.MatcherFor(prom.Alerts, prom.Labels, e.ServiceName())
}

func (s *Server) alertRow(a alerts.Alert) components.AlertRow {
	r := components.AlertRow{Name: a.Name, State: a.State, Severity: orDefault(a.Severity, "none"), Summary: a.Summary, Description: a.Description,
		Silenced: a.Silenced, Inhibited: a.Inhibited, GeneratorURL: a.GeneratorURL}
	if !a.Since.IsZero() {
		r.Since, r.SinceISO = age(a.Since)+" ago", a.Since.UTC().Format(time.RFC3339)
	}
	var extra []string
	for k, v := range a.Labels {
		if k != "alertname" && k != "severity" {
			extra = append(extra, k+"="+v)
		}
	}
	sort.Strings(extra)
	r.Labels = strings.Join(extra, " ")
	if a.RunbookURL != "" && catalog.LinkURL(a.RunbookURL) { // alert annotations are data, not markup
		r.Runbook = components.Link{Label: "runbook", Href: a.RunbookURL}
		r.RunbookExternal = true
		if u, err := url.Parse(a.RunbookURL); err == nil && strings.HasPrefix(u.Path, "/runbooks/") {
			if b, ok := s.Runbooks.Get(strings.TrimPrefix(u.Path, "/runbooks/")); ok {
				r.Runbook = components.Link{Label: b.Title, Href: "/runbooks/" + b.Path}
				r.RunbookExternal = false
			}
		}
	}
	return r
}

func (s *Server) handleAlertsPanel(c echo.Context) error {
	_, rec, err := s.observedEntity(c, s.Alerts != nil, "alerts")
	if err != nil {
		return err
	}
	res := s.Alerts.All(c.Request().Context())
	vm := components.AlertsPanel{Errors: res.Errors}
	for _, a := range matcherOf(rec.Entity).Filter(res.Alerts) {
		vm.Rows = append(vm.Rows, s.alertRow(a))
	}
	if prom := rec.Entity.Prometheus(); prom.Alerts == "" && prom.Labels == "" {
		vm.Hint = "Alerts are matched by the label service=\"" + rec.Entity.ServiceName() + "\"; set prometheus.io/alert or prometheus.io/labels to choose others."
	}
	return render(c, http.StatusOK, components.AlertsView(vm))
}

func (s *Server) handleAPIAlerts(c echo.Context) error {
	_, rec, err := s.observedEntity(c, s.Alerts != nil, "alerts")
	if err != nil {
		return err
	}
	res := s.Alerts.All(c.Request().Context())
	items := matcherOf(rec.Entity).Filter(res.Alerts)
	if items == nil {
		items = []alerts.Alert{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "errors": res.Errors})
}

// handleAlertsPage is "firing now": every alert, grouped by the team owning its service.
func (s *Server) handleAlertsPage(c echo.Context) error {
	if s.Alerts == nil {
		return fmt.Errorf("%w: No Prometheus or Alertmanager is configured (observability.prometheus, observability.alertmanager)", derrors.NotFound)
	}
	snap := s.Catalog.Snapshot()
	res := s.Alerts.All(c.Request().Context())
	type svc struct {
		rec *catalog.Record
		m   alerts.Matcher
	}
	var svcs []svc
	for _, r := range snap.Records() {
		if observes(r.Entity) {
			svcs = append(svcs, svc{r, matcherOf(r.Entity)})
		}
	}
	vm := components.AlertsPage{Errors: res.Errors}
	groups := map[string]*components.AlertGroup{}
	var order []string
	sc := s.scope(c, snap)
	for _, a := range res.Alerts {
		var owner *catalog.Record
		for _, x := range svcs {
			if x.m.Matches(a) {
				owner = x.rec
				break
			}
		}
		// Alerts of services the user may not view are left out, and so are alerts of no
		// catalog service unless the user may view everything.
		if owner == nil && !sc.All() || owner != nil && !sc.Record(owner) {
			continue
		}
		switch {
		case a.Silenced:
			vm.Silenced++
		case a.State == "firing":
			vm.Firing++
		default:
			vm.Pending++
		}
		row := s.alertRow(a)
		team := components.Link{Label: "No owning service in the catalog"}
		if owner != nil {
			row.Service = components.Link{Label: owner.Entity.DisplayName(), Href: entityHref(owner.Entity.Ref())}
			team = components.Link{Label: targetOf(snap, owner.Entity, "", "", "").Owner}
			for _, o := range snap.Related(owner.Entity, catalog.RelOwnedBy) {
				team = components.Link{Label: o.Entity.DisplayName(), Href: entityHref(o.Entity.Ref())}
			}
		}
		if row.Service.Label == "" {
			row.Service.Label = a.Labels["service"]
		}
		g, ok := groups[team.Label]
		if !ok {
			g = &components.AlertGroup{Team: team}
			groups[team.Label] = g
			order = append(order, team.Label)
		}
		g.Rows = append(g.Rows, row)
	}
	for _, k := range order {
		vm.Groups = append(vm.Groups, *groups[k])
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Firing now", Nav: "alerts"}, components.AlertsPageView(vm))
}

// handleTraces is a service's traces: recent, slowest or failed, filterable by operation and
// minimum duration. With panel=1 it is the entity page's panel, otherwise a page.
func (s *Server) handleTraces(c echo.Context) error {
	_, rec, err := s.observedEntity(c, s.Traces != nil, "traces")
	if err != nil {
		return err
	}
	panel := c.QueryParam("panel") != ""
	service, lookback := rec.Entity.JaegerService()
	base := entityHref(rec.Entity.Ref()) + "/traces"
	tab := c.QueryParam("tab")
	if tab != "slowest" && tab != "failed" {
		tab = "recent"
	}
	vm := components.TracesPanel{Service: service, Tab: tab, Operation: c.QueryParam("operation"), MinDuration: c.QueryParam("minDuration"),
		AllHref: base, Action: base, Full: !panel}
	for _, t := range []string{"recent", "slowest", "failed"} {
		v := url.Values{"tab": {t}}
		if vm.Operation != "" {
			v.Set("operation", vm.Operation)
		}
		if vm.MinDuration != "" {
			v.Set("minDuration", vm.MinDuration)
		}
		vm.Tabs = append(vm.Tabs, components.RangeLink{Label: t, Href: base + "?" + v.Encode(), Active: t == tab})
	}
	q := traces.Query{Service: service, Operation: vm.Operation, Lookback: lookback, Limit: 20, Order: tab, ErrorsOnly: tab == "failed"}
	if panel {
		q.Limit = 8
	}
	if vm.MinDuration != "" {
		d, err := time.ParseDuration(vm.MinDuration)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: Minimum duration %q is not a duration like 250ms or 2s", derrors.Invalid, vm.MinDuration)
		}
		q.MinDuration = d
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.Traces.Budget())
	defer cancel()
	found, err := s.Traces.Find(ctx, q)
	if err != nil {
		vm.Err = traces.Explain(err, s.Traces.Budget())
	}
	if !panel && err == nil {
		vm.Operations, _ = s.Traces.Operations(ctx, service)
	}
	var longest time.Duration
	for _, t := range found {
		longest = max(longest, t.Duration)
	}
	from := url.QueryEscape(entityHref(rec.Entity.Ref()))
	for _, t := range found {
		row := components.TraceRow{ID: t.ID, Root: t.Root, Start: t.Start.UTC().Format("15:04:05"), Duration: fmtDuration(t.Duration),
			Spans: t.Spans, Errors: t.Errors, Services: strings.Join(t.Services, ", "), Href: "/traces/" + t.ID + "?from=" + from}
		if longest > 0 {
			row.Bar = float64(t.Duration) / float64(longest) * 100
		}
		vm.Rows = append(vm.Rows, row)
	}
	if panel {
		return render(c, http.StatusOK, components.TracesView(vm))
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Traces of " + rec.Entity.DisplayName(), Nav: "catalog"}, components.TracesView(vm))
}

func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= 48*time.Hour:
		return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " d"
	case d >= 3*time.Hour && d%time.Hour != 0:
		return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
}

// handleTrace is a trace's waterfall page.
func (s *Server) handleTrace(c echo.Context) error {
	if s.Traces == nil {
		return fmt.Errorf("%w: No Jaeger is configured (observability.jaeger)", derrors.NotFound)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.Traces.Budget())
	defer cancel()
	t, err := s.Traces.Get(ctx, c.Param("id"))
	if err != nil {
		msg := traces.Explain(err, s.Traces.Budget())
		if strings.HasPrefix(msg, "no such trace") || strings.Contains(err.Error(), "is not a trace ID") {
			return fmt.Errorf("%w: %s", derrors.NotFound, strings.TrimPrefix(msg, "Jaeger: "))
		}
		return fmt.Errorf("%w: %s", derrors.Unavailable, msg)
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Trace " + t.ID, Nav: "catalog"}, components.TraceView(traceVM(t, s.Traces.UIURL(t.ID), c.QueryParam("from"))))
}

func (s *Server) handleAPITrace(c echo.Context) error {
	if s.Traces == nil {
		return fmt.Errorf("%w: No Jaeger is configured", derrors.NotFound)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.Traces.Budget())
	defer cancel()
	t, err := s.Traces.Get(ctx, c.Param("id"))
	if err != nil {
		return fmt.Errorf("%w: %s", derrors.Unavailable, traces.Explain(err, s.Traces.Budget()))
	}
	return c.JSON(http.StatusOK, t)
}

// traceVM lays the waterfall out on a 0..1000 axis.
func traceVM(t *traces.Trace, jaegerURL, from string) components.TracePage {
	vm := components.TracePage{ID: t.ID, Start: t.Start.UTC().Format("2006-01-02 15:04:05.000 UTC"), Duration: fmtDuration(t.Duration),
		Spans: len(t.Spans), Errors: t.Errors, JaegerHref: jaegerURL}
	if strings.HasPrefix(from, "/catalog/") {
		vm.Back = components.Link{Label: "back to the service", Href: from}
	}
	for i := 0; i <= 4; i++ {
		vm.Ticks = append(vm.Ticks, components.Tick{Pos: float64(i) * 250, Label: fmtDuration(t.Duration * time.Duration(i) / 4)})
	}
	seen := map[int]bool{}
	for _, r := range traces.Waterfall(t) {
		class := "series-" + strconv.Itoa(r.ServiceIndex%8)
		if !seen[r.ServiceIndex] {
			seen[r.ServiceIndex] = true
			vm.Services = append(vm.Services, components.LegendItem{Name: r.Service, Class: class})
		}
		row := components.SpanRow{ID: r.ID, Service: r.Service, Operation: r.Operation, Duration: fmtDuration(r.Duration),
			StartOffset: fmtDuration(r.Start.Sub(t.Start)), Depth: r.Depth, X: r.Offset * 1000, W: r.Width * 1000, Class: class, Error: r.Error}
		for _, kv := range r.Tags {
			row.Tags = append(row.Tags, components.Field{Label: kv.Key, Value: kv.Value})
		}
		for _, ev := range r.Events {
			var parts []string
			for _, f := range ev.Fields {
				parts = append(parts, f.Key+"="+f.Value)
			}
			row.Events = append(row.Events, components.Field{Label: "+" + fmtDuration(ev.Time.Sub(t.Start)), Value: strings.Join(parts, " ")})
		}
		vm.Rows = append(vm.Rows, row)
	}
	return vm
}

// handleDependencies compares the calls Jaeger saw with the catalog's dependsOn.
func (s *Server) handleDependencies(c echo.Context) error {
	snap, rec, err := s.observedEntity(c, s.Traces != nil, "traces")
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
	m := depMap(snap, s.scope(c, snap), rec.Entity, service, links)
	m.Lookback = vm.Lookback
	return render(c, http.StatusOK, components.DepMapView(m))
}

// depMap draws callers → service → callees with call counts; a call the catalog does not
// declare is red, a declared dependency with no calls is dashed.
// Services the user may not view are drawn as "hidden".
func depMap(snap *catalog.Snapshot, sc *access.Scope, e *catalog.Entity, service string, links []traces.Link) components.DepMap {
	byService := map[string]*catalog.Record{}
	for _, r := range snap.Records() {
		if observes(r.Entity) {
			name, _ := r.Entity.JaegerService()
			byService[name] = r
		}
	}
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

// RenderTrace writes a trace's waterfall page body, for the benchmark.
func RenderTrace(w io.Writer, t *traces.Trace) error {
	return components.TraceView(traceVM(t, "", "")).Render(context.Background(), w)
}
