package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestAutoscalingPanel: on a control plane of its own (it installs and removes a CRD), the
// HPA controller scales a Deployment up to its autoscaler's minimum; the panel shows the
// metric against its target, the behaviour, the conditions (metrics unavailable: there is no
// metrics API) and the scaling on a timeline. Without the VPA CRD the panel says so; with it,
// a VPA's recommendation is set against the container's requests.
func TestAutoscalingPanel(t *testing.T) {
	own := testenv.OwnCluster(t, "scaling")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, err := own.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ns := "shop"
	if err := devstack.CreateNamespace(ctx, admin, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/name": "cart", "backstage.io/kubernetes-id": "cart"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "cart", Labels: labels}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/cart:1.0.0", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("512Mi")}}}}}}}}
	if _, err := admin.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "cart"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "cart"},
		MinReplicas:    ptr.To[int32](3), MaxReplicas: 8,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](70)}}}},
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](600),
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}}}}}
	if _, err := admin.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := cluster.NewManager([]cluster.Config{{Name: "scaling", Environment: "staging", Kubeconfig: own.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	p := newTestPortalWith(t, writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: cart\n  annotations: {backstage.io/kubernetes-id: cart}\nspec: {type: service, lifecycle: production, owner: team-a}\n"}), m)
	if d := p.doc(t, "/catalog/component/default/cart?tab=runtime", http.StatusOK); d.Find("[data-testid=autoscaling-loading]").Length() != 1 {
		t.Fatal("the runtime tab does not load the autoscaling panel")
	}
	eventually(t, "the HPA scaled to its minimum, shown with its metric, conditions and timeline", func() (bool, string) {
		d := p.doc(t, "/catalog/component/default/cart/autoscaling", http.StatusOK)
		h := d.Find("[data-testid=hpa]")
		return strings.Contains(h.Find("[data-testid=hpa-replicas]").Text(), "→ 3 replicas") &&
				strings.Contains(h.Find("[data-testid=hpa-metrics]").Text(), "70% of request (average)") &&
				strings.Contains(h.Find("[data-testid=hpa-behavior]").Text(), "at most 1 pods per 60s (whichever is more); stabilization window 600s") &&
				h.Find("[data-testid=hpa-condition-ScalingActive] .badge.bad").Length() == 1 &&
				h.Find("[data-testid='chart-Replicas set by the autoscaler'] path.line").Length() == 1 &&
				strings.Contains(h.Text(), "Current number of replicas below Spec.MinReplicas") &&
				strings.Contains(d.Find("[data-testid=vpa-note]").Text(), "not installed"),
			d.Find("#autoscaling").Text()
	})

	var vpaCRD []*unstructured.Unstructured
	crds, err := devstack.ReadObjects(filepath.Join("..", "..", "deploy", "crds", "scorecard-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		if crd.GetName() == "verticalpodautoscalers.autoscaling.k8s.io" {
			vpaCRD = append(vpaCRD, crd)
		}
	}
	vpa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
		"metadata": map[string]any{"name": "cart", "namespace": ns},
		"spec":     map[string]any{"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"}, "updatePolicy": map[string]any{"updateMode": "Off"}},
		"status": map[string]any{"recommendation": map[string]any{"containerRecommendations": []any{map[string]any{"containerName": "app",
			"lowerBound": map[string]any{"cpu": "200m", "memory": "128Mi"}, "target": map[string]any{"cpu": "300m", "memory": "192Mi"},
			"upperBound": map[string]any{"cpu": "1", "memory": "256Mi"}}}}}}}
	for _, set := range [][]*unstructured.Unstructured{vpaCRD, {vpa}} {
		if _, err := devstack.Apply(ctx, own.AdminKubeconfig, set); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the VPA's recommendation against the requests", func() (bool, string) {
		d := p.doc(t, "/catalog/component/default/cart/autoscaling", http.StatusOK)
		row := d.Find("[data-testid=vpa-app]")
		return strings.Contains(row.Text(), "cpu: requests 100m, below the lower bound 200m: under-provisioned") &&
			strings.Contains(row.Text(), "memory: requests 512Mi, above the upper bound 256Mi: over-provisioned") && strings.Contains(row.Text(), "300m"), d.Find("#autoscaling").Text()
	})
	res, err := p.Client().Get(p.URL + "/api/v1/entities/component/default/cart/autoscaling")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Clusters []cluster.ClusterAutoscaling `json:"clusters"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || len(got.Clusters) != 1 || len(got.Clusters[0].HPAs) != 1 || len(got.Clusters[0].VPAs) != 1 ||
		got.Clusters[0].HPAs[0].Desired != 3 || len(got.Clusters[0].HPAs[0].Scalings) == 0 || got.Clusters[0].VPAs[0].Mode != "Off" {
		t.Errorf("API = %+v (%v)", got, err)
	}
}
