package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/testenv"
)

// axeResult is the part of axe-core's answer the test reports.
type axeResult struct {
	Violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any  `json:"target"`
			HTML   string `json:"html"`
		} `json:"nodes"`
	} `json:"violations"`
}

// checkA11y injects axe-core into the page and returns every WCAG 2 A/AA violation, one line
// each: the rule, its impact, the element and the page.
func checkA11y(t *testing.T, page playwright.Page, axe string) []string {
	t.Helper()
	if _, err := page.Evaluate(axe); err != nil {
		t.Fatalf("injecting axe-core into %s: %v", page.URL(), err)
	}
	raw, err := page.Evaluate(`async () => JSON.stringify(await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]}))`)
	if err != nil {
		t.Fatalf("axe on %s: %v", page.URL(), err)
	}
	var res axeResult
	if err := json.Unmarshal([]byte(raw.(string)), &res); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range res.Violations {
		for _, n := range v.Nodes {
			html := n.HTML
			if len(html) > 160 {
				html = html[:160] + "…"
			}
			out = append(out, fmt.Sprintf("%s [%s] %s: %v %s", v.ID, v.Impact, v.Help, n.Target, html))
		}
	}
	return out
}

// TestAccessibility runs axe-core's WCAG 2 A and AA rules over every page kind of the demo
// portal, after its lazy panels have loaded, and fails on any violation, naming the rule, the
// element and the page.
func TestAccessibility(t *testing.T) {
	_, page := demo(t)
	axe := testenv.Axe(t)
	pages := []string{"/catalog", "/catalog?kind=component&lifecycle=production", "/systems", "/apis", "/teams",
		"/catalog/component/default/payment", "/catalog/component/default/payment?tab=runtime", "/catalog/component/default/payment?tab=api",
		"/catalog/component/default/payment?tab=relations", "/catalog/component/default/payment/triage",
		"/catalog/api/default/payment-api?tab=api", "/catalog/group/default/team-payments", "/catalog/user/default/alice.nguyen",
		"/catalog/system/default/checkout", "/catalog/health", "/runbooks", "/runbooks/payment.md", "/clusters", "/fire", "/scorecards",
		"/catalog/component/default/does-not-exist"}
	all := a11yPages(t, page, axe, pages...)
	if len(all) > 0 {
		t.Errorf("%d WCAG 2 A/AA violations:\n%s", len(all), strings.Join(all, "\n"))
	}
}

// a11yPages checks every path and returns the violations, each prefixed with its page.
func a11yPages(t *testing.T, page playwright.Page, axe string, paths ...string) []string {
	t.Helper()
	var all []string
	for _, path := range paths {
		if path != "" {
			if _, err := page.Goto(path); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, a11yHere(t, page, axe)...)
	}
	return all
}

// lazyLoaded waits until every lazy panel of the page has loaded (or 8 s have passed).
func lazyLoaded(page playwright.Page) {
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := page.Locator("[hx-trigger=load]").Count(); err != nil || n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// a11yHere checks the page as it is, once its lazy panels have loaded.
func a11yHere(t *testing.T, page playwright.Page, axe string) []string {
	t.Helper()
	lazyLoaded(page)
	var out []string
	where := page.URL()
	if u, err := url.Parse(where); err == nil {
		where = u.RequestURI()
	}
	for _, v := range checkA11y(t, page, axe) {
		out = append(out, where+": "+v)
	}
	return out
}

// TestAccessibilitySignedIn runs the same check over the pages that only have something to
// show signed in on a live estate: the on-call home page, a production service's tabs with
// its cluster state, charts, alerts, traces and CI runs, its workload page, an action's
// confirmation step and outcome, the audit log, pipelines, clusters, logs and a trace. Then
// it operates the workload page from the keyboard alone: every control is reached with Tab
// and shows its focus, the confirmation step takes focus where the typing goes, the outcome
// takes it next, and the rollout's progress is announced in the live region without moving
// focus. (The alert, triage-with-suspects and rollback confirmation pages are checked in
// TestTriageScriptedIncidents, which has an incident to show on them.)
func TestAccessibilitySignedIn(t *testing.T) {
	s := startTriageStack(t)
	axe := testenv.Axe(t)
	// A CI run of the notification service, so its delivery tab and the pipelines page have one.
	for i, stages := range []string{`{"name": "unit tests", "status": "success"}`, `{"name": "docker build", "status": "running"}`} {
		b := []byte(fmt.Sprintf(`{"source": "jenkins", "project": "acme/notification", "timestamp": "2026-11-30T10:00:%02dZ", "run": {"id": "41", "name": "notification-ci",
			"status": "running", "commit": "%s", "branch": "main", "author": "joao.silva"}, "stages": [%s]}`, i, strings.Repeat("a", 40), stages))
		req, _ := http.NewRequest(http.MethodPost, s.portal.URL+"/webhooks/pipeline", bytes.NewReader(b))
		req.Header.Set("X-Portico-Signature-256", ingest.Sign("e2e-secret", b))
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != http.StatusAccepted {
			t.Fatalf("CI event: %v %v", err, res)
		}
	}
	page := newPage(t, s.portal)
	signIn(t, page, "/", "kemi.adeyemi")
	// Every section of the top bar fits at 1280 px beside the user and the search box.
	if fits, err := page.Evaluate(`() => { const n = document.querySelector("nav.nav"); return n.scrollWidth <= n.clientWidth; }`); err != nil || fits != true {
		t.Errorf("the navigation overflows at 1280 px (%v)", err)
	}
	svc := "/catalog/component/default/notification"
	workload := svc + "/workloads/production/messaging/notification"
	all := a11yPages(t, page, axe, "", svc, svc+"?tab=runtime", svc+"?tab=observability", svc+"?tab=delivery",
		svc+"/triage", workload, "/pipelines", "/clusters", "/alerts", "/fire", "/me", "/catalog/health",
		"/scorecards", "/scorecards?team=group%3Adefault%2Fteam-payments&lifecycle=production", "/scorecards/initiatives/probes-everywhere")
	// Logs, from the runtime tab, and a trace, from the observability tab.
	_, err := page.Goto(svc + "?tab=runtime")
	must(t, err)
	must(t, page.Locator("[data-testid=workload-logs]").First().Click())
	must(t, expect.Locator(page.Locator("#log-lines")).ToBeAttached())
	all = append(all, a11yHere(t, page, axe)...)
	// (On a stack just started, Jaeger may take a while to hold notification's first traces.)
	trace := page.Locator(`[data-testid=trace-table] a[href^="/traces/"]`).First()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		_, err = page.Goto(svc + "?tab=observability")
		must(t, err)
		if trace.WaitFor(playwright.LocatorWaitForOptions{Timeout: playwright.Float(5000)}) == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	must(t, trace.Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/traces/`)))
	all = append(all, a11yHere(t, page, axe)...)
	// A chart's data table, opened (on a stack just started, once Prometheus has two scrapes).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err = page.Goto(svc + "?tab=observability")
		must(t, err)
		if page.Locator("#metrics svg").First().WaitFor(playwright.LocatorWaitForOptions{Timeout: playwright.Float(5000)}) == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	must(t, page.Locator("#metrics [data-testid=chart-data] summary").First().Click())
	must(t, expect.Locator(page.Locator("#metrics [data-testid=chart-data] tbody tr").First()).ToBeVisible())
	all = append(all, a11yHere(t, page, axe)...)

	// The keyboard alone, on the workload page.
	_, err = page.Goto(workload)
	must(t, err)
	must(t, expect.Locator(page.Locator("[data-testid=rollout-state]")).ToHaveText("complete", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(20000)}))
	keyboardReach(t, page, workload)
	for _, path := range []string{"/", svc, svc + "?tab=delivery", "/catalog", "/alerts"} {
		_, err = page.Goto(path)
		must(t, err)
		lazyLoaded(page)
		keyboardReach(t, page, path)
	}
	_, err = page.Goto(workload)
	must(t, err)
	replicas, err := page.Locator("[data-testid=replicas-input]").InputValue()
	must(t, err)
	var n int
	fmt.Sscan(replicas, &n)
	focusBy(t, page, "replicas-input", 80)
	must(t, page.Keyboard().Press("Control+A"))
	must(t, page.Keyboard().Type(strconv.Itoa(n+1)))
	must(t, page.Keyboard().Press("Tab"))
	must(t, expect.Locator(page.Locator("[data-testid=scale-reason]")).ToBeFocused())
	must(t, page.Keyboard().Type("a11y check: one more notification worker"))
	must(t, page.Keyboard().Press("Enter"))
	// The confirmation step: the reason came along, so the typed confirmation has focus.
	must(t, expect.Locator(page.Locator("[data-testid=confirm-name]")).ToBeFocused())
	all = append(all, a11yHere(t, page, axe)...)
	must(t, page.Keyboard().Type("notification"))
	must(t, page.Keyboard().Press("Enter"))
	// The outcome has focus; the rollout's progress is announced, and focus stays put.
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Scale succeeded"))
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToBeFocused())
	must(t, expect.Locator(page.Locator("#live")).ToContainText(fmt.Sprintf("of %d updated", n+1), playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(60000)}))
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToBeFocused())
	all = append(all, a11yHere(t, page, axe)...)
	all = append(all, a11yPages(t, page, axe, "/audit")...)
	must(t, expect.Locator(page.Locator("[data-testid=audit]")).ToContainText("one more notification worker"))

	// An admin sees the exemption forms on a service's scorecard; the form grants one.
	admin := newPage(t, s.portal)
	signIn(t, admin, svc, "jonas.berg")
	form := admin.Locator("[data-testid=scorecard] [data-check=readiness-probe] [data-testid=exempt-form]")
	must(t, admin.Locator("[data-testid=scorecard] [data-check=readiness-probe] summary").Click())
	all = append(all, a11yHere(t, admin, axe)...)
	must(t, form.Locator("[data-testid=exempt-reason]").Fill("probes land with NOTIF-88 next sprint"))
	must(t, form.Locator("[data-testid=exempt]").Click())
	must(t, expect.Locator(admin.Locator("[data-testid=scorecard] [data-testid=flash]")).ToContainText("succeeded"))
	must(t, expect.Locator(admin.Locator("[data-testid=exempt-checks]")).ToContainText("NOTIF-88", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(10000)}))
	all = append(all, a11yHere(t, admin, axe)...)

	// Focus survives an htmx swap: choosing a chart range from the keyboard keeps focus on it.
	_, err = page.Goto(svc + "?tab=observability")
	must(t, err)
	must(t, expect.Locator(page.Locator("[data-testid=range-6h]")).ToBeVisible(playwright.LocatorAssertionsToBeVisibleOptions{Timeout: playwright.Float(15000)}))
	must(t, page.Locator("[data-testid=range-6h]").Focus())
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(page.Locator("[data-testid=range-6h]")).ToHaveClass(regexp.MustCompile(`\bactive\b`)))
	must(t, expect.Locator(page.Locator("[data-testid=range-6h]")).ToBeFocused())
	if len(all) > 0 {
		t.Errorf("%d WCAG 2 A/AA violations:\n%s", len(all), strings.Join(all, "\n"))
	}
}

// keyboardReach tabs through the page from its top: the skip link comes first, and every
// control is reached and shows its focus.
func keyboardReach(t *testing.T, page playwright.Page, path string) {
	t.Helper()
	must(t, page.Keyboard().Press("Tab"))
	must(t, expect.Locator(page.Locator("a.skip")).ToBeFocused())
	unreached, unmarked := tabThrough(t, page, 500)
	if len(unreached) > 0 {
		t.Errorf("%s: controls Tab never reaches: %v", path, unreached)
	}
	if len(unmarked) > 0 {
		t.Errorf("%s: controls that show no focus: %v", path, unmarked)
	}
}

// tabThrough presses Tab up to max times from where focus is, marking each element it
// reaches, until focus leaves the page or comes round again. It returns the visible, enabled
// controls of the page it never reached, and those it reached that showed no focus outline.
func tabThrough(t *testing.T, page playwright.Page, max int) (unreached, unmarked []string) {
	t.Helper()
	seen := map[string]bool{}
	_, err := page.Evaluate(`() => { if (document.activeElement) document.activeElement.dataset.reached = "1"; }`)
	must(t, err)
	for range max {
		must(t, page.Keyboard().Press("Tab"))
		r, err := page.Evaluate(`() => {
			const a = document.activeElement;
			if (!a || a === document.body) return {done: true};
			const first = a.dataset.reached === "1";
			a.dataset.reached = "1";
			const s = getComputedStyle(a);
			const shown = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
			return {done: first, shown: shown, what: a.tagName.toLowerCase() + " " + (a.dataset.testid || a.getAttribute("aria-label") || a.textContent.trim().slice(0, 40))};
		}`)
		must(t, err)
		m := r.(map[string]any)
		if m["done"] == true {
			break
		}
		what, _ := m["what"].(string)
		if m["shown"] != true && !seen[what] {
			unmarked = append(unmarked, what)
		}
		seen[what] = true
	}
	left, err := page.Evaluate(`() => Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex="0"]'))
		.filter(e => { const d = e.closest("details:not([open])"); return !d || (e.tagName === "SUMMARY" && e.parentElement === d); })
		.filter(e => !e.disabled && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden" && e.dataset.reached !== "1")
		.map(e => e.tagName.toLowerCase() + " " + (e.dataset.testid || e.getAttribute("aria-label") || e.textContent.trim().slice(0, 40)))`)
	must(t, err)
	for _, x := range left.([]any) {
		unreached = append(unreached, x.(string))
	}
	return unreached, unmarked
}

// focusBy presses Tab from the top of the page until the element with data-testid has focus.
func focusBy(t *testing.T, page playwright.Page, testid string, max int) {
	t.Helper()
	must(t, page.Locator("a.skip").Focus())
	for range max {
		must(t, page.Keyboard().Press("Tab"))
		id, err := page.Evaluate(`() => document.activeElement && document.activeElement.dataset.testid || ""`)
		must(t, err)
		if id == testid {
			return
		}
	}
	t.Fatalf("Tab never reached %s", testid)
}
