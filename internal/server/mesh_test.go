package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/testenv"
)

// meshObjects are a service's traffic configuration in every mesh API: an Istio canary
// (header match, then 90/10 by weight, with timeout and retries), its DestinationRule's
// circuit breaking and subsets, STRICT mTLS for the namespace, an Istio AuthorizationPolicy,
// a Gateway API HTTPRoute splitting 3:1, and Linkerd's Server, MeshTLSAuthentication and
// AuthorizationPolicy.
const meshObjects = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pricing, namespace: shop}
spec:
  hosts: [pricing]
  http:
  - name: canary-header
    match: [{headers: {x-canary: {exact: "1"}}}]
    route: [{destination: {host: pricing, subset: v2}}]
  - name: default
    route:
    - {destination: {host: pricing, subset: v1}, weight: 90}
    - {destination: {host: pricing, subset: v2}, weight: 10}
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pricing, namespace: shop}
spec:
  host: pricing.shop.svc.cluster.local
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 10}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: pricing-readers, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: pricing}}
  action: ALLOW
  rules: [{from: [{source: {namespaces: [checkout]}}], to: [{operation: {methods: [GET]}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: prices-public, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: edge}]
  hostnames: [prices.acme.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /prices}}]
    backendRefs: [{name: pricing, port: 8080, weight: 3}, {name: pricing-next, port: 8080, weight: 1}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: pricing-http, namespace: shop}
spec: {podSelector: {matchLabels: {app.kubernetes.io/name: pricing}}, port: 8080, proxyProtocol: HTTP/1}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: checkout-identity, namespace: shop}
spec: {identities: [checkout.shop.serviceaccount.identity.linkerd.cluster.local]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: pricing-from-checkout, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: pricing-http}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: checkout-identity}]
`

// TestMeshPanel: on a control plane of its own, a service without any mesh API says so;
// with Istio's and Gateway API's published CRDs (from their Go modules) and Linkerd's
// minimal ones installed, the panel and the API describe each route, weight, timeout,
// retry, circuit breaker, mTLS mode and authorization rule; removed, absent again.
func TestMeshPanel(t *testing.T) {
	own := testenv.OwnCluster(t, "mesh")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, err := own.Admin()
	if err != nil {
		t.Fatal(err)
	}
	if err := devstack.CreateNamespace(ctx, admin, "shop"); err != nil {
		t.Fatal(err)
	}
	lbl := map[string]string{"app.kubernetes.io/name": "pricing", "backstage.io/kubernetes-id": "pricing"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "pricing", Labels: lbl}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: lbl}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl,
			Annotations: map[string]string{"linkerd.io/inject": "enabled"}},
			Spec: corev1.PodSpec{ServiceAccountName: "pricing", Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/pricing:4.1.0"}}}}}}
	if _, err := admin.AppsV1().Deployments("shop").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "pricing", Labels: lbl}, Spec: corev1.ServiceSpec{Selector: lbl,
		Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := admin.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := cluster.NewManager([]cluster.Config{{Name: "mesh", Environment: "production", Kubeconfig: own.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	p := newTestPortalWith(t, writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: pricing\n  annotations: {backstage.io/kubernetes-id: pricing}\nspec: {type: service, lifecycle: production, owner: team-a}\n"}), m)
	panel := func() *goquery.Selection {
		return p.doc(t, "/catalog/component/default/pricing/mesh", http.StatusOK).Find("[data-testid=mesh-mesh]")
	}
	if panel().Find("[data-testid=mesh-absent]").Length() != 1 {
		t.Fatalf("without mesh APIs: %q", panel().Text())
	}

	root, _ := testenv.RepoRoot()
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	// The projects' published CRDs (and the minimal Linkerd ones), then the objects, through
	// the same path the stack seeds its demo with.
	crds, err := devstack.MeshCRDs(bins, root)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := devstack.DecodeObjects([]byte(meshObjects))
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range [][]*unstructured.Unstructured{crds, objs} {
		if n, err := devstack.Apply(ctx, own.AdminKubeconfig, set); err != nil || n != len(set) {
			t.Fatalf("made %d of %d: %v", n, len(set), err)
		}
	}
	eventually(t, "every mesh object described on the panel", func() (bool, string) {
		pn := panel()
		routes := pn.Find("[data-testid=mesh-route]")
		text := pn.Text()
		return routes.Length() == 3 && strings.Contains(text, "Installed: Istio, Gateway API, Linkerd") &&
				strings.Contains(routes.Eq(0).Text(), "header x-canary exact 1") &&
				strings.Contains(routes.Eq(1).Find("[data-testid=mesh-weight]").Text(), "90%10%") &&
				strings.Contains(routes.Eq(1).Text(), "timeout 2s") && strings.Contains(routes.Eq(1).Text(), "3 attempts, 500ms each, on 5xx") &&
				strings.Contains(routes.Eq(2).Text(), "HTTPRoute shop/prices-public") && strings.Contains(routes.Eq(2).Text(), "via Gateway edge/public") &&
				strings.Contains(routes.Eq(2).Find("[data-testid=mesh-weight]").Text(), "75%25%") &&
				strings.Contains(pn.Find("[data-testid=outlier-detection]").Text(), "after 5 consecutive 5xx, checked every 10s, for 30s at least, at most 50% of pods") &&
				strings.Contains(pn.Find("[data-testid=mtls]").Text(), "STRICT") && strings.Contains(text, "identity pricing.shop.serviceaccount.identity.linkerd.cluster.local") &&
				strings.Contains(text, "from namespaces checkout, methods GET") && strings.Contains(text, "mTLS identities checkout.shop.serviceaccount.identity.linkerd.cluster.local") &&
				strings.Contains(text, "port 8080, protocol HTTP/1") && strings.Contains(pn.Find("[data-testid=mesh-metrics-note]").Text(), "Prometheus is not configured"),
			text
	})
	res, err := p.Client().Get(p.URL + "/api/v1/entities/component/default/pricing/mesh")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`"source":"VirtualService shop/pricing"`, `"subset":"v2"`, `"version":"v2"`, `"weight":90`, `"mode":"STRICT"`, `"action":"ALLOW"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("API lacks %s: %s", want, body)
		}
	}
	dyn := dynamicClient(t, own.AdminKubeconfig)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		_ = dyn.Resource(crdGVR).Delete(ctx, crd.GetName(), metav1.DeleteOptions{})
	}
	eventually(t, "the panel without mesh APIs again", func() (bool, string) {
		return panel().Find("[data-testid=mesh-absent]").Length() == 1, panel().Text()
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestMeshTrafficFromPrometheus: the demo traffic reports Istio's standard metrics for the
// payments namespace; read from the stack's Prometheus they give each version of pricing its
// request rate, success and p95, and the panel puts them on the route's destination whose
// subset selects that version.
func TestMeshTrafficFromPrometheus(t *testing.T) {
	be := testenv.DemoTraffic(t)
	prom, err := metrics.New(backend.Config{URL: be.PrometheusURL, Timeout: 5 * time.Second}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]metrics.MeshStat
	eventually(t, "pricing's mesh metrics by version", func() (bool, string) {
		stats, err = prom.MeshStats(context.Background(), "payments", "pricing", time.Now())
		for v, st := range stats {
			if v != "" && st.Rate > 0 && st.Success > 0.5 && st.P95 > 0 {
				return stats[""].Rate >= st.Rate, ""
			}
		}
		return false, errString(err)
	})
	var version string
	for v := range stats {
		if v != "" {
			version = v
		}
	}
	traffic := map[string]meshStat{}
	for v, st := range stats {
		traffic[v] = meshStat{Rate: st.Rate, Success: st.Success, P95Seconds: st.P95.Seconds()}
	}
	mc := meshCluster{ClusterMesh: cluster.ClusterMesh{Cluster: "prod", Served: []string{"Istio"}, Services: []string{"payments/pricing"},
		Routes: []cluster.MeshRoute{{Source: "VirtualService payments/pricing", Match: "every request", Destinations: []cluster.RouteDestination{
			{Service: "pricing.payments.svc.cluster.local", Ref: "payments/pricing", Subset: "stable", Weight: 95, Ours: true, Version: version},
			{Service: "pricing.payments.svc.cluster.local", Ref: "payments/pricing", Subset: "canary", Weight: 5, Ours: true, Version: "9.9.9"}}}}},
		Traffic: map[string]map[string]meshStat{"payments/pricing": traffic}}
	vm := meshVM([]meshCluster{mc}, true)
	dests := vm.Clusters[0].Routes[0].Destinations
	if dests[0].Rate == "" || dests[0].Success == "" || dests[0].P95 == "" {
		t.Errorf("the stable subset (version %s) has no figures: %+v", version, dests[0])
	}
	if dests[1].Rate != "" {
		t.Errorf("the canary subset selects no running version, yet shows %+v", dests[1])
	}
}
