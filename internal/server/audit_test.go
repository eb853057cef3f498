package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/store"
)

// TestAuditPagesAndExports fills the audit log and reads it back through the page (with
// filters), the JSON and CSV exports and the API; each completed entry is also a log line.
func TestAuditPagesAndExports(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	al := audit.New(st.Client, slog.New(slog.NewJSONHandler(&logs, nil)))
	for i, e := range []struct {
		actor, action, name string
		result              audit.Result
		err                 error
	}{
		{"alice.nguyen@acme.example", "deploy", "payment", audit.Succeeded, nil},
		{"carla.mendes@acme.example", "deploy", "payment", audit.Denied, errors.New("carla may not deploy payment")},
		{"kemi.adeyemi@acme.example", "restart", "search", audit.Failed, errors.New("cluster unreachable")},
	} {
		en, err := al.Begin(ctx, audit.Entry{RequestID: "req-" + string(rune('a'+i)), Actor: e.actor, Action: e.action, Entity: "component:default/" + e.name,
			Cluster: "production", Namespace: "payments", Kind: "Deployment", Name: e.name, Before: "replicas 3", Reason: "why, \"quoted\"", SourceIP: "10.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := al.Finish(ctx, en.ID, e.result, "replicas 4", e.err); err != nil {
			t.Fatal(err)
		}
	}
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: filepath.Join("..", "..", "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	srv := New(Deps{Catalog: r, DB: st, Auth: headerAuth{}, Audit: al, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("X-Test-User", "oscar")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	_, body := get("/audit")
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	if n := d.Find("[data-testid=audit-row]").Length(); n != 3 {
		t.Errorf("audit page rows = %d, want 3", n)
	}
	_, body = get("/audit?result=denied")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(body))
	if d.Find("[data-testid=audit-row]").Length() != 1 || !strings.Contains(d.Find("[data-testid=audit]").Text(), "carla may not deploy payment") {
		t.Errorf("denied filter: %q", d.Find("[data-testid=audit]").Text())
	}
	_, body = get("/audit?entity=component:default/search")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(body))
	if d.Find("[data-testid=audit-row]").Length() != 1 || !strings.Contains(d.Find("h1").Text(), "component:default/search") {
		t.Errorf("per-service log: %q rows %d", d.Find("h1").Text(), d.Find("[data-testid=audit-row]").Length())
	}
	if res, _ := get("/audit?result=maybe"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad filter = %d, want 400", res.StatusCode)
	}

	res, body := get("/audit/export?format=json&action=deploy")
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(body), &entries); err != nil || len(entries) != 2 || !strings.Contains(res.Header.Get("Content-Disposition"), ".json") {
		t.Errorf("JSON export: %v, %d entries, %s", err, len(entries), body)
	}
	res, body = get("/audit/export?format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "id" || rows[1][18] != "failed" || rows[1][10] != `why, "quoted"` || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("CSV export: %v %q", err, rows)
	}
	var api struct {
		Items []audit.Entry `json:"items"`
		Next  int           `json:"next"`
	}
	_, body = get("/api/v1/audit?limit=2")
	if err := json.Unmarshal([]byte(body), &api); err != nil || len(api.Items) != 2 || api.Next == 0 {
		t.Errorf("API page: %v %s", err, body)
	}
	_, body = get("/api/v1/audit?limit=2&before=" + itoa(api.Next))
	if err := json.Unmarshal([]byte(body), &api); err != nil || len(api.Items) != 1 || api.Items[0].Actor != "alice.nguyen@acme.example" {
		t.Errorf("API second page: %v %s", err, body)
	}
	// No route edits or deletes entries: the route table has only GETs under the audit paths,
	// and any other method, sent by an admin with a valid CSRF token, finds no route (405).
	for _, r := range srv.echo.Routes() {
		if (strings.HasPrefix(r.Path, "/audit") || strings.HasPrefix(r.Path, "/api/v1/audit")) && r.Method != http.MethodGet {
			t.Errorf("route %s %s could change the audit log", r.Method, r.Path)
		}
	}
	res, _ = get("/audit")
	var csrf *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "portico_csrf" {
			csrf = c
		}
	}
	if csrf == nil {
		t.Fatal("no CSRF cookie from the audit page")
	}
	for _, path := range []string{"/api/v1/audit", "/audit", "/audit/export"} {
		for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost} {
			req, _ := http.NewRequest(m, ts.URL+path, nil)
			req.Header.Set("X-Test-User", "jonas")
			req.Header.Set("X-CSRF-Token", csrf.Value)
			req.AddCookie(csrf)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", m, path, res.StatusCode)
			}
		}
	}
	if n := strings.Count(logs.String(), `"msg":"audit"`); n != 3 || !strings.Contains(logs.String(), `"request_id":"req-b"`) {
		t.Errorf("audit log lines = %d:\n%s", n, logs.String())
	}

	// The user's page: identity, teams, roles and their own actions.
	_, body = getAs(t, ts.URL+"/me", "alice")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(body))
	if !strings.Contains(d.Find("[data-testid=me-groups]").Text(), "Payments") || !strings.Contains(d.Find("[data-testid=me-roles]").Text(), "deployer") ||
		!strings.Contains(d.Find("[data-testid=me-roles]").Text(), "services your teams own") || d.Find("[data-testid=audit-row]").Length() != 1 {
		t.Errorf("alice's page: groups %q roles %q audit rows %d", d.Find("[data-testid=me-groups]").Text(), d.Find("[data-testid=me-roles]").Text(), d.Find("[data-testid=audit-row]").Length())
	}
	if !strings.Contains(d.Text(), "Payment Service") {
		t.Error("alice's page does not list what her team owns")
	}
}

func getAs(t *testing.T, u, user string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-Test-User", user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }
