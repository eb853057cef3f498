package reach

import (
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A small shop: a storefront at the edge, checkout and payment in shop, inventory in stock.
func shop() []Service {
	return []Service{
		{Ref: "storefront", Namespace: "edge", Labels: map[string]string{"app": "storefront"}, DependsOn: []string{"checkout"}},
		{Ref: "checkout", Namespace: "shop", Labels: map[string]string{"app": "checkout", "tier": "api"}, DependsOn: []string{"payment", "inventory"}},
		{Ref: "payment", Namespace: "shop", Labels: map[string]string{"app": "payment", "tier": "api"}},
		{Ref: "inventory", Namespace: "stock", Labels: map[string]string{"app": "inventory"}},
	}
}

var namespaces = map[string]map[string]string{"edge": {"zone": "public"}, "shop": {"team": "commerce"}, "stock": {"team": "supply"}}

func np(ns, name string, sel map[string]string, types []networkingv1.PolicyType, in []networkingv1.NetworkPolicyIngressRule, out []networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types, Ingress: in, Egress: out}}
}

func pods(l map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: l}}
}

func nsPods(ns, l map[string]string) networkingv1.NetworkPolicyPeer {
	p := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: ns}}
	if l != nil {
		p.PodSelector = &metav1.LabelSelector{MatchLabels: l}
	}
	return p
}

func tcp(n int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(n)
	return networkingv1.NetworkPolicyPort{Port: &p}
}

func named(s string) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(s)
	return networkingv1.NetworkPolicyPort{Port: &p}
}

var (
	ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressOnly  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
)

func TestReach(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		policies              []*networkingv1.NetworkPolicy
		of                    string
		wantCallers           []string
		wantCallees           []string
		wantBlocked           []string // "from→to: why contains"
		wantAdmits, wantPorts string   // the first ingress rule's words
	}{{
		name: "no policy: open both ways", of: "payment",
		wantCallers: []string{"checkout", "inventory", "storefront"}, wantCallees: []string{"checkout", "inventory", "storefront"},
	}, {
		name:     "default deny in shop: nothing may call checkout or payment",
		policies: []*networkingv1.NetworkPolicy{np("shop", "default-deny", nil, ingressOnly, nil, nil)},
		of:       "payment", wantCallers: nil, wantCallees: []string{"inventory", "storefront"},
		wantBlocked: []string{"checkout→payment: payment's ingress policies (shop/default-deny) admit no connection from checkout", "storefront→checkout: checkout's ingress"},
		wantAdmits:  "nothing (this policy denies the direction)", wantPorts: "no port",
	}, {
		name: "payment admits checkout's pods on TCP 8080",
		policies: []*networkingv1.NetworkPolicy{np("shop", "payment-from-checkout", map[string]string{"app": "payment"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"app": "checkout"})}, Ports: []networkingv1.NetworkPolicyPort{tcp(8080)}}}, nil)},
		of: "payment", wantCallers: []string{"checkout"}, wantCallees: []string{"checkout", "inventory", "storefront"},
		wantAdmits: "pods labelled app=checkout in namespace shop", wantPorts: "TCP 8080",
	}, {
		name: "a pod selector alone stays in the policy's namespace",
		policies: []*networkingv1.NetworkPolicy{np("stock", "inventory-from-api", map[string]string{"app": "inventory"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"tier": "api"})}}}, nil)},
		of: "inventory", wantCallers: nil,
		wantBlocked: []string{"checkout→inventory: inventory's ingress policies (stock/inventory-from-api) admit no connection from checkout"},
		wantAdmits:  "pods labelled tier=api in namespace stock", wantPorts: "every port",
	}, {
		name: "a namespace selector with a pod selector: both must match",
		policies: []*networkingv1.NetworkPolicy{np("stock", "inventory-from-commerce-api", map[string]string{"app": "inventory"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{nsPods(map[string]string{"team": "commerce"}, map[string]string{"tier": "api"})}}}, nil)},
		of: "inventory", wantCallers: []string{"checkout", "payment"},
		wantAdmits: "pods labelled tier=api in namespaces labelled team=commerce",
		wantPorts:  "every port",
	}, {
		name: "an empty namespace selector is every namespace; the metadata.name label is always there",
		policies: []*networkingv1.NetworkPolicy{np("shop", "checkout-from-edge", map[string]string{"app": "checkout"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{nsPods(map[string]string{"kubernetes.io/metadata.name": "edge"}, nil)}}}, nil),
			np("shop", "payment-from-anywhere", map[string]string{"app": "payment"}, nil,
				[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{nsPods(map[string]string{}, nil)}}}, nil)},
		of: "checkout", wantCallers: []string{"storefront"}, wantCallees: []string{"inventory", "payment", "storefront"},
		wantAdmits: "every pod in namespaces labelled kubernetes.io/metadata.name=edge", wantPorts: "every port",
	}, {
		name: "checkout's egress allows payment only: its inventory dependency is blocked on its side",
		policies: []*networkingv1.NetworkPolicy{np("shop", "checkout-egress", map[string]string{"app": "checkout"}, egressOnly, nil,
			[]networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"app": "payment"})}}})},
		of: "checkout", wantCallers: []string{"inventory", "payment", "storefront"}, wantCallees: []string{"payment"},
		wantBlocked: []string{"checkout→inventory: checkout's egress policies (shop/checkout-egress) allow no connection to inventory"},
	}, {
		name: "egress on 9090 and ingress on 8080: no port in common",
		policies: []*networkingv1.NetworkPolicy{
			np("shop", "checkout-egress", map[string]string{"app": "checkout"}, egressOnly, nil,
				[]networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"app": "payment"})}, Ports: []networkingv1.NetworkPolicyPort{tcp(9090)}},
					{To: []networkingv1.NetworkPolicyPeer{nsPods(map[string]string{"team": "supply"}, nil)}}}),
			np("shop", "payment-in", map[string]string{"app": "payment"}, ingressOnly,
				[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"app": "checkout"})}, Ports: []networkingv1.NetworkPolicyPort{tcp(8080)}}}, nil)},
		of: "checkout", wantCallers: []string{"inventory", "payment", "storefront"}, wantCallees: []string{"inventory"},
		wantBlocked: []string{"checkout→payment: checkout's egress and payment's ingress policies open no port in common"},
	}, {
		name: "a named port may be any number",
		policies: []*networkingv1.NetworkPolicy{
			np("shop", "checkout-egress", map[string]string{"app": "checkout"}, egressOnly, nil,
				[]networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{named("http")}}}),
			np("shop", "payment-in", map[string]string{"app": "payment"}, ingressOnly,
				[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"app": "checkout"})}, Ports: []networkingv1.NetworkPolicyPort{tcp(8080)}}}, nil)},
		of: "payment", wantCallers: []string{"checkout"}, wantCallees: []string{"checkout", "inventory", "storefront"},
		wantAdmits: "pods labelled app=checkout in namespace shop", wantPorts: "TCP 8080",
	}, {
		name: "an address block admits addresses, not the services' pods",
		policies: []*networkingv1.NetworkPolicy{np("shop", "payment-from-vpn", map[string]string{"app": "payment"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.8.0.0/16", Except: []string{"10.8.1.0/24"}}}}}}, nil)},
		of: "payment", wantCallers: nil, wantCallees: []string{"checkout", "inventory", "storefront"},
		wantBlocked: []string{"checkout→payment: payment's ingress policies (shop/payment-from-vpn) admit no connection from checkout"},
		wantAdmits:  "addresses in 10.8.0.0/16 except 10.8.1.0/24", wantPorts: "every port",
	}, {
		name: "a rule without peers admits everything, on its ports",
		policies: []*networkingv1.NetworkPolicy{np("shop", "payment-public", map[string]string{"app": "payment"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{tcp(443)}}}, nil)},
		of: "payment", wantCallers: []string{"checkout", "inventory", "storefront"}, wantCallees: []string{"checkout", "inventory", "storefront"},
		wantAdmits: "every pod and address", wantPorts: "TCP 443",
	}, {
		name:     "a policy of another namespace selects nothing here",
		policies: []*networkingv1.NetworkPolicy{np("stock", "deny-all", nil, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, nil, nil)},
		of:       "payment", wantCallers: []string{"checkout", "storefront"}, wantCallees: []string{"checkout", "storefront"},
		wantBlocked: []string{"checkout→inventory: inventory's ingress policies (stock/deny-all)"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := Compute(Input{Services: shop(), Policies: tc.policies, Namespaces: namespaces})
			r, ok := g.Of(tc.of)
			if !ok {
				t.Fatalf("%s is not in the graph", tc.of)
			}
			if !reflect.DeepEqual(r.Callers, tc.wantCallers) {
				t.Errorf("callers of %s = %v, want %v", tc.of, r.Callers, tc.wantCallers)
			}
			if tc.wantCallees != nil && !reflect.DeepEqual(r.Callees, tc.wantCallees) {
				t.Errorf("callees of %s = %v, want %v", tc.of, r.Callees, tc.wantCallees)
			}
			blocked := g.Blocked()
			if len(blocked) != len(tc.wantBlocked) {
				t.Errorf("blocked = %+v, want %d: %v", blocked, len(tc.wantBlocked), tc.wantBlocked)
			}
			for _, want := range tc.wantBlocked {
				pair, why, _ := strings.Cut(want, ": ")
				found := false
				for _, b := range blocked {
					found = found || (b.From+"→"+b.To == pair && strings.Contains(b.Why, why))
				}
				if !found {
					t.Errorf("blocked = %+v, want %s because %q", blocked, pair, why)
				}
			}
			// The service's own reach holds exactly the blocks it is part of.
			var mine []Block
			for _, b := range blocked {
				if b.From == tc.of || b.To == tc.of {
					mine = append(mine, b)
				}
			}
			if !reflect.DeepEqual(r.Blocked, mine) {
				t.Errorf("%s's blocked = %+v, want %+v", tc.of, r.Blocked, mine)
			}
			if tc.wantAdmits != "" {
				if len(r.Admits) == 0 || r.Admits[0].Peers != tc.wantAdmits || r.Admits[0].Ports != tc.wantPorts {
					t.Errorf("admits = %+v, want %q on %q", r.Admits, tc.wantAdmits, tc.wantPorts)
				}
			}
		})
	}
}

// The words of a rule list the catalog's services among its peers, and a policy's name.
func TestRuleWordsNameServices(t *testing.T) {
	g := Compute(Input{Services: shop(), Namespaces: namespaces, Policies: []*networkingv1.NetworkPolicy{
		np("stock", "inventory-in", map[string]string{"app": "inventory"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{nsPods(map[string]string{"team": "commerce"}, nil), pods(map[string]string{"app": "inventory"})}}}, nil)}})
	r, _ := g.Of("inventory")
	want := Rule{Policy: "stock/inventory-in", Peers: "every pod in namespaces labelled team=commerce; pods labelled app=inventory in namespace stock",
		Ports: "every port", Services: []string{"checkout", "inventory", "payment"}}
	if len(r.Admits) != 1 || !reflect.DeepEqual(r.Admits[0], want) {
		t.Errorf("admits = %+v, want %+v", r.Admits, want)
	}
	if !reflect.DeepEqual(r.IngressPolicies, []string{"stock/inventory-in"}) || r.EgressPolicies != nil {
		t.Errorf("policies = %v / %v", r.IngressPolicies, r.EgressPolicies)
	}
	if _, ok := g.Of("nobody"); ok || g.Allowed("nobody", "payment") {
		t.Error("an unknown service has a reach")
	}
}

// A service of several workloads reaches what any of them reaches, and is listed once.
func TestServiceOfSeveralWorkloads(t *testing.T) {
	svcs := append(shop(), Service{Ref: "checkout", Workload: "Deployment checkout-worker", Namespace: "shop",
		Labels: map[string]string{"app": "checkout-worker"}, DependsOn: []string{"payment", "inventory"}})
	g := Compute(Input{Services: svcs, Namespaces: namespaces, Policies: []*networkingv1.NetworkPolicy{
		np("shop", "payment-from-worker", map[string]string{"app": "payment"}, nil,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{pods(map[string]string{"app": "checkout-worker"})}}}, nil)}})
	if !g.Allowed("checkout", "payment") || g.Allowed("storefront", "payment") {
		t.Errorf("checkout→payment %v, storefront→payment %v: want the worker's pods admitted only", g.Allowed("checkout", "payment"), g.Allowed("storefront", "payment"))
	}
	r, _ := g.Of("payment")
	if !reflect.DeepEqual(r.Callers, []string{"checkout"}) {
		t.Errorf("callers = %v, want checkout once", r.Callers)
	}
	if b := g.Blocked(); len(b) != 0 {
		t.Errorf("blocked = %+v, want none: checkout's worker may call payment", b)
	}
}
