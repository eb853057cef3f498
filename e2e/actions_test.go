package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestSignInDeployRollback signs in through the real provider in Chromium as the owner of a
// production service, deploys a new image (dry-run diff, typed confirmation), watches the
// rollout progress live, then rolls back to the first revision.
func TestSignInDeployRollback(t *testing.T) {
	c := testenv.Cluster(t)
	prov := testenv.OIDC(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, _ := c.Admin()
	root, _ := testenv.RepoRoot()
	must(t, devstack.SeedRBAC(ctx, admin, filepath.Join(root, "catalog")))
	must(t, devstack.BindTeam(ctx, admin, ns, "team-payments"))
	replicas := int32(3)
	l := map[string]string{"app.kubernetes.io/name": "tills", "backstage.io/kubernetes-id": "tills"}
	_, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "tills", Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "tills", Image: "registry.acme.example/tills:1.0.0"}}}}}}, metav1.CreateOptions{})
	must(t, err)
	catalogDir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(catalogDir, "catalog-info.yaml"), []byte(fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: tills
  title: Tills
  annotations: {backstage.io/kubernetes-id: tills, backstage.io/kubernetes-namespace: %s}
spec: {type: service, lifecycle: production, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-payments, title: Payments}
spec: {type: team, children: []}
`, ns)), 0o644))
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["*.yaml"]}]
auth:
  oidc: {issuer: %q, clientID: %s, clientSecretEnv: OIDC_SECRET}
  sessionKeyEnv: SESSION_KEY
clusters:
  - {name: production, environment: production, kubeconfig: %q, impersonateGroups: ["team-*", sre-oncall, portico-admins, viewers]}
`, catalogDir, prov.Issuer, prov.ClientID, c.PortalKubeconfig), "OIDC_SECRET="+prov.ClientSecret, "SESSION_KEY="+strings.Repeat("e", 32))
	page := newPage(t, portal)

	// Sign in: the portal sends the browser to the provider and back to the page asked for.
	signIn(t, page, "/catalog/component/default/tills?tab=runtime", "alice.nguyen")
	must(t, expect.Locator(page.Locator("[data-testid=user]")).ToHaveText("Alice Nguyen"))
	runtime := page.Locator("[data-testid=runtime]")
	must(t, expect.Locator(runtime.Locator("[data-testid=replicas]")).ToHaveText("3/3 ready", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(20000)}))

	// Deploy: preview shows the server-side diff; production asks for a reason and the name.
	must(t, runtime.Locator("[data-testid=manage]").Click())
	must(t, expect.Locator(page.Locator("h1")).ToHaveText("Deployment "+ns+"/tills"))
	must(t, page.Locator("[data-testid=image]").Fill("registry.acme.example/tills:1.1.0"))
	must(t, page.Locator("[data-testid=reason]").Fill("TIL-9 rounding fix"))
	must(t, page.Locator("[data-testid=deploy]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=diff] .diff-add").Filter(playwright.LocatorFilterOptions{HasText: "image: registry.acme.example/tills:1.1.0"})).ToBeVisible())
	must(t, page.Locator("[data-testid=confirm-name]").Fill("tills"))
	must(t, page.Locator("[data-testid=apply]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Deploy succeeded"))
	// Progress follows the rollout live until the new revision is complete.
	progress := page.Locator("[data-testid=progress]")
	must(t, expect.Locator(progress.Locator("[data-testid=replicasets] li.current")).ToContainText("rev 2", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(20000)}))
	must(t, expect.Locator(progress.Locator("[data-testid=rollout-state]")).ToHaveText("complete", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(60000)}))
	must(t, expect.Locator(progress.Locator("[data-testid=meter-available]")).ToContainText("3/3"))
	page.Reload()
	must(t, expect.Locator(page.Locator("[data-testid=revisions]")).ToContainText("alice.nguyen@acme.example (deploy)", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(10000)}))
	screenshotTo(t, page, "workload")

	// Roll back to revision 1, with its own preview and confirmation.
	must(t, page.Locator("[data-testid=rollback-1]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=diff] .diff-add").Filter(playwright.LocatorFilterOptions{HasText: "image: registry.acme.example/tills:1.0.0"})).ToBeVisible())
	screenshotTo(t, page, "confirm-rollback")
	must(t, page.Locator("[data-testid=confirm-reason]").Fill("1.1.0 breaks receipts"))
	must(t, page.Locator("[data-testid=confirm-name]").Fill("tills"))
	must(t, page.Locator("[data-testid=apply]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Rollback succeeded"))
	must(t, expect.Locator(progress.Locator("[data-testid=replicasets] li.current")).ToContainText("tills:1.0.0", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(20000)}))
	must(t, expect.Locator(progress.Locator("[data-testid=rollout-state]")).ToHaveText("complete", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(60000)}))
	d, err := admin.AppsV1().Deployments(ns).Get(ctx, "tills", metav1.GetOptions{})
	must(t, err)
	if d.Spec.Template.Spec.Containers[0].Image != "registry.acme.example/tills:1.0.0" || d.Annotations["deployment.kubernetes.io/revision"] != "3" {
		t.Errorf("after rollback: %s at revision %s", d.Spec.Template.Spec.Containers[0].Image, d.Annotations["deployment.kubernetes.io/revision"])
	}
	// Both actions are in the audit log, with the reasons given.
	_, err = page.Goto("/audit")
	must(t, err)
	must(t, expect.Locator(page.Locator("[data-testid=audit-row]")).ToHaveCount(2))
	must(t, expect.Locator(page.Locator("[data-testid=audit]")).ToContainText("1.1.0 breaks receipts"))
	screenshotTo(t, page, "audit")
}

// signIn opens path, answers the provider's login form as user, and lands back on path.
func signIn(t *testing.T, page playwright.Page, path, user string) {
	t.Helper()
	_, err := page.Goto(path)
	must(t, err)
	must(t, page.Locator("input[name=username]").Fill(user))
	must(t, page.Locator("input[name=password]").Fill("portico"))
	must(t, page.Locator("button[type=submit]").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(regexp.QuoteMeta(path)+"$")))
}

// screenshotTo keeps a screenshot of a page worth looking at under e2e/artifacts/.
func screenshotTo(t *testing.T, page playwright.Page, name string) {
	os.MkdirAll("artifacts", 0o755)
	_, _ = page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(filepath.Join("artifacts", name+".png")), FullPage: playwright.Bool(true)})
}
