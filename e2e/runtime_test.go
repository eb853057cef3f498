package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/portico-dev/portico/internal/testenv"
)

// TestLiveRollout opens a service's page in Chromium, rolls its Deployment out on the real
// control plane, breaks it with a crash-looping release, and watches the page follow without
// a reload.
func TestLiveRollout(t *testing.T) {
	c := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, _ := c.Admin()
	replicas := int32(2)
	l := map[string]string{"app.kubernetes.io/name": "quotes", "backstage.io/kubernetes-id": "quotes"}
	_, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "quotes", Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "quotes", "backstage.io/kubernetes-id": "quotes"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "quotes", Image: "registry.acme.example/quotes:1.0.0"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	catalogDir := t.TempDir()
	os.WriteFile(filepath.Join(catalogDir, "catalog-info.yaml"), []byte(fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: quotes
  annotations: {backstage.io/kubernetes-id: quotes, backstage.io/kubernetes-namespace: %s}
spec: {type: service, lifecycle: production, owner: team-payments}
`, ns)), 0o644)
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["*.yaml"]}]
clusters:
  - {name: production, environment: production, kubeconfig: %q}
`, catalogDir, c.PortalKubeconfig))
	page := newPage(t, portal)
	_, err = page.Goto("/catalog/component/default/quotes?tab=runtime")
	must(t, err)
	runtime := page.Locator("[data-testid=runtime]")
	must(t, expect.Locator(runtime.Locator("[data-testid=replicas]")).ToHaveText("2/2 ready", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(15000)}))
	must(t, expect.Locator(runtime.Locator("[data-testid=revision]")).ToHaveText("rev 1", playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(15000)}))

	release := func(mutate func(*appsv1.Deployment)) {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := admin.AppsV1().Deployments(ns).Get(ctx, "quotes", metav1.GetOptions{})
			if err != nil {
				return err
			}
			mutate(d)
			_, err = admin.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		must(t, err)
	}
	release(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "registry.acme.example/quotes:1.1.0"
	})
	// States the control plane reaches on its own time (the controller, the scheduler and kwok
	// on a loaded machine: a full run also starts control planes of tests' own) get a minute.
	text := playwright.LocatorAssertionsToHaveTextOptions{Timeout: playwright.Float(60000)}
	must(t, expect.Locator(runtime.Locator("[data-testid=revision]")).ToHaveText("rev 2", text))
	must(t, expect.Locator(runtime.Locator("[data-testid=rollout]")).ToHaveText("complete", text))

	release(func(d *appsv1.Deployment) { d.Spec.Template.Labels["portico.dev/fault"] = "crashloop" })
	must(t, expect.Locator(page.Locator("[data-testid=runtime] > h2 [data-testid=health]")).ToHaveText("degraded", text))
	must(t, expect.Locator(runtime.Locator("[data-testid=pod-reason]").Filter(playwright.LocatorFilterOptions{HasText: "CrashLoopBackOff"}).First()).ToBeVisible(
		playwright.LocatorAssertionsToBeVisibleOptions{Timeout: playwright.Float(60000)}))
	must(t, expect.Locator(runtime.Locator("[data-testid=rollout]")).ToHaveText("progressing", text))
}
