package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestNetworkReach puts NetworkPolicies on a real API server and reads the reach the JSON
// API computes from the caches: payment admits checkout only, inventory its own namespace
// only (so checkout's declared dependency on it is blocked), and labelling checkout's
// namespace for a policy that admits it lifts the block.
func TestNetworkReach(t *testing.T) {
	tc := testenv.Cluster(t)
	shop, stock := testenv.Namespace(t), testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	for _, s := range []struct{ ns, name string }{{shop, "checkout"}, {shop, "payment"}, {stock, "inventory"}} {
		createService(ctx, t, admin, s.ns, s.name, 1)
	}
	policy := func(ns, name, app string, from networkingv1.NetworkPolicyPeer) {
		t.Helper()
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": app}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{from}}}}}
		if _, err := admin.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	policy(shop, "payment-from-checkout", "payment", networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "checkout"}}})
	policy(stock, "inventory-own-namespace", "inventory", networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}})

	m, _ := cluster.NewManager([]cluster.Config{{Name: "prod", Environment: "production", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	component := func(name, ns, deps string) string {
		return fmt.Sprintf("---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\n  annotations: {backstage.io/kubernetes-id: %s, backstage.io/kubernetes-namespace: %s}\nspec: {type: service, lifecycle: production, owner: team-a, dependsOn: [%s]}\n", name, name, ns, deps)
	}
	dir := writeFiles(t, map[string]string{"c.yaml": component("checkout", shop, "component:payment, component:inventory") +
		component("payment", shop, "") + component("inventory", stock, "") +
		"---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: unmapped}\nspec: {type: library, lifecycle: production, owner: team-a}\n"})
	p := newTestPortalWith(t, dir, m)
	get := func(name string) (api.Network, int) {
		t.Helper()
		res, err := p.Client().Get(p.URL + "/api/v1/entities/component/default/" + name + "/network")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var n api.Network
		if res.StatusCode == http.StatusOK {
			if err := json.NewDecoder(res.Body).Decode(&n); err != nil {
				t.Fatal(err)
			}
		}
		return n, res.StatusCode
	}
	// The caches see the workloads and policies shortly after they were created.
	var checkout api.Network
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		checkout, _ = get("checkout")
		if len(checkout.Clusters) == 1 && len(checkout.Clusters[0].Reach.Callees) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout's reach never showed its callees: %+v", checkout)
		}
	}
	r := checkout.Clusters[0].Reach
	if got, want := strings.Join(r.Callees, ","), "component:default/payment"; got != want {
		t.Errorf("checkout may call %s, want %s (inventory admits its own namespace only)", got, want)
	}
	if len(r.Blocked) != 1 || r.Blocked[0].To != "component:default/inventory" || !strings.Contains(r.Blocked[0].Why, stock+"/inventory-own-namespace") {
		t.Errorf("blocked = %+v, want checkout→inventory blocked by %s/inventory-own-namespace", r.Blocked, stock)
	}
	if pay, _ := get("payment"); len(pay.Clusters) != 1 || strings.Join(pay.Clusters[0].Reach.Callers, ",") != "component:default/checkout" ||
		pay.Clusters[0].Reach.Admits[0].Peers != "pods labelled app.kubernetes.io/name=checkout in namespace "+shop {
		t.Errorf("payment's reach = %+v, want checkout as its one caller, in words", pay)
	}
	// The runtime tab's panel says the same in words, with links to the services.
	res, err := p.Client().Get(p.URL + "/catalog/component/default/checkout/network")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(doc.Find(`[data-testid="network-blocked"]`).Text()), " "); !strings.Contains(got, "Blocked dependency: checkout → inventory is declared in the catalog, but inventory's ingress policies ("+stock+"/inventory-own-namespace) admit no connection from checkout's pods") {
		t.Errorf("blocked notice = %q", got)
	}
	if href, _ := doc.Find(`[data-testid="network-callees"] a`).Attr("href"); href != "/catalog/component/default/payment" {
		t.Errorf("callees link to %q, want payment's page", href)
	}
	if got := doc.Find(`[data-testid="network-callers"]`).Text(); !strings.Contains(got, "no policy selects its pods for ingress") {
		t.Errorf("checkout's callers = %q: no policy selects it, so anything may call it", got)
	}
	if _, code := get("unmapped"); code != http.StatusNotFound {
		t.Errorf("an unmapped component's network: %d, want 404", code)
	}

	// inventory also admits namespaces labelled team=commerce; labelling shop so lifts the block.
	policy(stock, "inventory-from-commerce", "inventory", networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "commerce"}}})
	if _, err := admin.CoreV1().Namespaces().Patch(ctx, shop, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"commerce"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		checkout, _ = get("checkout")
		if r := checkout.Clusters[0].Reach; len(r.Blocked) == 0 && len(r.Callees) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace label did not lift the block: %+v", checkout.Clusters[0].Reach)
		}
	}
}
