package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestPipelineLiveAndWhatRunsWhere watches a run's stage strip fill in as CI events arrive,
// then deploys the image the run built and sees "what runs where" name the run.
func TestPipelineLiveAndWhatRunsWhere(t *testing.T) {
	c := testenv.Cluster(t)
	prov := testenv.OIDC(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, _ := c.Admin()
	root, _ := testenv.RepoRoot()
	must(t, devstack.SeedRBAC(ctx, admin, filepath.Join(root, "catalog")))
	must(t, devstack.BindTeam(ctx, admin, ns, "team-payments"))
	replicas := int32(2)
	l := map[string]string{"app.kubernetes.io/name": "fx", "backstage.io/kubernetes-id": "fx"}
	_, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "fx", Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "fx", Image: "registry.acme.example/fx:1.0.0"}}}}}}, metav1.CreateOptions{})
	must(t, err)
	catalogDir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(catalogDir, "catalog-info.yaml"), []byte(fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: fx
  title: FX rates
  annotations: {backstage.io/kubernetes-id: fx, backstage.io/kubernetes-namespace: %s, github.com/project-slug: acme/fx}
spec: {type: service, lifecycle: experimental, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-payments}
spec: {type: team, children: []}
`, ns)), 0o644))
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["*.yaml"]}]
auth:
  oidc: {issuer: %q, clientID: %s, clientSecretEnv: OIDC_SECRET}
  sessionKeyEnv: SESSION_KEY
clusters:
  - {name: staging, environment: staging, kubeconfig: %q}
pipelines:
  generic: {secrets: [e2e-secret]}
`, catalogDir, prov.Issuer, prov.ClientID, c.PortalKubeconfig), "OIDC_SECRET="+prov.ClientSecret, "SESSION_KEY="+strings.Repeat("p", 32))
	page := newPage(t, portal)
	signIn(t, page, "/catalog/component/default/fx?tab=delivery", "alice.nguyen")
	panel := page.Locator("[data-testid=pipelines]")
	must(t, expect.Locator(panel.Locator("[data-testid=pipelines-none]")).ToBeVisible())

	send := func(body string) {
		t.Helper()
		b := []byte(body)
		req, _ := http.NewRequest(http.MethodPost, portal.URL+"/webhooks/pipeline", bytes.NewReader(b))
		req.Header.Set("X-Portico-Signature-256", ingest.Sign("e2e-secret", b))
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != http.StatusAccepted {
			t.Fatalf("CI event: %v %v", err, res)
		}
	}
	event := func(at int, status, stages string) string {
		return fmt.Sprintf(`{"source": "jenkins", "project": "acme/fx", "timestamp": "2026-11-23T10:00:%02dZ", "run": {"id": "7", "name": "fx-ci",
			"status": %q, "commit": "%s", "branch": "main", "author": "alice"}, "stages": [%s]}`, at, status, strings.Repeat("f", 40), stages)
	}
	cell := func(stage string) playwright.Locator {
		return panel.Locator(`[data-testid=run] [data-stage="` + stage + `"]`)
	}
	// The strip follows the run without a reload.
	send(event(1, "running", `{"name": "unit tests", "status": "running"}`))
	must(t, expect.Locator(cell("unit-tests")).ToHaveAttribute("data-status", "running"))
	send(event(2, "running", `{"name": "unit tests", "status": "success"}, {"name": "docker build", "status": "running"}`))
	must(t, expect.Locator(cell("unit-tests")).ToHaveAttribute("data-status", "success"))
	must(t, expect.Locator(cell("image-build")).ToHaveAttribute("data-status", "running"))
	send(fmt.Sprintf(`{"source": "jenkins", "project": "acme/fx", "timestamp": "2026-11-23T10:00:03Z", "run": {"id": "7", "status": "success"},
		"stages": [{"name": "docker build", "status": "success"}, {"name": "trivy scan", "status": "success"}], "image": "registry.acme.example/fx:1.1.0"}`))
	must(t, expect.Locator(cell("security-scan")).ToHaveAttribute("data-status", "success"))
	must(t, expect.Locator(panel.Locator("[data-testid=run-status]").First()).ToHaveText("success"))
	must(t, expect.Locator(panel.Locator("[data-testid=where-row]")).ToContainText("not reported by CI"))
	screenshotTo(t, page, "pipelines")

	// Deploy the image the run built: "what runs where" now names the run.
	_, err = page.Goto("/catalog/component/default/fx?tab=runtime")
	must(t, err)
	must(t, page.Locator("[data-testid=runtime] [data-testid=manage]").Click())
	must(t, page.Locator("[data-testid=image]").Fill("registry.acme.example/fx:1.1.0"))
	must(t, page.Locator("[data-testid=deploy]").Click())
	must(t, page.Locator("[data-testid=apply]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Deploy succeeded"))
	must(t, expect.Locator(page.Locator("[data-testid=rollout-state]")).ToHaveText("complete", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(60000)}))
	_, err = page.Goto("/catalog/component/default/fx") // the overview
	must(t, err)
	must(t, expect.Locator(page.Locator("[data-testid=where-row]")).ToContainText("fx-ci #7", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(15000)}))
	must(t, expect.Locator(page.Locator("[data-testid=where-row]")).ToContainText("registry.acme.example/fx:1.1.0"))
}
