package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/traces"
	"github.com/portico-dev/portico/web/components"
)

// handleTraces is a service's traces: recent, slowest or failed, filterable by operation and
// minimum duration. With panel=1 it is the entity page's panel, otherwise a page.
func (s *Server) handleTraces(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "traces")
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
	q, err := traceQuery(service, lookback, tab, vm.Operation, vm.MinDuration)
	if err != nil {
		return err
	}
	if panel {
		q.Limit = 8
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
	from := entityHref(rec.Entity.Ref())
	for _, t := range found {
		row := components.TraceRow{ID: t.ID, Root: t.Root, Start: t.Start.UTC().Format("15:04:05"), Duration: fmtDuration(t.Duration),
			Spans: t.Spans, Errors: t.Errors, Services: strings.Join(t.Services, ", "), Href: traceHref(t.ID, from)}
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

// traceQuery is a service's traces in one order (recent, slowest or failed), of an operation
// and at least a duration when given.
func traceQuery(service string, lookback time.Duration, order, operation, minDuration string) (traces.Query, error) {
	q := traces.Query{Service: service, Operation: operation, Lookback: lookback, Limit: 20, Order: order, ErrorsOnly: order == "failed"}
	if minDuration != "" {
		d, err := time.ParseDuration(minDuration)
		if err != nil || d < 0 {
			return q, fmt.Errorf("%w: Minimum duration %q is not a duration like 250ms or 2s", derrors.Invalid, minDuration)
		}
		q.MinDuration = d
	}
	return q, nil
}

// handleAPITraces is GET /api/v1/entities/…/traces?order=recent|slowest|failed[&operation=…]
// [&minDuration=…][&limit=…]: the service's traces, summarised.
func (s *Server) handleAPITraces(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "traces")
	if err != nil {
		return err
	}
	order := orDefault(c.QueryParam("order"), "recent")
	if order != "recent" && order != "slowest" && order != "failed" {
		return fmt.Errorf("%w: order must be recent, slowest or failed", derrors.Invalid)
	}
	service, lookback := rec.Entity.JaegerService()
	q, err := traceQuery(service, lookback, order, c.QueryParam("operation"), c.QueryParam("minDuration"))
	if err != nil {
		return err
	}
	if q.Limit, err = parsePositive(c.QueryParams(), "limit", 20, 50); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.Traces.Budget())
	defer cancel()
	found, err := s.Traces.Find(ctx, q)
	if err != nil {
		return fmt.Errorf("%w: %s", derrors.Unavailable, traces.Explain(err, s.Traces.Budget()))
	}
	if found == nil {
		found = []traces.Summary{}
	}
	return c.JSON(http.StatusOK, api.Traces{Service: service, Order: order, Items: found})
}

// handleAPICriticalPath is GET /api/v1/traces/:id/critical-path.
func (s *Server) handleAPICriticalPath(c echo.Context) error {
	t, err := s.traceOf(c)
	if err != nil {
		return err
	}
	segs, contrib := traces.CriticalPath(t)
	out := api.CriticalPath{TraceID: t.ID, Start: t.Start, Duration: t.Duration, Services: t.Services, Errors: t.Errors,
		Segments: segs, Contributors: contrib}
	if out.Segments == nil {
		out.Segments, out.Contributors = []traces.Segment{}, []traces.Contributor{}
	}
	if out.Services == nil {
		out.Services = []string{}
	}
	return c.JSON(http.StatusOK, out)
}

// traceOf reads the trace named in the URL; an unknown ID is not found, Jaeger down unavailable.
func (s *Server) traceOf(c echo.Context) (*traces.Trace, error) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.Traces.Budget())
	defer cancel()
	t, err := s.Traces.Get(ctx, c.Param("id"))
	if err != nil {
		msg := traces.Explain(err, s.Traces.Budget())
		if strings.HasPrefix(msg, "no such trace") || strings.Contains(err.Error(), "is not a trace ID") {
			return nil, fmt.Errorf("%w: %s", derrors.NotFound, strings.TrimPrefix(msg, "Jaeger: "))
		}
		return nil, fmt.Errorf("%w: %s", derrors.Unavailable, msg)
	}
	return t, nil
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
	t, err := s.traceOf(c)
	if err != nil {
		return err
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Trace " + t.ID, Nav: "catalog"}, components.TraceView(traceVM(t, s.Traces.UIURL(t.ID), c.QueryParam("from"))))
}

func (s *Server) handleAPITrace(c echo.Context) error {
	t, err := s.traceOf(c)
	if err != nil {
		return err
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

// RenderTrace writes a trace's waterfall page body, for the benchmark.
func RenderTrace(w io.Writer, t *traces.Trace) error {
	return components.TraceView(traceVM(t, "", "")).Render(context.Background(), w)
}
