package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"

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
		"/catalog/system/default/checkout", "/catalog/health", "/runbooks", "/runbooks/payment.md", "/clusters", "/fire",
		"/catalog/component/default/does-not-exist"}
	var all []string
	for _, path := range pages {
		if _, err := page.Goto(path); err != nil {
			t.Fatal(err)
		}
		// Let htmx load the lazy panels first: their content is part of the page.
		_ = page.Locator("[hx-trigger=load]").First().WaitFor(playwright.LocatorWaitForOptions{State: playwright.WaitForSelectorStateDetached, Timeout: playwright.Float(5000)})
		for _, v := range checkA11y(t, page, axe) {
			all = append(all, path+": "+v)
		}
	}
	if len(all) > 0 {
		t.Errorf("%d WCAG 2 A/AA violations:\n%s", len(all), strings.Join(all, "\n"))
	}
}
