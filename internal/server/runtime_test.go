package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestRuntimePanel serves a catalog component whose Deployment runs on the real control plane.
func TestRuntimePanel(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	replicas := int32(2)
	labels := map[string]string{"app.kubernetes.io/name": "ledger", "backstage.io/kubernetes-id": "ledger"}
	_, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ledger", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ledger", Image: "registry.acme.example/ledger:2.0.0"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cluster.NewManager([]cluster.Config{{Name: "prod", Environment: "production", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	dir := writeFiles(t, map[string]string{"c.yaml": `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {backstage.io/kubernetes-id: ledger, backstage.io/kubernetes-namespace: ` + ns + `}
spec: {type: service, lifecycle: production, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: unmapped}
spec: {type: service, lifecycle: production, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: badselector
  annotations: {backstage.io/kubernetes-label-selector: "app in ("}
spec: {type: service, lifecycle: production, owner: team-payments}
`})
	p := newTestPortalWith(t, dir, m)
	var rt cluster.Runtime
	for {
		getJSON(t, p, "/api/v1/entities/component/default/ledger/runtime", http.StatusOK, &rt)
		if len(rt.Clusters) == 1 && len(rt.Clusters[0].Workloads) == 1 && rt.Clusters[0].Workloads[0].Ready == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("runtime never showed 2 ready pods: %+v", rt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rt.Health.Level != cluster.Healthy {
		t.Errorf("health = %+v", rt.Health)
	}
	d := p.doc(t, "/catalog/component/default/ledger/runtime", http.StatusOK)
	if n := d.Find("[data-testid=pod]").Length(); n != 2 {
		t.Errorf("pods shown = %d, want 2", n)
	}
	if got := d.Find("[data-testid=replicas]").Text(); got != "2/2 ready" {
		t.Errorf("replicas = %q", got)
	}
	if got := d.Find("[data-testid=revision]").Text(); got != "rev 1" {
		t.Errorf("revision = %q", got)
	}
	if txt := p.doc(t, "/catalog/component/default/unmapped/runtime", http.StatusOK).Text(); !strings.Contains(txt, "backstage.io/kubernetes-id") {
		t.Errorf("unmapped component should explain the annotation: %s", txt)
	}
	if txt := p.doc(t, "/catalog/component/default/badselector/runtime", http.StatusOK).Find(".notice.error").Text(); !strings.Contains(txt, "not a valid label selector") {
		t.Errorf("bad selector message = %q", txt)
	}
	if got := p.doc(t, "/catalog?q=ledger", http.StatusOK).Find("[data-testid=entity-row] [data-testid=health]").Text(); got != "healthy" {
		t.Errorf("catalog list health badge = %q, want healthy", got)
	}
	var errBody map[string]any
	getJSON(t, p, "/api/v1/entities/component/default/unmapped/runtime", http.StatusNotFound, &errBody)
	cl := p.doc(t, "/clusters", http.StatusOK)
	if got := cl.Find("[data-testid=cluster-prod] [data-testid=reachability]").Text(); got != "API reachable" {
		t.Errorf("clusters page reachability = %q", got)
	}
}
