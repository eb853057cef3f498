package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
	"github.com/portico-dev/portico/internal/traces"
)

// checkoutViewers is the policy: the read-only viewers see the checkout system only;
// owners and admins keep their defaults.
func checkoutViewers() *policy.Policy {
	p := policy.Default()
	p.Bindings = []policy.Binding{
		{Groups: []string{"viewers"}, Role: "viewer", Scope: policy.Scope{System: "checkout"}},
		{Groups: []string{"*"}, Role: "deployer", Scope: policy.Scope{Owned: true}},
		{Groups: []string{"portico-admins"}, Role: "admin"},
	}
	return p
}

// scopedEnv is the demo catalog served with everything configured — the real control plane
// with the demo workloads, Prometheus, Alertmanager and Jaeger with the demo traffic, CI
// pipelines and the audit log — under a policy, with headerAuth users.
type scopedEnv struct {
	*httptest.Server
	st    *store.Store
	clust string
}

func newScopedEnv(t *testing.T, pol *policy.Policy) *scopedEnv {
	t.Helper()
	prom, am, jaeger, _ := demoBackends(t)
	tc := testenv.Cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := cluster.NewManager([]cluster.Config{{Name: tc.Spec.Name, Environment: "production", Kubeconfig: tc.PortalKubeconfig,
		ImpersonateGroups: devstack.ImpersonableGroups}}, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	m.Start(runCtx)
	m.Clusters()[0].WaitSynced(ctx)
	st, r, books := catalogEnv(t, "")
	mx, err := metrics.New(prom, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	al, err := alerts.New(alerts.Source{Prometheus: mx.API(), Alertmanager: &am, Budget: prom.Timeout, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := traces.New(jaeger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	srv := New(Deps{Catalog: r, Clusters: m, Runbooks: books, DB: st, Version: "test", Auth: headerAuth{}, Policy: pol,
		Audit: audit.New(st.Client, log), Pipelines: st, Metrics: mx, Alerts: al, Traces: tr, Log: log,
		ActionsConfig: ActionsConfig{MaxReplicas: 20, ProductionEnvironments: []string{"production"}}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &scopedEnv{Server: ts, st: st, clust: tc.Spec.Name}
}

// do sends a request as user; POSTs carry a valid CSRF token so only authorization can
// refuse them.
func (e *scopedEnv) do(t *testing.T, user, method, path string) (int, string) {
	t.Helper()
	var body io.Reader
	var tok csrfToken
	if method != http.MethodGet {
		tok = (&actionEnv{Server: e.Server}).csrf(t, user)
		body = strings.NewReader(url.Values{"_csrf": {tok.value}, "replicas": {"1"}, "reason": {"x"}, "confirm": {"maps"}, "step": {"apply"}}.Encode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, e.URL+path, body)
	req.Header.Set("X-Test-User", user)
	if tok.cookie != nil {
		req.AddCookie(tok.cookie)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", tok.value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b)
}

// entityRoute reports whether a registered route names an entity in its path.
func entityRoute(path string) bool {
	return strings.HasPrefix(path, "/catalog/:kind/:namespace/:name") || strings.HasPrefix(path, "/api/v1/entities/:kind/:namespace/:name")
}

// TestEntityRoutesHideWhatUserMayNotView walks echo's route table as the read-only viewer
// scoped to the checkout system: every route that names maps (system geo) — pages, panels,
// streams, the JSON API and actions — answers 404 exactly as for a missing entity and carries
// none of maps' data, and refused actions are audited. A route added later without the
// entity scope fails here.
func TestEntityRoutesHideWhatUserMayNotView(t *testing.T) {
	e := newScopedEnv(t, checkoutViewers())
	srv := e.Config.Handler.(*Server)
	// What the portal knows about maps, that must not leak.
	secrets := []string{"Serves map tiles", "registry.acme.example/maps", "PMAPS", "tiles-bucket", "MapsHighErrorRate", "acme/maps", "team-geo"}
	fill := strings.NewReplacer(":kind", "component", ":namespace", "default", ":name", "maps", ":cluster", e.clust,
		":wns", "geo", ":workload", "maps", ":action", "scale", "*", "x")
	_, missing := e.do(t, "oscar", http.MethodGet, "/catalog/component/default/no-such-service")
	walked, posts := 0, 0
	for _, rt := range srv.echo.Routes() {
		if !entityRoute(rt.Path) || strings.HasPrefix(rt.Method, "echo_route_") {
			continue
		}
		path := fill.Replace(rt.Path)
		method := rt.Method
		if method == http.MethodHead || method == "PROPFIND" || method == "REPORT" || method == http.MethodTrace || method == http.MethodConnect || method == http.MethodOptions {
			continue
		}
		walked++
		if method == http.MethodPost {
			posts++
		}
		status, body := e.do(t, "oscar", method, path)
		if status != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404 (as for an entity that does not exist)", method, path, status)
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s %s shows %q of an entity the user may not view", method, path, s)
			}
		}
		if rt.Method == http.MethodGet && !strings.HasPrefix(path, "/api/") {
			if got, want := errorMessage(body), strings.ReplaceAll(errorMessage(missing), "no-such-service", "maps"); got != want {
				t.Errorf("%s %s says %q, want the same words as for a missing entity: %q", method, path, got, want)
			}
		}
	}
	if walked < 20 || posts < 2 {
		t.Fatalf("walked %d entity routes (%d actions); the route table walk is broken", walked, posts)
	}
	// Refused actions are audited as denied, and nothing changed.
	n, err := e.st.Client.AuditEntry.Query().Count(context.Background())
	if err != nil || n != posts {
		t.Errorf("audit entries = %d (%v), want one denied entry per refused action (%d)", n, err, posts)
	}
	// The control: the same walk's pages about payment (system checkout) answer with its data,
	// so the 404s above are the scope's doing.
	for _, path := range []string{"/catalog/component/default/payment", "/catalog/component/default/payment/runtime", "/api/v1/entities/component/default/payment"} {
		if status, body := e.do(t, "oscar", http.MethodGet, path); status != http.StatusOK || !strings.Contains(body, "payment") {
			t.Errorf("GET %s as a checkout viewer = %d, want 200 with payment's data", path, status)
		}
	}
	// And an admin sees maps.
	if status, body := e.do(t, "jonas", http.MethodGet, "/catalog/component/default/maps"); status != http.StatusOK || !strings.Contains(body, "Serves map tiles") {
		t.Errorf("GET maps as an admin = %d", status)
	}
}

// errorMessage is the user-facing message of an error page.
func errorMessage(body string) string {
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(d.Find("[data-testid=error-message]").Text())
}
