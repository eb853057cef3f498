package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/store"
)

// TestNoStateChangeWithoutSessionAndCSRF walks every registered route: no route that is not
// GET answers successfully without a session, nor with a session but without a CSRF token.
// Webhooks are the exception by design; they must reject unsigned requests.
func TestNoStateChangeWithoutSessionAndCSRF(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: filepath.Join("..", "..", "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	srv := New(Deps{Catalog: r, DB: st, Auth: headerAuth{}, Audit: audit.New(st.Client, nil), WebhookSecrets: []string{"s"}, Pipelines: st,
		PipelineSecrets: PipelineSecrets{GitHub: []string{"s"}, GitLab: []string{"s"}, Generic: []string{"s"}},
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil))})
	fill := strings.NewReplacer(":kind", "component", ":namespace", "default", ":name", "payment", ":cluster", "production",
		":wns", "payments", ":workload", "payment", ":action", "restart", "*", "x")
	writes := 0
	for _, rt := range srv.echo.Routes() {
		if rt.Method == http.MethodGet || rt.Method == http.MethodHead || strings.HasPrefix(rt.Method, "echo_route_") {
			continue
		}
		writes++
		path := fill.Replace(rt.Path)
		for _, c := range []struct {
			name string
			user string
		}{{"no session", ""}, {"session without CSRF token", "jonas"}} {
			req := httptest.NewRequest(rt.Method, path, strings.NewReader("reason=x&step=apply"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.user != "" {
				req.Header.Set("X-Test-User", c.user)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			ok := rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden || rec.Code == http.StatusBadRequest
			if c.user == "" && !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/webhooks/") && rec.Code == http.StatusFound {
				ok = strings.HasPrefix(rec.Header().Get("Location"), "/auth/login") // pages send people to sign in
			}
			if rt.Path == "/auth/logout" && c.user == "" && rec.Code == http.StatusFound {
				ok = false // must not even sign out without a token
			}
			if !ok {
				t.Errorf("%s %s (%s) = %d %s, want it refused", rt.Method, path, c.name, rec.Code, rec.Header().Get("Location"))
			}
		}
	}
	if writes < 7 { // the two action routes, sign-out, four webhooks
		t.Fatalf("only %d state-changing routes found; the walk is broken", writes)
	}
	if n, _ := st.Client.AuditEntry.Query().Count(ctx); n != 0 {
		t.Errorf("%d audit entries: a refused request reached an action", n)
	}
	if n, _ := st.CountDeliveries(ctx); n != 0 {
		t.Errorf("%d CI deliveries stored from unsigned requests", n)
	}
}

// TestSecurityHeaders checks the headers every page carries, and HSTS only under TLS.
func TestSecurityHeaders(t *testing.T) {
	p := demoPortal(t)
	res, _ := p.get(t, "/catalog")
	for h, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
	} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("%s = %q, want %q", h, res.Header.Get(h), want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP allows inline scripts: %q", csp)
	}
	if res.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	res, _ = p.get(t, "/catalog", "X-Forwarded-Proto", "https")
	if !strings.Contains(res.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("HSTS behind TLS = %q", res.Header.Get("Strict-Transport-Security"))
	}
	for _, c := range res.Cookies() {
		if !c.HttpOnly || c.SameSite == http.SameSiteNoneMode {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%v", c.Name, c.HttpOnly, c.SameSite)
		}
	}
}
