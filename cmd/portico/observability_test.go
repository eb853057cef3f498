package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/testenv"
)

// TestObservingPortico runs the portal against a real cluster, Prometheus, Alertmanager and
// Jaeger and checks what a platform team watches it with: every metric its dashboard and
// alert rules use is on its /metrics once it has served (backend calls, cluster state, a live
// stream, actions), the rules pass promtool's checks and their unit tests, and the profiler
// answers on the admin listener only.
func TestObservingPortico(t *testing.T) {
	c := testenv.Cluster(t)
	be := testenv.Observability(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	adminPort, err := testenv.ReservePort()
	if err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`server: {adminAddr: %q}
telemetry: {otlpEndpoint: %q}
catalog:
  sources: [{name: demo, type: dir, path: %q, globs: ["**/*.yaml"]}]
clusters:
  - {name: production, environment: production, kubeconfig: %q}
observability:
  prometheus: {url: %q}
  alertmanager: {url: %q}
  jaeger: {url: %q}
`, admin, be.OTLPHTTP, filepath.Join(root, "catalog"), c.PortalKubeconfig, be.PrometheusURL, be.AlertmanagerURL, be.JaegerGRPC),
		"OTEL_BSP_SCHEDULE_DELAY=200") // spans exported within 0.2 s
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(portal.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// Calls to each backend.
	for _, p := range []string{"/metrics?range=15m", "/alerts", "/traces?panel=1"} {
		if status, _ := get("/catalog/component/default/payment" + p); status != http.StatusOK {
			t.Errorf("%s = %d", p, status)
		}
	}
	// A live stream held open while /metrics is read.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, portal.URL+"/catalog/component/default/payment/runtime/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()

	names := map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		_, body := get("/metrics")
		names = metricNames(body)
		if strings.Contains(body, `portico_sse_subscribers{route="/catalog/:kind/:namespace/:name/runtime/events"} 1`) &&
			strings.Contains(body, `portico_cluster_synced{cluster="production"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for /metrics to show the open stream and the synced cluster:\n%s", grepLines(body, "portico_"))
		}
	}
	dir := filepath.Join(root, "deploy", "observability")
	for _, f := range []string{"portico-alerts.yaml", "portico-dashboard.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		used := regexp.MustCompile(`\b(portico_[a-z_]+|go_[a-z_]+)\b`).FindAllString(string(b), -1)
		if len(used) == 0 {
			t.Errorf("%s uses no metric of Portico's", f)
		}
		for _, n := range used {
			if !names[n] && !names[n+"_count"] { // a histogram may be named by its base name
				t.Errorf("%s uses %s, which the portal does not export", f, n)
			}
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is required (Debian's prometheus package: deploy/local/install-deps.sh)")
	}
	for _, args := range [][]string{{"check", "rules", "portico-alerts.yaml"}, {"test", "rules", "portico-alerts.test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// Portico's own traces, in Jaeger: the panel's request with its call to Prometheus inside
	// it, the database's statements and the Kubernetes API's calls.
	type span struct {
		TraceID, SpanID, OperationName string
		References                     []struct{ SpanID string }
	}
	var ops map[string]bool
	var nested bool
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var got struct{ Data []struct{ Spans []span } }
		res, err := http.Get(be.JaegerQueryURL + "/api/traces?service=portico&limit=200&lookback=1h")
		if err == nil {
			_ = json.NewDecoder(res.Body).Decode(&got)
			res.Body.Close()
		}
		ops, nested = map[string]bool{}, false
		for _, tr := range got.Data {
			byID := map[string]string{}
			for _, sp := range tr.Spans {
				byID[sp.SpanID] = sp.OperationName
				ops[strings.SplitN(sp.OperationName, " ", 2)[0]+" …"] = true
				ops[sp.OperationName] = true
			}
			for _, sp := range tr.Spans {
				for _, ref := range sp.References {
					if strings.HasPrefix(sp.OperationName, "prometheus ") && byID[ref.SpanID] == "GET /catalog/:kind/:namespace/:name/metrics" {
						nested = true
					}
				}
			}
		}
		if nested && ops["db …"] && ops["kube …"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for Portico's traces in Jaeger (the metrics panel's request with its Prometheus calls inside: %v, db and kube spans); operations: %v", nested, ops)
		}
	}

	// The profiler: on the admin listener, not on the public one.
	ares, err := http.Get("http://" + admin + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(ares.Body)
	ares.Body.Close()
	if ares.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Errorf("admin /debug/pprof/ = %d", ares.StatusCode)
	}
	if status, _ := get("/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("the public listener answers /debug/pprof/ with %d, want 404", status)
	}
}

// metricNames are the series names in a /metrics answer (histograms' _bucket, _sum and _count
// included).
func metricNames(body string) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	return out
}

func grepLines(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
