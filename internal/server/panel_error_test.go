package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/policy"
)

// TestPanelErrors: a lazy panel whose request fails answers, with its real status, an error
// card for the panel — what failed, that the rest of the page works, and a retry of the same
// URL — never a full page swapped into the card and never "Loading…" left in place.
func TestPanelErrors(t *testing.T) {
	st, r, books := catalogEnv(t, "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	adminsOnly := policy.Default()
	adminsOnly.Bindings = []policy.Binding{{Groups: []string{"portico-admins"}, Role: "admin"}}
	serve := func(pol *policy.Policy) *httptest.Server {
		ts := httptest.NewServer(New(Deps{Catalog: r, Runbooks: books, DB: st, Auth: headerAuth{}, Policy: pol, Audit: audit.New(st.Client, log),
			Pipelines: st, Log: log}))
		t.Cleanup(ts.Close)
		return ts
	}
	scoped, forbidden := serve(checkoutViewers()), serve(adminsOnly)
	panels := []string{"runtime", "metrics", "alerts", "traces", "dependencies", "pipelines", "dora"}
	check := func(t *testing.T, ts *httptest.Server, user, path string, wantStatus int, wantMsg string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("X-Test-User", user)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "the-panel")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body := string(b)
		if res.StatusCode != wantStatus || res.Header.Get("X-Portico-Panel-Error") != "1" {
			t.Errorf("%s = %d (panel error header %q), want %d with the panel error header", path, res.StatusCode, res.Header.Get("X-Portico-Panel-Error"), wantStatus)
		}
		if strings.Contains(body, "<html") || strings.Contains(body, "Loading") {
			t.Errorf("%s answers a whole page or a loading state: %.200s", path, body)
		}
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
		card := d.Find("section#the-panel[data-testid=panel-error]")
		if card.Length() != 1 {
			t.Fatalf("%s: no error card with the panel's id: %.300s", path, body)
		}
		if msg := card.Find("[data-testid=panel-error-message]").Text(); !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: message %q, want %q", path, msg, wantMsg)
		}
		if !strings.Contains(card.Text(), "The rest of this page still works") {
			t.Errorf("%s: the card does not say the rest works", path)
		}
		if retry, _ := card.Find("[data-testid=panel-retry]").Attr("hx-get"); retry != path {
			t.Errorf("%s: retry loads %q, want the same URL", path, retry)
		}
	}
	for _, p := range panels {
		t.Run("not found "+p, func(t *testing.T) {
			check(t, scoped, "oscar", "/catalog/component/default/no-such-service/"+p, http.StatusNotFound, "it does not exist")
		})
		t.Run("hidden "+p, func(t *testing.T) {
			check(t, scoped, "oscar", "/catalog/component/default/maps/"+p, http.StatusNotFound, "it does not exist, or your roles do not let you see it")
		})
		t.Run("forbidden "+p, func(t *testing.T) {
			check(t, forbidden, "oscar", "/catalog/component/default/payment/"+p, http.StatusForbidden, "None of your groups has a role that may view Portico")
		})
	}
	// A backend that fails: the pipelines database is gone. The card says so in words for
	// people; the database's own error text stays in the log.
	st.Close()
	for _, p := range []string{"pipelines", "dora"} {
		t.Run("unavailable "+p, func(t *testing.T) {
			check(t, scoped, "oscar", "/catalog/component/default/payment/"+p, http.StatusInternalServerError, "could not complete this request")
		})
	}
}
