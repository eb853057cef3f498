package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"

	"github.com/portico-dev/portico/internal/testenv"
)

// evilCatalog holds links no portal should render as links.
const evilCatalog = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: evil-links
  description: A service whose catalog file carries hostile links.
  annotations: {backstage.io/source-location: "url:javascript:alert(7)"}
  links:
    - {url: "javascript:alert(5)", title: Script link}
    - {url: "JaVaScRiPt:alert(6)", title: Mixed case}
    - {url: "data:text/html,<script>alert(8)</script>", title: Data link}
    - {url: "https://grafana.acme.example/d/evil", title: Dashboard}
spec: {type: service, lifecycle: production, owner: team-x, system: sys-x}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: sys-x
  links: [{url: "javascript:alert(9)", title: System script}]
spec: {owner: team-x}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-x
  links: [{url: "vbscript:msgbox(1)", title: Team script}]
spec: {type: team, children: [], profile: {email: "team-x@acme.example"}}
`

// TestCatalogURLsAreData: on every page that shows catalog data, no dialog opens and no link
// has a javascript:, data: or vbscript: address; the addresses are shown as text and reported
// on Catalog health.
func TestCatalogURLsAreData(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "catalog-info.yaml"), []byte(evilCatalog), 0o644))
	root, _ := testenv.RepoRoot()
	portal := testenv.StartPortal(t, "PORTICO_CATALOG_DIR="+dir, "PORTICO_RUNBOOKS_DIR="+filepath.Join(root, "runbooks"))
	page := newPage(t, portal)
	var dialogs []string
	page.OnDialog(func(d playwright.Dialog) {
		dialogs = append(dialogs, d.Message())
		d.Dismiss()
	})
	for _, path := range []string{"/catalog", "/catalog?q=evil", "/catalog/component/default/evil-links", "/catalog/system/default/sys-x",
		"/catalog/group/default/team-x", "/systems", "/apis", "/teams", "/catalog/health", "/runbooks"} {
		if _, err := page.Goto(path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		bad, err := page.Locator(`a[href^="javascript:" i], a[href^="data:" i], a[href^="vbscript:" i], [src^="javascript:" i]`).Count()
		must(t, err)
		if bad > 0 {
			t.Errorf("%s has %d links with a script or data address", path, bad)
		}
		// Follow every link on the page that stays on the page's own origin or is external
		// without leaving it: clicking is what would run a javascript: link.
		links, err := page.Locator("main a[href]").All()
		must(t, err)
		for _, l := range links {
			href, _ := l.GetAttribute("href")
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(href)), "javascript:") {
				t.Errorf("%s: link %q", path, href)
			}
		}
	}
	if _, err := page.Goto("/catalog/component/default/evil-links"); err != nil {
		t.Fatal(err)
	}
	must(t, expect.Locator(page.GetByTestId("unsafe-link").First()).ToContainText("javascript:alert(5)"))
	n, _ := page.GetByTestId("unsafe-link").Count()
	if n != 3 {
		t.Errorf("%d links shown as text, want 3 (script, mixed case, data)", n)
	}
	must(t, expect.Locator(page.Locator(`a[href="https://grafana.acme.example/d/evil"]`)).ToHaveCount(1))
	if _, err := page.Goto("/catalog/health"); err != nil {
		t.Fatal(err)
	}
	must(t, expect.Locator(page.Locator("main")).ToContainText("is not an http, https or mailto address"))
	if len(dialogs) > 0 {
		t.Errorf("dialogs opened: %v", dialogs)
	}
}
