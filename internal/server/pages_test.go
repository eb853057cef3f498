package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestCatalogList(t *testing.T) {
	p := demoPortal(t)
	tests := []struct {
		name      string
		url       string
		wantNames []string // entity links that must appear
		notNames  []string
		wantCount string
	}{
		{name: "search by name", url: "/catalog?q=pay", wantNames: []string{"Payment Service", "Payment API"}, notNames: []string{"Search Service"}},
		{name: "search by description", url: "/catalog?q=geocodes", wantNames: []string{"Maps Service"}, wantCount: "1"},
		{name: "search by tag", url: "/catalog?q=rust", wantNames: []string{"Maps Service"}},
		{name: "filter by owner", url: "/catalog?kind=component&owner=group:default/team-payments", wantNames: []string{"Payment Service", "Pricing Service", "Legacy billing"}, notNames: []string{"Maps Service"}, wantCount: "3"},
		{name: "two owners OR", url: "/catalog?kind=component&owner=group:default/team-payments&owner=group:default/team-geo", wantNames: []string{"Maps Service", "Payment Service"}, wantCount: "4"},
		{name: "systems page", url: "/systems", wantNames: []string{"Checkout", "Identity platform"}, notNames: []string{"Payment Service"}},
		{name: "apis page", url: "/apis", wantNames: []string{"Payment API", "Pricing API"}, notNames: []string{"Payment Service"}},
		{name: "case-insensitive", url: "/catalog?q=PAYMENT%20service", wantNames: []string{"Payment Service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.doc(t, tt.url, http.StatusOK)
			got := texts(d.Find("[data-testid=entity-link]"))
			for _, w := range tt.wantNames {
				if !slices.Contains(got, w) {
					t.Errorf("results %v lack %q", got, w)
				}
			}
			for _, n := range tt.notNames {
				if slices.Contains(got, n) {
					t.Errorf("results %v should not contain %q", got, n)
				}
			}
			if tt.wantCount != "" {
				if c := d.Find("[data-testid=result-count] strong").Text(); c != tt.wantCount {
					t.Errorf("count = %s, want %s", c, tt.wantCount)
				}
			}
		})
	}
}

func TestCatalogFacetsAndPaging(t *testing.T) {
	p := demoPortal(t)
	d := p.doc(t, "/catalog?kind=user", http.StatusOK)
	if got := d.Find("[data-testid=facet-kind-user] .count").Text(); got != "15" {
		t.Errorf("kind facet count for user = %q, want 15", got)
	}
	// With kind=user selected, the other kinds still show how many they would add.
	if got := d.Find("[data-testid=facet-kind-component] .count").Text(); got == "" || got == "0" {
		t.Errorf("kind facet for component should keep its count while user is selected, got %q", got)
	}
	if href, _ := d.Find("[data-testid=facet-kind-user]").Attr("href"); strings.Contains(href, "kind=user") {
		t.Errorf("a selected facet's link should remove it: %s", href)
	}
	all := p.doc(t, "/catalog", http.StatusOK)
	if n := all.Find("[data-testid=entity-row]").Length(); n != 25 {
		t.Errorf("page 1 has %d rows, want 25", n)
	}
	next, ok := all.Find("[data-testid=next]").Attr("href")
	if !ok {
		t.Fatal("no next page link")
	}
	page2 := p.doc(t, next, http.StatusOK)
	first := texts(all.Find("[data-testid=entity-link]"))
	second := texts(page2.Find("[data-testid=entity-link]"))
	if len(second) == 0 || slices.Contains(first, second[0]) {
		t.Errorf("page 2 %v repeats page 1", second)
	}
	// htmx asks for the body fragment only.
	res, body := p.get(t, "/catalog?q=pay", "HX-Request", "true", "HX-Target", "catalog-body")
	if res.StatusCode != 200 || strings.Contains(body, "<html") || !strings.Contains(body, `id="catalog-body"`) {
		t.Errorf("htmx partial: status %d, full page %v", res.StatusCode, strings.Contains(body, "<html"))
	}
}

func TestBadQueries(t *testing.T) {
	p := demoPortal(t)
	for _, u := range []string{"/catalog?sort=bogus", "/catalog?page=0", "/catalog?page=abc", "/catalog/health?severity=x"} {
		d := p.doc(t, u, http.StatusBadRequest)
		if d.Find("[data-testid=error]").Length() == 0 {
			t.Errorf("%s: no error page", u)
		}
	}
	d := p.doc(t, "/catalog/component/default/nope", http.StatusNotFound)
	if msg := d.Find("[data-testid=error]").Text(); !strings.Contains(msg, `"nope"`) {
		t.Errorf("404 should name the missing entity: %s", msg)
	}
	d = p.doc(t, "/catalog?q=zzzzzz", http.StatusOK)
	if d.Find("[data-testid=empty]").Length() == 0 {
		t.Error("no-match search should show the empty state")
	}
}

func TestEntityPage(t *testing.T) {
	p := demoPortal(t)
	d := p.doc(t, "/catalog/component/default/payment", http.StatusOK)
	if got := d.Find("[data-testid=entity-title]").Text(); got != "Payment Service" {
		t.Errorf("title = %q", got)
	}
	about := d.Find("[data-testid=about]").Text()
	for _, want := range []string{"team-payments", "checkout", "production"} {
		if !strings.Contains(about, want) {
			t.Errorf("about lacks %q: %s", want, about)
		}
	}
	rb, ok := d.Find("[data-testid=runbook-link]").First().Attr("href")
	if !ok || rb != "/runbooks/payment.md" {
		t.Errorf("runbook link = %q", rb)
	}
	if got := texts(d.Find("[data-testid=tabs] a")); !slices.Equal(got, []string{"Overview", "Runtime", "API", "Relations"}) {
		t.Errorf("tabs = %v", got)
	}
	if d.Find("[data-testid=graph]").Length() != 0 {
		t.Error("the overview draws the graph; it belongs on the Relations tab")
	}
	p.doc(t, "/catalog/component/default/payment?tab=nope", http.StatusNotFound)
	d = p.doc(t, "/catalog/component/default/payment?tab=relations", http.StatusOK)
	nodes := texts(d.Find("[data-testid=graph] .node-label"))
	for _, want := range []string{"Payment Service", "pricing", "notification", "payment-db", "gateway", "payment-api"} {
		if !slices.Contains(nodes, want) {
			t.Errorf("graph nodes %v lack %q", nodes, want)
		}
	}
	rel := d.Find("[data-testid=relations]").Text()
	if !strings.Contains(rel, "dependencyOf") || !strings.Contains(rel, "component:gateway") {
		t.Errorf("relations should include the reverse edge from the gateway: %s", rel)
	}

	api := p.doc(t, "/catalog/api/default/pricing-api?tab=api", http.StatusOK)
	if def := api.Find("[data-testid=definition] code").Text(); !strings.Contains(def, "service Pricing") {
		t.Errorf("API definition from $text not shown: %q", def)
	}
	team := p.doc(t, "/catalog/group/default/team-payments", http.StatusOK)
	if n := team.Find("[data-testid=members] li").Length(); n != 2 {
		t.Errorf("team-payments members = %d, want 2", n)
	}
	owned := texts(team.Find("[data-testid=owned] [data-testid=entity-link]"))
	if !slices.Contains(owned, "Payment Service") || !slices.Contains(owned, "Checkout") {
		t.Errorf("owned = %v", owned)
	}
}

func TestTeamsAndRunbooks(t *testing.T) {
	p := demoPortal(t)
	d := p.doc(t, "/teams", http.StatusOK)
	if n := d.Find("[data-testid=team-card]").Length(); n < 8 {
		t.Errorf("teams = %d, want the 8 teams and more", n)
	}
	d = p.doc(t, "/runbooks?q=PSP", http.StatusOK)
	if got := texts(d.Find("[data-testid=runbook-row] h2")); len(got) != 1 || got[0] != "Payment Service runbook" {
		t.Errorf("runbook search PSP = %v", got)
	}
	d = p.doc(t, "/runbooks/payment.md", http.StatusOK)
	if h := d.Find("[data-testid=runbook] h2#mitigation").Length(); h != 1 {
		t.Error("runbook should render Markdown with heading ids")
	}
	if !strings.Contains(d.Text(), "Payment Service") {
		t.Error("runbook page should link back to its service")
	}
	p.doc(t, "/runbooks/../../etc/passwd", http.StatusNotFound)
}

func TestOps(t *testing.T) {
	p := demoPortal(t)
	for _, u := range []string{"/healthz", "/readyz", "/static/app.css", "/static/htmx.min.js"} {
		if res, _ := p.get(t, u); res.StatusCode != 200 {
			t.Errorf("%s = %d", u, res.StatusCode)
		}
	}
	p.get(t, "/catalog")
	_, metrics := p.get(t, "/metrics")
	if !strings.Contains(metrics, `portico_http_requests_total{code="200",method="GET",route="/catalog"}`) ||
		!strings.Contains(metrics, `portico_http_request_duration_seconds_bucket{method="GET",route="/catalog"`) {
		t.Errorf("metrics lack per-route series:\n%s", metrics)
	}
	res, _ := p.get(t, "/catalog")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Error("no request ID header")
	}
}

func TestRunbookFromSource(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"svc/catalog-info.yaml": `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {portico.dev/runbook: ./docs/runbook.md}
  links:
    - {url: ../../outside.md, title: Escape, type: runbook}
spec: {type: service, lifecycle: production, owner: team-payments}
`,
		"svc/docs/runbook.md": "# Ledger runbook\n\nReconcile the ledger.\n\n<img src=x onerror=alert(1)>\n",
	})
	p := newTestPortal(t, dir)
	d := p.doc(t, "/catalog/component/default/ledger", http.StatusOK)
	href, _ := d.Find("[data-testid=runbook-link]").Attr("href")
	if href != "/runbooks/source/local/svc/docs/runbook.md" {
		t.Fatalf("runbook link = %q", href)
	}
	rb := p.doc(t, href, http.StatusOK)
	if got := rb.Find("[data-testid=runbook] h1").Text(); got != "Ledger runbook" {
		t.Errorf("runbook title = %q", got)
	}
	if html, _ := rb.Find("[data-testid=runbook]").Html(); strings.Contains(html, "onerror") {
		t.Errorf("runbook HTML not sanitized: %s", html)
	}
	list := p.doc(t, "/runbooks?q=reconcile", http.StatusOK)
	if got := texts(list.Find("[data-testid=runbook-row] h2")); !slices.Contains(got, "Ledger runbook") {
		t.Errorf("runbook list %v lacks the source's runbook", got)
	}
	p.doc(t, "/runbooks/source/local/../../outside.md", http.StatusNotFound)
}
