package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/testenv"
)

// triageBench measures the triage view on the demo stack (control plane, Prometheus,
// Alertmanager, Jaeger, the demo traffic) against the service page in the same run; the
// view with each backend down or hanging against its budget; and, with a dependency made to
// fail, the time from the degradation showing in Prometheus to the triage page naming it.
func triageBench(ctx context.Context, dir string, requests, clients int, log *slog.Logger) ([]row, error) {
	fmt.Fprintln(os.Stderr, "triage: starting (or reusing) the demo stack…")
	be, c, err := testenv.DemoStack()
	if err != nil {
		return nil, err
	}
	m, err := cluster.NewManager([]cluster.Config{{Name: "production", Environment: "production", Kubeconfig: c.PortalKubeconfig}}, log)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.Start(mctx)
	if !m.Clusters()[0].WaitSynced(ctx) {
		return nil, fmt.Errorf("caches did not sync")
	}
	budget := 2 * time.Second
	prom := backend.Config{URL: be.PrometheusURL, Timeout: budget}
	am := backend.Config{URL: be.AlertmanagerURL, Timeout: budget}
	jaeger := backend.Config{URL: be.JaegerGRPC, UIURL: be.JaegerQueryURL, Timeout: budget}
	portal := func(name string, prom, am, jaeger backend.Config) (*httptest.Server, error) {
		return demoPortal(ctx, dir, name, prom, am, jaeger, 15*time.Second, m, log)
	}
	p, err := portal("triage", prom, am, jaeger)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	fmt.Fprintln(os.Stderr, "triage: waiting for the demo's metrics…")
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(fetch(p.URL+"/catalog/component/default/payment/triage"), `data-testid="last"`) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the triage view never showed the demo's signals")
		}
		time.Sleep(2 * time.Second)
	}
	services := []string{"payment", "search", "gateway", "maps", "pricing", "authentication", "notification"}
	tm := mix{rate: 40, warmup: 2 * time.Second, window: 15 * time.Second, kinds: []string{"page", "view"},
		target: func(kind string, i int) string {
			if kind == "view" {
				return p.URL + "/catalog/component/default/" + services[i%len(services)] + "/triage"
			}
			return p.URL + "/catalog/component/default/" + services[i%len(services)]
		}}
	fmt.Fprintf(os.Stderr, "triage: service page and triage view, interleaved, %s…\n", tm.label())
	got, err := tm.run()
	if err != nil {
		return nil, err
	}
	page, view := got["page"], got["view"]
	fmt.Fprintln(os.Stderr, "triage: the view with a backend down or hanging…")
	worst, err := triageDown(p, portal, prom, am, jaeger, services)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "triage: waiting for the seeded releases to have served a while, then degradation → top suspect…")
	admin, err := c.Admin()
	if err != nil {
		return nil, err
	}
	if _, err := testenv.WaitDemoSettled(ctx, admin, 4*time.Minute); err != nil {
		return nil, err
	}
	detect, err := timeToSuspect(ctx, p.URL, be)
	if err != nil {
		return nil, err
	}
	return []row{
		{name: fmt.Sprintf("service page p95 (%s, interleaved, demo stack)", tm.label()), db: "-", value: fmt.Sprintf("%s (n=%d)", ms(page.p95), page.n), budget: "baseline", ok: true},
		{name: fmt.Sprintf("triage view, every backend up p95 (%s)", tm.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(view.p95), ms(view.p50), view.n), budget: "≤ 300ms",
			ratio: fmt.Sprintf("%.1f× the service page", float64(view.p95)/float64(page.p95)), ok: view.p95 <= 300*time.Millisecond},
		{name: "triage view, one backend down or hanging: slowest", db: "-", value: ms(worst), budget: "≤ 2s + 100ms", ok: worst <= budget+100*time.Millisecond},
		{name: "degradation visible in Prometheus → right top suspect on the page", db: "-", value: detect.Round(100 * time.Millisecond).String(), budget: "≤ 30s", ok: detect <= 30*time.Second},
	}, nil
}

// triageDown serves the triage view with each backend down (nothing listening) or hanging
// (accepts, never answers), cold (no shared answer), and returns the slowest.
func triageDown(up *httptest.Server, portal func(string, backend.Config, backend.Config, backend.Config) (*httptest.Server, error),
	prom, am, jaeger backend.Config, services []string) (time.Duration, error) {
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
		srv, err := portal(fmt.Sprintf("triage-down-%d", i), p, a, j)
		if err != nil {
			return 0, err
		}
		for _, svc := range services[:3] {
			start := time.Now()
			body := fetch(srv.URL + "/catalog/component/default/" + svc + "/triage")
			took := time.Since(start)
			if !strings.Contains(body, "triage-missing") {
				srv.Close()
				return 0, fmt.Errorf("the triage view of %s with %s broken does not say what is missing", svc, broken.which)
			}
			worst = max(worst, took)
		}
		srv.Close()
	}
	return worst, nil
}

var topSuspect = regexp.MustCompile(`data-testid="suspect" data-kind="([a-z]+)"`)

// timeToSuspect makes user-profile fail and times, for authentication (which calls it), from
// the moment Prometheus shows authentication's error ratio above 2% to the moment its triage
// page ranks the dependency first. Twice, on two services, reporting the slower.
func timeToSuspect(ctx context.Context, portalURL string, be *testenv.Backends) (time.Duration, error) {
	var worst time.Duration
	for _, c := range []struct{ caller, dep string }{{"authentication", "user-profile"}, {"search", "analytics"}} {
		if err := setFault(be.DemoURL, c.dep, `{"errorRate":0.7}`); err != nil {
			return 0, err
		}
		q := fmt.Sprintf(`(sum(rate(http_requests_total{service=%q,code=~"5.."}[1m])) or vector(0)) / sum(rate(http_requests_total{service=%q}[1m]))`, c.caller, c.caller)
		var visible time.Time
		deadline := time.Now().Add(2 * time.Minute)
		for visible.IsZero() {
			if v, err := promInstant(be.PrometheusURL, q); err == nil && v > 0.02 {
				visible = time.Now()
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s's errors never showed in Prometheus", c.caller)
			}
			time.Sleep(250 * time.Millisecond)
		}
		for {
			body := fetch(portalURL + "/catalog/component/default/" + c.caller + "/triage")
			if m := topSuspect.FindStringSubmatch(body); m != nil && m[1] == "dependency" && strings.Contains(body, "dependency "+c.dep) {
				worst = max(worst, time.Since(visible))
				break
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s's triage never named %s", c.caller, c.dep)
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err := setFault(be.DemoURL, c.dep, `{}`); err != nil {
			return 0, err
		}
	}
	return worst, nil
}

func setFault(demo, svc, body string) error {
	req, _ := http.NewRequest(http.MethodPut, demo+"/faults/"+svc, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("fault %s: status %d", svc, res.StatusCode)
	}
	return nil
}
