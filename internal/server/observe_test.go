package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
	"github.com/portico-dev/portico/internal/traces"
	"github.com/portico-dev/portico/web/components"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// observePortal serves a catalog with the given backends (empty URL: not configured).
func observePortal(t *testing.T, catalogDir string, prom, am, jaeger backend.Config) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: catalogDir, Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	books, _ := runbooks.Open(filepath.Join("..", "..", "runbooks"))
	d := Deps{Catalog: r, Runbooks: books, DB: st, Anonymous: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if prom.URL != "" {
		m, err := metrics.New(prom, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		d.Metrics = m
		src := alerts.Source{Prometheus: m.API(), Budget: prom.Timeout, TTL: time.Second}
		if am.URL != "" {
			src.Alertmanager = &am
		}
		a, err := alerts.New(src)
		if err != nil {
			t.Fatal(err)
		}
		d.Alerts = a
	}
	if jaeger.URL != "" {
		tr, err := traces.New(jaeger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		d.Traces = tr
	}
	ts := httptest.NewServer(New(d))
	t.Cleanup(ts.Close)
	return ts
}

func demoBackends(t *testing.T) (prom, am, jaeger backend.Config, be *testenv.Backends) {
	be = testenv.DemoTraffic(t)
	budget := 2 * time.Second
	return backend.Config{URL: be.PrometheusURL, Timeout: budget}, backend.Config{URL: be.AlertmanagerURL, Timeout: budget},
		backend.Config{URL: be.JaegerGRPC, UIURL: be.JaegerQueryURL, Timeout: budget}, be
}

func getBody(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func waitUntil(ctx context.Context, t *testing.T, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Second)
	}
}

type apiCharts struct {
	Charts []metrics.Chart `json:"charts"`
}

func chartNamed(cs []metrics.Chart, name string) metrics.Chart {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return metrics.Chart{}
}

func lastValue(c metrics.Chart) float64 {
	if len(c.Series) == 0 || len(c.Series[0].Points) == 0 {
		return math.NaN()
	}
	p := c.Series[0].Points
	return p[len(p)-1].V
}

// TestMetricsMatchPrometheus: the charts carry the values Prometheus returns for the same
// query, and the panel draws every default chart with a link to Prometheus.
func TestMetricsMatchPrometheus(t *testing.T) {
	prom, am, jaeger, be := demoBackends(t)
	p := observePortal(t, filepath.Join("..", "..", "catalog"), prom, am, jaeger)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var got apiCharts
	waitUntil(ctx, t, "payment's request rate in Prometheus", func() bool {
		_, body := getBody(t, p.URL+"/api/v1/entities/component/default/payment/metrics?range=15m")
		got = apiCharts{}
		_ = json.Unmarshal([]byte(body), &got)
		r := chartNamed(got.Charts, "rate")
		return len(r.Series) == 1 && len(r.Series[0].Points) >= 8
	})
	rate := chartNamed(got.Charts, "rate")
	q := url.Values{"query": {rate.Queries[0]}, "start": {strconv.FormatInt(rate.Start.Unix(), 10)}, "end": {strconv.FormatInt(rate.End.Unix(), 10)}, "step": {"15"}}
	_, body := getBody(t, be.PrometheusURL+"/api/v1/query_range?"+q.Encode())
	var direct struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &direct); err != nil || len(direct.Data.Result) != 1 {
		t.Fatalf("direct query: %v %s", err, body)
	}
	want := direct.Data.Result[0].Values
	pts := rate.Series[0].Points
	compared := 0
	for i := 0; i < len(pts)-2 && i < len(want)-2; i++ { // the newest points may gain samples meanwhile
		ts := int64(want[i][0].(float64))
		v, _ := strconv.ParseFloat(want[i][1].(string), 64)
		if pts[i].T.Unix() != ts || math.Abs(pts[i].V-v) > 1e-9 {
			t.Fatalf("point %d: chart %v=%v, Prometheus %v=%v", i, pts[i].T.Unix(), pts[i].V, ts, v)
		}
		compared++
	}
	if compared < 5 {
		t.Errorf("only %d points compared", compared)
	}
	_, html := getBody(t, p.URL+"/catalog/component/default/payment/metrics?range=15m")
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
	for _, title := range []string{"Request rate", "Error ratio (5xx)", "Latency", "CPU per pod", "Memory per pod", "Restarts"} {
		fig := d.Find(fmt.Sprintf(`[data-testid="chart-%s"]`, title))
		if fig.Length() != 1 {
			t.Errorf("chart %q missing", title)
			continue
		}
		if fig.Find("[data-testid=chart-error]").Length() > 0 {
			t.Errorf("chart %q: %s", title, fig.Find("[data-testid=chart-error]").Text())
		}
	}
	if href, _ := d.Find("[data-testid=open-prometheus]").First().Attr("href"); !strings.HasPrefix(href, be.PrometheusURL+"/graph?") || !strings.Contains(href, "http_requests_total") {
		t.Errorf("open in Prometheus = %q", href)
	}
	if d.Find("[data-testid=chart-Latency] path.line").Length() != 3 {
		t.Error("latency chart should draw p50, p95 and p99")
	}
	// The annotation's extra rules are charts too (queries with commas inside brackets).
	if d.Find(`[data-testid="chart-p95 http request duration"]`).Length() != 1 { // titled in words, not by its PromQL
		t.Error("the prometheus.io/rule chart with a comma in its query is missing")
	}
}

// TestFaultFiresAlertWithRunbookAndErrorTraces injects errors into a demo service: the error
// ratio chart rises, the alert fires with its runbook linked inside Portico and shows on the
// "firing now" page under the owning team, and its failed traces show error spans.
func TestFaultFiresAlertWithRunbookAndErrorTraces(t *testing.T) {
	prom, am, jaeger, be := demoBackends(t)
	p := observePortal(t, filepath.Join("..", "..", "catalog"), prom, am, jaeger)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	setDemoFault(t, be.DemoURL, "maps", `{"errorRate": 0.5}`)
	defer setDemoFault(t, be.DemoURL, "maps", "")
	waitUntil(ctx, t, "the error ratio chart above 5%", func() bool {
		_, body := getBody(t, p.URL+"/api/v1/entities/component/default/maps/metrics?range=15m")
		var got apiCharts
		_ = json.Unmarshal([]byte(body), &got)
		return lastValue(chartNamed(got.Charts, "errors")) > 0.05
	})
	var panel *goquery.Document
	waitUntil(ctx, t, "MapsHighErrorRate firing", func() bool {
		_, html := getBody(t, p.URL+"/catalog/component/default/maps/alerts")
		panel, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
		return strings.Contains(panel.Find(".alert-firing").Text(), "MapsHighErrorRate")
	})
	row := panel.Find(".alert-firing").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), "MapsHighErrorRate") })
	if href, _ := row.Find("[data-testid=runbook-link]").Attr("href"); href != "/runbooks/maps.md" {
		t.Errorf("runbook link = %q, want Portico's /runbooks/maps.md", href)
	}
	if !strings.Contains(row.Text(), "page") || !strings.Contains(row.Text(), "maps answers more than 5% of requests with errors") {
		t.Errorf("alert row: %q", row.Text())
	}
	_, html := getBody(t, p.URL+"/alerts")
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
	found := false
	d.Find("[data-testid=alert-group]").Each(func(_ int, g *goquery.Selection) {
		if strings.Contains(g.Find("h2").Text(), "Geo") && strings.Contains(g.Text(), "MapsHighErrorRate") {
			found = true
		}
	})
	if !found {
		t.Errorf("the firing-now page does not list MapsHighErrorRate under team Geo:\n%s", d.Find("main").Text())
	}
	// A viewer scoped to the checkout system does not see maps' alert on the same page, nor
	// its count; an admin does.
	scoped := newScopedEnv(t, checkoutViewers())
	if _, html := scoped.do(t, "oscar", http.MethodGet, "/alerts"); strings.Contains(html, "MapsHighErrorRate") || strings.Contains(html, "Maps Service") {
		t.Error("the firing-now page shows maps' alert to a checkout viewer")
	}
	if _, html := scoped.do(t, "jonas", http.MethodGet, "/alerts"); !strings.Contains(html, "MapsHighErrorRate") {
		t.Error("the firing-now page hides maps' alert from an admin")
	}

	// A trace's spans reach Jaeger in the exporters' batches: the newest failed trace may show
	// its root before its calls, so the page is read again until they are there.
	waitUntil(ctx, t, "a failed trace of maps with its error span and its calls", func() bool {
		_, html := getBody(t, p.URL+"/catalog/component/default/maps/traces?tab=failed")
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
		traceHref, _ := d.Find("[data-testid=trace-row] a").First().Attr("href")
		if traceHref == "" {
			return false
		}
		status, html := getBody(t, p.URL+traceHref)
		d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
		return status == http.StatusOK && d.Find("[data-testid=span-error]").Length() > 0 && d.Find("[data-testid=span]").Length() >= 2
	})
}

func setDemoFault(t *testing.T, demo, svc, body string) {
	t.Helper()
	method := http.MethodPut
	if body == "" {
		method = http.MethodDelete
	}
	req, _ := http.NewRequest(method, demo+"/faults/"+svc, bytes.NewBufferString(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("fault %s: %v %v", svc, err, res)
	}
}

// TestDependencyMapAgainstCatalog: the map follows the demo call graph, and a call the
// catalog does not declare (search → analytics, removed from search's dependsOn here) is
// flagged.
func TestDependencyMapAgainstCatalog(t *testing.T) {
	prom, am, jaeger, _ := demoBackends(t)
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", "catalog")+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	searchFile := filepath.Join(dir, "services", "search", "catalog-info.yaml")
	b, _ := os.ReadFile(searchFile)
	os.WriteFile(searchFile, bytes.Replace(b, []byte("dependsOn: [resource:search-index, component:analytics]"), []byte("dependsOn: [resource:search-index]"), 1), 0o644)
	p := observePortal(t, dir, prom, am, jaeger)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var d *goquery.Document
	waitUntil(ctx, t, "search → analytics calls in Jaeger", func() bool {
		_, html := getBody(t, p.URL+"/catalog/component/default/search/dependencies")
		d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
		return d.Find("[data-testid=undeclared]").Length() == 1
	})
	if !strings.Contains(d.Find("[data-testid=undeclared]").Text(), "analytics") || d.Find(`[data-edge="undeclared"]`).Length() != 1 {
		t.Errorf("search: undeclared %q, %d red edges", d.Find("[data-testid=undeclared]").Text(), d.Find(`[data-edge="undeclared"]`).Length())
	}
	_, html := getBody(t, p.URL+"/catalog/component/default/payment/dependencies")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
	text := d.Find("[data-testid=depmap] svg").Text()
	for _, want := range []string{"API Gateway", "Pricing Service", "Notification Service", "calls"} {
		if !strings.Contains(text, want) {
			t.Errorf("payment's map lacks %q: %s", want, text)
		}
	}
	if d.Find("[data-testid=undeclared]").Length() != 0 {
		t.Errorf("payment declares what it calls, yet: %s", d.Find("[data-testid=undeclared]").Text())
	}
}

// TestBackendsDownOrSlow stops each backend in turn — nothing listening, or a listener that
// never answers — and checks the page and the other panels still render, the broken panel
// saying "unavailable" within its budget.
func TestBackendsDownOrSlow(t *testing.T) {
	prom, am, jaeger, _ := demoBackends(t)
	dead, hang := brokenAddrs(t)
	budget := 800 * time.Millisecond
	for _, c := range []struct {
		name  string
		addr  string
		which string
	}{{"prometheus down", dead(), "prometheus"}, {"prometheus slow", hang, "prometheus"},
		{"alertmanager down", dead(), "alertmanager"}, {"jaeger down", dead(), "jaeger"}, {"jaeger slow", hang, "jaeger"}} {
		t.Run(c.name, func(t *testing.T) {
			pr, a, j := prom, am, jaeger
			pr.Timeout, a.Timeout, j.Timeout = budget, budget, budget
			switch c.which {
			case "prometheus":
				pr.URL = "http://" + c.addr
			case "alertmanager":
				a.URL = "http://" + c.addr
			case "jaeger":
				j.URL = c.addr
			}
			p := observePortal(t, filepath.Join("..", "..", "catalog"), pr, a, j)
			if status, _ := getBody(t, p.URL+"/catalog/component/default/payment"); status != http.StatusOK {
				t.Fatalf("entity page = %d", status)
			}
			for _, panel := range []string{"metrics", "alerts", "traces?panel=1", "dependencies"} {
				start := time.Now()
				status, html := getBody(t, p.URL+"/catalog/component/default/payment/"+panel)
				took := time.Since(start)
				if status != http.StatusOK {
					t.Errorf("%s panel = %d", panel, status)
				}
				// The panel gives up on the backend rather than hanging with it; how close to
				// the budget it answers is make bench's "slowest panel" row, not a test.
				if took > 5*budget {
					t.Errorf("%s panel took %s with a backend hanging: it waited on it (budget %s)", panel, took, budget)
				}
				broken := strings.Contains(html, "Unavailable:")
				affected := (c.which == "prometheus" && (panel == "metrics" || panel == "alerts")) || (c.which == "alertmanager" && panel == "alerts") ||
					(c.which == "jaeger" && (panel == "traces?panel=1" || panel == "dependencies"))
				if broken != affected {
					t.Errorf("%s panel: unavailable=%v, want %v", panel, broken, affected)
				}
			}
		})
	}
	// Not configured: the panel is not on the page at all.
	p := observePortal(t, filepath.Join("..", "..", "catalog"), backend.Config{}, backend.Config{}, backend.Config{})
	_, html := getBody(t, p.URL+"/catalog/component/default/payment")
	for _, id := range []string{"metrics-loading", "alerts-loading", "traces-loading", "depmap-loading"} {
		if strings.Contains(html, id) {
			t.Errorf("%s shown without a backend", id)
		}
	}
}

// TestWaterfallGolden lays out a fixed trace: nesting, offsets on the common axis, colours
// by service, the error marked, attributes and events.
func TestWaterfallGolden(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tr := &traces.Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", Start: t0, Duration: 400 * time.Millisecond, Errors: 1, Services: []string{"gateway", "payment", "pricing"},
		Spans: traces.Order([]traces.Span{
			{ID: "b", ParentID: "a", Service: "payment", Operation: "POST /v1/payments", Start: t0.Add(20 * time.Millisecond), Duration: 300 * time.Millisecond, Error: true,
				Tags: []traces.KV{{Key: "http.response.status_code", Value: "502"}}, Events: []traces.Event{{Time: t0.Add(310 * time.Millisecond), Fields: []traces.KV{{Key: "event", Value: "exception"}, {Key: "message", Value: "PSP timeout"}}}}},
			{ID: "a", Service: "gateway", Operation: "POST /api/checkout", Start: t0, Duration: 400 * time.Millisecond},
			{ID: "c", ParentID: "b", Service: "pricing", Operation: "Quote", Start: t0.Add(30 * time.Millisecond), Duration: 8 * time.Millisecond},
		})}
	vm := traceVM(tr, "http://jaeger/trace/4bf92f3577b34da6a3ce929d0e0e4736", "/catalog/component/default/payment")
	if vm.Rows[0].Service != "gateway" || vm.Rows[1].Depth != 1 || vm.Rows[2].Depth != 2 || vm.Rows[1].X != 50 || vm.Rows[1].W != 750 || !vm.Rows[1].Error {
		t.Fatalf("rows: %+v", vm.Rows)
	}
	var b bytes.Buffer
	if err := components.TraceView(vm).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	got := bytes.ReplaceAll(b.Bytes(), []byte("><"), []byte(">\n<"))
	path := filepath.Join("testdata", "waterfall.golden.html")
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/server -run TestWaterfallGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the waterfall differs from %s; if intended, run with -update and review:\n%s", path, got)
	}
}

// TestTriageDegrades: with a backend down or hanging, the triage page and API still answer
// from what is left and name what is missing.
func TestTriageDegrades(t *testing.T) {
	prom, am, jaeger, _ := demoBackends(t)
	dead, hang := brokenAddrs(t)
	for _, c := range []struct{ name, addr, which string }{{"prometheus down", dead(), "prometheus"}, {"prometheus hanging", hang, "prometheus"},
		{"alertmanager down", dead(), "alertmanager"}, {"jaeger down", dead(), "jaeger"}, {"jaeger hanging", hang, "jaeger"}} {
		t.Run(c.name, func(t *testing.T) {
			pr, a, j := prom, am, jaeger
			pr.Timeout, a.Timeout, j.Timeout = 800*time.Millisecond, 800*time.Millisecond, 800*time.Millisecond
			switch c.which {
			case "prometheus":
				pr.URL = "http://" + c.addr
			case "alertmanager":
				a.URL = "http://" + c.addr
			case "jaeger":
				j.URL = c.addr
			}
			p := observePortal(t, filepath.Join("..", "..", "catalog"), pr, a, j)
			status, html := getBody(t, p.URL+"/catalog/component/default/payment/triage")
			if status != http.StatusOK {
				t.Fatalf("triage page = %d", status)
			}
			doc, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
			if got := doc.Find("[data-testid=triage-missing]").Text(); !strings.Contains(got, c.which) {
				t.Errorf("missing notice = %q, want it to name %s", got, c.which)
			}
			if doc.Find("[data-testid=suspects]").Length() != 1 || doc.Find("[data-testid=timeline]").Length() != 1 {
				t.Errorf("the page lost its suspects or timeline")
			}
			status, body := getBody(t, p.URL+"/api/v1/entities/component/default/payment/triage")
			var res struct {
				Entity  string   `json:"entity"`
				Missing []string `json:"missing"`
			}
			if err := json.Unmarshal([]byte(body), &res); status != http.StatusOK || err != nil {
				t.Fatalf("API = %d %v: %s", status, err, body)
			}
			if res.Entity != "component:default/payment" || !slices.Contains(res.Missing, c.which) {
				t.Errorf("API entity %q missing %v, want %s named", res.Entity, res.Missing, c.which)
			}
		})
	}
}

// brokenAddrs are where a backend can be broken: dead() has nothing listening, hang accepts
// connections and never answers.
func brokenAddrs(t *testing.T) (dead func() string, hang string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
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
	return func() string {
		port, _ := testenv.ReservePort()
		return "127.0.0.1:" + strconv.Itoa(port)
	}, l.Addr().String()
}

// TestChartsOfADottedName: a service whose name has a dot (Backstage names may) gets charts
// from the real Prometheus, not "not valid PromQL".
func TestChartsOfADottedName(t *testing.T) {
	prom, _, _, _ := demoBackends(t)
	c, err := metrics.New(prom, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range c.Charts(context.Background(), metrics.Target{Name: "payment.v2", Labels: metrics.LabelMatchers("", "payment.v2")}, metrics.RangeNamed("15m"), time.Now()) {
		if ch.Err != "" {
			t.Errorf("chart %s of payment.v2: %s (queries %v)", ch.Name, ch.Err, ch.Queries)
		}
	}
}
