package e2e

import (
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestPanelErrorsInPlace: in a real browser, a lazy panel whose request fails shows the
// failure inside the panel with a retry, never "Loading…" forever — whether the portal could
// not be reached or answered with an error — and the retry loads the panel.
func TestPanelErrorsInPlace(t *testing.T) {
	_, page := demo(t)
	// The portal unreachable for the runtime panel's request.
	must(t, page.Route("**/catalog/component/default/payment/runtime", func(r playwright.Route) { r.Abort("connectionrefused") }))
	_, err := page.Goto("/catalog/component/default/payment?tab=runtime")
	must(t, err)
	card := page.Locator("#runtime[data-testid=panel-error]")
	must(t, expect.Locator(card).ToBeVisible())
	must(t, expect.Locator(card.GetByTestId("panel-error-message")).ToContainText("could not be reached"))
	must(t, expect.Locator(page.GetByTestId("runtime-loading")).ToHaveCount(0))
	// The rest of the page is there and works.
	must(t, expect.Locator(page.Locator("h1")).ToContainText("Payment"))
	// Back online: Retry loads the real panel in place.
	must(t, page.Unroute("**/catalog/component/default/payment/runtime"))
	must(t, card.GetByTestId("panel-retry").Click())
	must(t, expect.Locator(page.Locator("#runtime")).Not().ToHaveAttribute("data-testid", "panel-error"))
	must(t, expect.Locator(page.Locator("#runtime h2")).ToContainText("Runtime"))

	// The portal answering with an error (here: the entity is gone) is swapped into the
	// panel too, with the status and the message for people.
	_, err = page.Evaluate(`() => htmx.ajax("GET", "/catalog/component/default/no-such-service/runtime", {target: "#runtime", swap: "outerHTML"})`)
	must(t, err)
	must(t, expect.Locator(page.Locator("#runtime[data-testid=panel-error]")).ToContainText("it does not exist"))
	must(t, expect.Locator(page.Locator("#runtime")).ToContainText("status 404"))
}
