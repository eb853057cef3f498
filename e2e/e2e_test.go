// Package e2e drives the real portal binary with a real browser (Debian's Chromium through
// playwright-go), as people use it.
package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"

	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var expect = playwright.NewPlaywrightAssertions(5000)

// demo starts the portal on the demo catalog and runbooks and opens a page in a fresh context.
func demo(t *testing.T) (*testenv.Portal, playwright.Page) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	portal := testenv.StartPortal(t, "PORTICO_CATALOG_DIR="+filepath.Join(root, "catalog"), "PORTICO_RUNBOOKS_DIR="+filepath.Join(root, "runbooks"))
	return portal, newPage(t, portal)
}

// newPage opens a page on the portal in a fresh browser context.
func newPage(t *testing.T, portal *testenv.Portal) playwright.Page {
	t.Helper()
	ctx, err := testenv.Browser(t).NewContext(playwright.BrowserNewContextOptions{
		BaseURL: playwright.String(portal.URL), Viewport: &playwright.Size{Width: 1280, Height: 900},
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := ctx.NewPage()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			screenshot(t, page)
		}
		ctx.Close()
	})
	return page
}

// screenshot saves the page for a failed test under e2e/artifacts/.
func screenshot(t *testing.T, page playwright.Page) {
	dir := "artifacts"
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if _, err := page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(p), FullPage: playwright.Bool(true)}); err == nil {
		t.Logf("screenshot: e2e/%s", p)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSearchFilterOpenAndRunbook(t *testing.T) {
	_, page := demo(t)
	_, err := page.Goto("/catalog")
	must(t, err)

	// Search as you type: htmx replaces the results and the URL follows.
	must(t, page.Locator("[data-testid=catalog-search]").PressSequentially("pay"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`q=pay`)))
	links := page.Locator("[data-testid=entity-link]")
	must(t, expect.Locator(links.First()).ToHaveText("Payment Service"))
	must(t, expect.Locator(links.Filter(playwright.LocatorFilterOptions{HasText: "Search Service"})).ToHaveCount(0))

	// Filter by owner with the facet.
	_, err = page.Goto("/catalog?kind=component")
	must(t, err)
	must(t, page.Locator("[data-testid=facet-owner-team-payments]").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`owner=group%3Adefault%2Fteam-payments`)))
	must(t, expect.Locator(page.Locator("[data-testid=result-count] strong")).ToHaveText("3"))
	rows, err := page.Locator("[data-testid=entity-row]").AllInnerTexts()
	must(t, err)
	for _, r := range rows {
		if !strings.Contains(r, "team-payments") {
			t.Errorf("row not owned by team-payments after filtering: %q", r)
		}
	}

	// Open the service.
	must(t, page.Locator("[data-testid=entity-link]", playwright.PageLocatorOptions{HasText: "Payment Service"}).Click())
	must(t, expect.Locator(page.Locator("[data-testid=entity-title]")).ToHaveText("Payment Service"))
	must(t, page.Locator("[data-testid=tab-relations]").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?tab=relations$`)))
	must(t, expect.Locator(page.Locator("[data-testid=graph] [data-testid=graph-node]").First()).ToBeVisible())
	must(t, page.Locator("[data-testid=tab-overview]").Click())

	// Follow its runbook link.
	must(t, page.Locator("[data-testid=runbook-link]").First().Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/runbooks/payment\.md$`)))
	must(t, expect.Locator(page.Locator("[data-testid=runbook] h1")).ToHaveText("Payment Service runbook"))
}

func TestKeyboardSearch(t *testing.T) {
	_, page := demo(t)
	_, err := page.Goto("/teams")
	must(t, err)
	must(t, page.Keyboard().Press("/"))
	must(t, expect.Locator(page.Locator("[data-testid=global-search]")).ToBeFocused())
	must(t, page.Keyboard().Type("maps"))
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(page.Locator("[data-testid=entity-link]").First()).ToHaveText("Maps Service"))
}

func TestPhoneLayoutAndErrors(t *testing.T) {
	_, page := demo(t)
	must(t, page.SetViewportSize(390, 844))
	for _, u := range []string{"/catalog", "/catalog/component/default/payment", "/teams", "/catalog/health", "/runbooks/payment.md"} {
		_, err := page.Goto(u)
		must(t, err)
		width, err := page.Evaluate("document.documentElement.scrollWidth")
		must(t, err)
		if w, ok := width.(int); !ok || w > 390 {
			t.Errorf("%s is %vpx wide on a 390px phone: content overflows", u, width)
		}
	}
	// The filters start folded on a phone and open on demand.
	_, err := page.Goto("/catalog")
	must(t, err)
	facet := page.Locator("[data-testid=facet-kind-component]")
	must(t, expect.Locator(facet).ToBeHidden())
	must(t, page.Locator("details.facets > summary").Click())
	must(t, expect.Locator(facet).ToBeVisible())
	res, err := page.Goto("/catalog/component/default/does-not-exist")
	must(t, err)
	if res.Status() != 404 {
		t.Errorf("status = %d, want 404", res.Status())
	}
	must(t, expect.Locator(page.Locator("[data-testid=error] h1")).ToHaveText("Not found"))
}
