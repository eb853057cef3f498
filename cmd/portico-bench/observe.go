package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/server"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
	"github.com/portico-dev/portico/internal/traces"
)

// observeBench measures the observability panels against the stack's real Prometheus and
// Jaeger with the demo traffic flowing: the metrics panel (all charts) with the shared cache
// and without it, the traces list, rendering a 1,000-span waterfall, and how long panels take
// when a backend is down or hangs. Each latency is reported against the trivial handler
// measured in the same run.
func observeBench(ctx context.Context, dir string, requests, clients int, log *slog.Logger) ([]row, error) {
	fmt.Fprintln(os.Stderr, "observe: starting a control plane, Prometheus, Alertmanager, Jaeger and the demo traffic…")
	be, _, err := testenv.DemoStack()
	if err != nil {
		return nil, err
	}
	budget := 2 * time.Second
	prom := backend.Config{URL: be.PrometheusURL, Timeout: budget}
	am := backend.Config{URL: be.AlertmanagerURL, Timeout: budget}
	jaeger := backend.Config{URL: be.JaegerGRPC, UIURL: be.JaegerQueryURL, Timeout: budget}
	portal := func(name string, prom, am, jaeger backend.Config, ttl time.Duration) (*httptest.Server, error) {
		return demoPortal(ctx, dir, name, prom, am, jaeger, ttl, nil, log)
	}
	cachedPortal, err := portal("observe-cached", prom, am, jaeger, 15*time.Second)
	if err != nil {
		return nil, err
	}
	defer cachedPortal.Close()
	uncachedPortal, err := portal("observe-uncached", prom, am, jaeger, 0)
	if err != nil {
		return nil, err
	}
	defer uncachedPortal.Close()

	fmt.Fprintln(os.Stderr, "observe: waiting for the demo's metrics and traces…")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		m := fetch(cachedPortal.URL + "/catalog/component/default/payment/metrics?range=15m")
		t := fetch(cachedPortal.URL + "/catalog/component/default/payment/traces?panel=1")
		if strings.Contains(m, "data-testid=\"last\"") && strings.Contains(t, "trace-row") && !strings.Contains(m, "Unavailable") {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the demo's metrics or traces never arrived")
		}
		time.Sleep(2 * time.Second)
	}

	// The trivial handler, the metrics panel with the shared cache and cold (every query to
	// Prometheus, from a portal without the cache), and the traces list, interleaved in one
	// window: each at the same rate, so at the same concurrency.
	ranges := []string{"15m", "1h", "6h"}
	services := []string{"payment", "search", "gateway", "maps", "pricing"}
	obs := mix{rate: 40, warmup: 2 * time.Second, window: 15 * time.Second, kinds: []string{"trivial", "cached", "cold", "traces"},
		target: func(kind string, i int) string {
			switch kind {
			case "trivial":
				return cachedPortal.URL + "/healthz"
			case "cached":
				return cachedPortal.URL + "/catalog/component/default/payment/metrics?range=" + ranges[i%len(ranges)]
			case "cold":
				return uncachedPortal.URL + "/catalog/component/default/" + services[i%len(services)] + "/metrics?range=1h"
			}
			return cachedPortal.URL + "/catalog/component/default/" + services[i%len(services)] + "/traces?panel=1"
		}}
	fmt.Fprintf(os.Stderr, "observe: metrics panel (cached and cold), traces list, trivial handler, %s…\n", obs.label())
	got, err := obs.run()
	if err != nil {
		return nil, err
	}
	trivial, cached, uncached, tracesList := got["trivial"], got["cached"], got["cold"], got["traces"]

	fmt.Fprintln(os.Stderr, "observe: rendering a 1,000-span waterfall…")
	render := waterfallRender(1000, 50)

	fmt.Fprintln(os.Stderr, "observe: panels with a backend down or hanging…")
	worst, err := downBudget(ctx, portal, prom, am, jaeger)
	if err != nil {
		return nil, err
	}
	return []row{
		{name: fmt.Sprintf("trivial handler p95 (%s, interleaved)", obs.label()), db: "-", value: fmt.Sprintf("%s (n=%d)", ms(trivial.p95), trivial.n), budget: "baseline", ok: true},
		{name: fmt.Sprintf("metrics panel, 6 charts + 2 rules, shared cache p95 (%s)", obs.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(cached.p95), ms(cached.p50), cached.n), budget: "≤ 150ms",
			ratio: fmt.Sprintf("%.1f× trivial", float64(cached.p95)/float64(trivial.p95)), ok: cached.p95 <= 150*time.Millisecond},
		{name: fmt.Sprintf("metrics panel, cold: every query to Prometheus p95 (%s, same rate as cached)", obs.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(uncached.p95), ms(uncached.p50), uncached.n), budget: "≤ 150ms",
			ratio: fmt.Sprintf("%.1f× trivial", float64(uncached.p95)/float64(trivial.p95)), ok: uncached.p95 <= 150*time.Millisecond},
		{name: fmt.Sprintf("traces list (Jaeger gRPC) p95 (%s)", obs.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(tracesList.p95), ms(tracesList.p50), tracesList.n), budget: "≤ 150ms",
			ratio: fmt.Sprintf("%.1f× trivial", float64(tracesList.p95)/float64(trivial.p95)), ok: tracesList.p95 <= 150*time.Millisecond},
		{name: "trace page, 1,000 spans: layout + render p95", db: "-", value: ms(render), budget: "≤ 50ms", ok: render <= 50*time.Millisecond},
		{name: "slowest panel with a backend down or hanging", db: "-", value: ms(worst), budget: "≤ 2s + 100ms", ok: worst <= budget+100*time.Millisecond},
	}, nil
}

// demoPortal serves the demo catalog and runbooks with the given backends (and clusters,
// when m is not nil), its store in dir.
func demoPortal(ctx context.Context, dir, name string, prom, am, jaeger backend.Config, ttl time.Duration, m *cluster.Manager, log *slog.Logger) (*httptest.Server, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, name+".db"))
	if err != nil {
		return nil, err
	}
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "demo", Dir: filepath.Join(root, "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{Log: log})
	r.RefreshAll(ctx)
	books, _ := runbooks.Open(filepath.Join(root, "runbooks"))
	mx, err := metrics.New(prom, nil, ttl)
	if err != nil {
		return nil, err
	}
	a, err := alerts.New(alerts.Source{Prometheus: mx.API(), Alertmanager: &am, Budget: prom.Timeout, TTL: time.Second})
	if err != nil {
		return nil, err
	}
	t, err := traces.New(jaeger)
	if err != nil {
		return nil, err
	}
	d := server.Deps{Catalog: r, Runbooks: books, DB: st, Log: log, Anonymous: true, Metrics: mx, Alerts: a, Traces: t}
	if m != nil {
		d.Clusters = m
	}
	return httptest.NewServer(server.New(d)), nil
}

func fetch(u string) string {
	res, err := http.Get(u)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// waterfallRender times laying out and rendering a trace of n spans, runs times; p95.
func waterfallRender(n, runs int) time.Duration {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	spans := make([]traces.Span, n)
	svcs := []string{"gateway", "payment", "pricing", "notification", "search", "analytics"}
	for i := range spans {
		parent := ""
		if i > 0 {
			parent = "s" + strconv.Itoa((i-1)/4)
		}
		spans[i] = traces.Span{ID: "s" + strconv.Itoa(i), ParentID: parent, Service: svcs[i%len(svcs)], Operation: "op " + strconv.Itoa(i%40),
			Start: t0.Add(time.Duration(i) * time.Millisecond), Duration: time.Duration(1000-i) * time.Millisecond, Error: i%97 == 0,
			Tags: []traces.KV{{Key: "http.route", Value: "/v1/x"}, {Key: "k8s.pod.name", Value: "pod-" + strconv.Itoa(i%7)}}}
	}
	tr := &traces.Trace{ID: "bench", Spans: traces.Order(spans), Start: t0, Duration: 1100 * time.Millisecond}
	var lat []time.Duration
	var buf bytes.Buffer
	for range runs {
		buf.Reset()
		start := time.Now()
		if err := server.RenderTrace(&buf, tr); err != nil {
			return time.Hour
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat[len(lat)*95/100-1]
}

// downBudget serves portals whose Prometheus, Alertmanager or Jaeger is down (nothing
// listening) or hangs (accepts, never answers) and returns the slowest panel time.
func downBudget(ctx context.Context, portal func(string, backend.Config, backend.Config, backend.Config, time.Duration) (*httptest.Server, error),
	prom, am, jaeger backend.Config) (time.Duration, error) {
	hang, dead, stop, err := brokenAddrs()
	if err != nil {
		return 0, err
	}
	defer stop()
	var worst time.Duration
	for i, broken := range []struct{ which, addr string }{{"prometheus", dead}, {"prometheus", hang}, {"alertmanager", dead},
		{"alertmanager", hang}, {"jaeger", dead}, {"jaeger", hang}} {
		p, a, j := prom, am, jaeger
		switch broken.which {
		case "prometheus":
			p.URL = "http://" + broken.addr
		case "alertmanager":
			a.URL = "http://" + broken.addr
		case "jaeger":
			j.URL = broken.addr
		}
		srv, err := portal(fmt.Sprintf("observe-down-%d", i), p, a, j, 0)
		if err != nil {
			return 0, err
		}
		for _, panel := range []string{"metrics", "alerts", "traces?panel=1", "dependencies"} {
			start := time.Now()
			body := fetch(srv.URL + "/catalog/component/default/payment/" + panel)
			took := time.Since(start)
			if body == "" {
				srv.Close()
				return 0, fmt.Errorf("%s panel with %s broken gave no page", panel, broken.which)
			}
			worst = max(worst, took)
		}
		srv.Close()
	}
	return worst, nil
}

// brokenAddrs are two addresses a backend can be broken with: one that accepts connections
// and never answers, one where nothing listens.
func brokenAddrs() (hang, dead string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, h := range held {
					h.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	deadPort, err := testenv.ReservePort()
	if err != nil {
		l.Close()
		return "", "", nil, err
	}
	return l.Addr().String(), "127.0.0.1:" + strconv.Itoa(deadPort), func() { l.Close() }, nil
}

// promInstant asks Prometheus for one value now.
func promInstant(promURL, q string) (float64, error) {
	res, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || len(body.Data.Result) == 0 {
		return 0, fmt.Errorf("no value for %s", q)
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}
