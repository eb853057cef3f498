package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/pipeline"
)

// scopedListsPortal is the demo catalog under the checkout-viewer policy, with an audit log
// and CI runs of maps (system geo) and payment (system checkout).
func scopedListsPortal(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	// One more geo service whose file carries a warning, for Catalog health.
	extra := writeFiles(t, map[string]string{"geo.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: geo-secret\n  links: [{url: \"javascript:x\"}]\nspec: {type: service, lifecycle: production, owner: team-geo, system: geo}\n"})
	st, r, books := catalogEnv(t, "", &ingest.DirSource{SourceName: "extra", Dir: extra, Globs: []string{"*.yaml"}})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	al := audit.New(st.Client, log)
	for _, ent := range []string{"component:default/maps", "component:default/payment", "component:default/maps"} {
		e, err := al.Begin(ctx, audit.Entry{RequestID: "req-" + ent, Actor: "kemi.adeyemi@acme.example", Action: "restart", Entity: ent, Cluster: "production", Namespace: "x", Kind: "Deployment", Name: strings.TrimPrefix(ent, "component:default/")})
		if err != nil {
			t.Fatal(err)
		}
		if err := al.Finish(ctx, e.ID, audit.Denied, "", errors.New("test")); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	for _, p := range []string{"acme/maps", "acme/payment"} {
		ev := pipeline.Event{Source: "generic", Kind: "run", Project: p, Run: &pipeline.Run{ID: "r-" + p, Name: "ci of " + p, Branch: "main",
			Commit: "abc", Status: pipeline.Success, StartedAt: now, UpdatedAt: now}}
		if _, err := st.RecordDelivery(ctx, "generic", "d-"+p, ev); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(New(Deps{Catalog: r, Runbooks: books, DB: st, Version: "test", Auth: headerAuth{}, Policy: checkoutViewers(),
		Audit: al, Pipelines: st, Log: log}))
	t.Cleanup(ts.Close)
	return ts
}

func getAsUser(t *testing.T, ts *httptest.Server, user, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("X-Test-User", user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestListsShowOnlyWhatUserMayView: a viewer bound to the checkout system sees, in every
// list, only checkout's entities (and the directory of teams and people); an admin sees all.
func TestListsShowOnlyWhatUserMayView(t *testing.T) {
	ts := scopedListsPortal(t)
	doc := func(user, path string) *goquery.Document {
		t.Helper()
		status, body := getAsUser(t, ts, user, path)
		if status != http.StatusOK {
			t.Fatalf("GET %s as %s = %d", path, user, status)
		}
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
		return d
	}
	hrefs := func(d *goquery.Document) string {
		var b strings.Builder
		d.Find("a").Each(func(_ int, s *goquery.Selection) { h, _ := s.Attr("href"); b.WriteString(h + "\n") })
		return b.String()
	}

	t.Run("catalog list, facets and totals", func(t *testing.T) {
		d := doc("oscar", "/catalog?kind=component")
		rows := texts(d.Find("[data-testid=entity-link]"))
		all := doc("jonas", "/catalog?kind=component")
		if got, want := d.Find("[data-testid=result-count] strong").Text(), "3"; got != want {
			t.Errorf("total = %q, want %s (payment, pricing, go-kit)", got, want)
		}
		if strings.Contains(strings.Join(rows, ","), "Maps") || strings.Contains(hrefs(d), "/maps") {
			t.Errorf("maps listed for a checkout viewer: %v", rows)
		}
		if !strings.Contains(hrefs(d), "/catalog/component/default/payment") {
			t.Errorf("payment missing from the checkout viewer's list")
		}
		if all.Find("[data-testid=entity-row]").Length() <= d.Find("[data-testid=entity-row]").Length() {
			t.Errorf("the admin sees no more than the scoped viewer: the filter is not the policy's")
		}
		for _, f := range texts(d.Find("[data-testid=facet-system] a .label")) {
			if !strings.Contains(f, "checkout") {
				t.Errorf("system facet offers %q to a checkout viewer", f)
			}
		}
	})
	t.Run("search", func(t *testing.T) {
		d := doc("oscar", "/catalog?q=map+tiles")
		if n := d.Find("[data-testid=entity-row]").Length(); n != 0 {
			t.Errorf("search for maps' description finds %d rows", n)
		}
	})
	t.Run("systems and APIs", func(t *testing.T) {
		if h := hrefs(doc("oscar", "/systems")); strings.Contains(h, "/system/default/geo") || !strings.Contains(h, "/system/default/checkout") {
			t.Errorf("systems page links: %s", h)
		}
		if h := hrefs(doc("oscar", "/apis")); strings.Contains(h, "maps-api") {
			t.Errorf("APIs page lists maps-api")
		}
	})
	t.Run("JSON API list and cursor", func(t *testing.T) {
		seen, next := 0, ""
		for page := 0; page < 20; page++ {
			path := "/api/v1/entities?kind=component&limit=2"
			if next != "" {
				path += "&cursor=" + next
			}
			_, body := getAsUser(t, ts, "oscar", path)
			var res api.EntityList
			if err := json.Unmarshal([]byte(body), &res); err != nil {
				t.Fatal(err)
			}
			if res.Total != 3 {
				t.Errorf("API total = %d, want 3", res.Total)
			}
			for _, it := range res.Items {
				seen++
				if it.Metadata.Name == "maps" {
					t.Error("API lists maps")
				}
			}
			if next = res.Next; next == "" {
				break
			}
		}
		if seen != 3 {
			t.Errorf("paging through the API gave %d entities, want 3", seen)
		}
	})
	t.Run("entity page hides neighbours", func(t *testing.T) {
		d := doc("oscar", "/catalog/component/default/payment?tab=relations")
		if strings.Contains(hrefs(d), "/notification") {
			t.Error("payment's page links notification (system messaging)")
		}
		if d.Find(".graph .node.hidden").Length() == 0 {
			t.Error("no hidden node in payment's dependency graph")
		}
		if !strings.Contains(d.Text(), "component:hidden") {
			t.Error("relations do not show notification as hidden")
		}
	})
	t.Run("teams", func(t *testing.T) {
		d := doc("oscar", "/teams")
		if d.Find("a[href='/catalog/group/default/team-geo']").Length() == 0 {
			t.Error("the directory of teams is hidden from a viewer")
		}
	})
	t.Run("runbooks", func(t *testing.T) {
		if h := hrefs(doc("oscar", "/runbooks")); strings.Contains(h, "/catalog/component/default/maps") {
			t.Error("runbooks page links maps")
		}
	})
	t.Run("pipelines page and API", func(t *testing.T) {
		d := doc("oscar", "/pipelines")
		if strings.Contains(d.Text(), "acme/maps") || !strings.Contains(d.Text(), "acme/payment") {
			t.Errorf("pipelines page: maps shown or payment missing")
		}
		for _, q := range []string{"", "?project=acme/maps"} {
			_, body := getAsUser(t, ts, "oscar", "/api/v1/pipelines/runs"+q)
			if strings.Contains(body, "acme/maps") {
				t.Errorf("runs API%s lists maps' runs", q)
			}
		}
		if status, _ := getAsUser(t, ts, "oscar", "/api/v1/dora?entity=component:default/maps"); status != http.StatusNotFound {
			t.Errorf("delivery metrics of maps = %d, want 404", status)
		}
	})
	t.Run("catalog health", func(t *testing.T) {
		for _, path := range []string{"/catalog/health", "/api/v1/catalog/errors"} {
			if _, body := getAsUser(t, ts, "oscar", path); strings.Contains(body, "geo-secret") {
				t.Errorf("%s shows a problem of an entity the user may not view", path)
			}
			if _, body := getAsUser(t, ts, "jonas", path); !strings.Contains(body, "geo-secret") {
				t.Errorf("%s hides the problem from an admin", path)
			}
		}
	})
	t.Run("audit log, export and API", func(t *testing.T) {
		for _, path := range []string{"/audit", "/audit/export?format=csv", "/audit/export?format=json", "/api/v1/audit", "/api/v1/audit?limit=1"} {
			_, body := getAsUser(t, ts, "oscar", path)
			if strings.Contains(body, "component:default/maps") {
				t.Errorf("%s shows maps' entries", path)
			}
			if !strings.Contains(body, "component:default/payment") {
				t.Errorf("%s lacks payment's entry", path)
			}
		}
		_, body := getAsUser(t, ts, "jonas", "/api/v1/audit")
		if n := strings.Count(body, `"entity":"component:default/maps"`); n != 2 {
			t.Errorf("the admin sees %d maps entries, want 2", n)
		}
	})
}
