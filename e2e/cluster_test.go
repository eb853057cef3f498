package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestCordonNodeInChromium: on-call signs in through the real provider, opens the cluster
// page, follows a node to its page and cordons it (reason and typed name: a production
// cluster), sees it cordoned, then uncordons it; a viewer signed in next finds the button
// disabled with the reason. Both pages pass axe's WCAG 2 A/AA rules.
func TestCordonNodeInChromium(t *testing.T) {
	c := testenv.Cluster(t)
	prov := testenv.OIDC(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, _ := c.Admin()
	root, _ := testenv.RepoRoot()
	must(t, devstack.SeedRBAC(ctx, admin, filepath.Join(root, "catalog"))) // on-call may patch nodes
	node := fmt.Sprintf("e2e-cordon-%d", os.Getpid())
	_, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels: map[string]string{"type": "kwok"}}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "portico.dev/test", Effect: corev1.TaintEffectNoSchedule}}}}, metav1.CreateOptions{})
	must(t, err)
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	catalogDir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(catalogDir, "catalog-info.yaml"), []byte("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: sre-oncall}\nspec: {type: team, children: []}\n"), 0o644))
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["*.yaml"]}]
auth:
  oidc: {issuer: %q, clientID: %s, clientSecretEnv: OIDC_SECRET}
  sessionKeyEnv: SESSION_KEY
clusters:
  - {name: production, environment: production, kubeconfig: %q, impersonateGroups: ["team-*", sre-oncall, portico-admins, viewers]}
`, catalogDir, prov.Issuer, prov.ClientID, c.PortalKubeconfig), "OIDC_SECRET="+prov.ClientSecret, "SESSION_KEY="+strings.Repeat("f", 32))
	axe := testenv.Axe(t)
	page := newPage(t, portal)
	signIn(t, page, "/clusters/production", "kemi.adeyemi")
	row := page.Locator("[data-testid=node-" + node + "]")
	must(t, expect.Locator(row.Locator("[data-testid=health]")).ToHaveText("healthy", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(20000)}))
	must(t, expect.Locator(page.Locator("[data-testid=lease-kube-scheduler] [data-testid=lease-state]")).ToHaveText("fresh"))
	var violations []string
	violations = append(violations, checkA11y(t, page, axe)...)
	screenshotTo(t, page, "cluster")

	must(t, row.Locator("a").First().Click())
	must(t, expect.Locator(page.Locator("h1")).ToContainText("Node "+node))
	violations = append(violations, checkA11y(t, page, axe)...)
	must(t, page.Locator("[data-testid=reason]").Fill("INC-88 disk errors"))
	must(t, page.Locator("[data-testid=confirm]").Fill(node))
	must(t, page.Locator("[data-testid=cordon]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Cordon succeeded"))
	// The page reads the node from the caches, which hear of the change a moment later.
	reloadUntil(t, page, "h1 [data-testid=cordoned]")
	screenshotTo(t, page, "node-cordoned")
	n, err := admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	must(t, err)
	if !n.Spec.Unschedulable {
		t.Fatal("the node is not cordoned")
	}
	must(t, page.Locator("[data-testid=reason]").Fill("INC-88 disk replaced"))
	must(t, page.Locator("[data-testid=confirm]").Fill(node))
	must(t, page.Locator("[data-testid=uncordon]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Uncordon succeeded"))
	reloadUntil(t, page, "[data-testid=cordon]")

	// A viewer sees why they may not.
	viewer := newPage(t, portal)
	signIn(t, viewer, "/clusters/production/nodes/"+node, "oscar.lind")
	must(t, expect.Locator(viewer.Locator("[data-testid=cordon]")).ToBeDisabled())
	must(t, expect.Locator(viewer.Locator("[data-testid=why]")).ToContainText("may not cordon"))
	if len(violations) > 0 {
		t.Errorf("%d WCAG 2 A/AA violations:\n%s", len(violations), strings.Join(violations, "\n"))
	}
}

// reloadUntil reloads the page until sel shows, for at most a minute.
func reloadUntil(t *testing.T, page playwright.Page, sel string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if n, _ := page.Locator(sel).Count(); n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed on %s", sel, page.URL())
		}
		_, _ = page.Reload()
	}
}
