package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/portico-dev/portico/internal/reach"
)

// reachBench times the network-reach computation of one cluster with 1,000 services in 25
// namespaces and 500 policies (a default deny per namespace, allow rules by pod and by
// namespace, egress limits): the whole graph with every declared dependency checked, and
// one service page's reach on it. The baseline is a pass that only matches every policy's
// pod selector against every service: the least any computation must do.
func reachBench() []row {
	in := reachInput(1000, 25, 500)
	fmt.Fprintf(os.Stderr, "reach: %d services, %d policies…\n", len(in.Services), len(in.Policies))
	const runs = 30
	var graph, page, floor []time.Duration
	for range runs {
		t0 := time.Now()
		selectOnly(in)
		floor = append(floor, time.Since(t0))
		t0 = time.Now()
		g := reach.Compute(in)
		g.Blocked()
		graph = append(graph, time.Since(t0))
		t0 = time.Now()
		if _, ok := g.Of(in.Services[rand.IntN(len(in.Services))].Ref); !ok {
			panic("a generated service has no reach")
		}
		page = append(page, time.Since(t0))
	}
	slices.Sort(graph)
	slices.Sort(page)
	slices.Sort(floor)
	worst, med := graph[runs-1], graph[runs/2]
	return []row{
		{name: "network reach: 1,000 services × 500 policies, whole graph + dependencies (worst of 30)", db: "-",
			value: fmt.Sprintf("%s (median %s)", ms(worst), ms(med)), budget: "≤ 200ms",
			ratio: fmt.Sprintf("%.1f× matching selectors only (%s)", float64(med)/float64(floor[runs/2]), ms(floor[runs/2])), ok: worst <= 200*time.Millisecond},
		{name: "network reach: one service's reach on that graph (worst of 30)", db: "-",
			value: fmt.Sprintf("%s (median %s)", ms(page[runs-1]), ms(page[runs/2])), budget: "report", ok: true},
	}
}

// selectOnly matches every policy's pod selector against every service of its namespace.
func selectOnly(in reach.Input) {
	for _, p := range in.Policies {
		sel, _ := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		for _, s := range in.Services {
			if s.Namespace == p.Namespace {
				sel.Matches(labels.Set(s.Labels))
			}
		}
	}
}

// reachInput is a company of services in namespaces, each calling three others, with
// policies written the way platform teams write them.
func reachInput(services, namespaces, policies int) reach.Input {
	r := rand.New(rand.NewPCG(1, 2))
	tiers := []string{"web", "api", "worker", "db"}
	in := reach.Input{Namespaces: map[string]map[string]string{}}
	for i := range namespaces {
		in.Namespaces[fmt.Sprintf("team-%d", i)] = map[string]string{"team": fmt.Sprintf("team-%d", i), "zone": []string{"public", "internal"}[i%2]}
	}
	for i := range services {
		s := reach.Service{Ref: fmt.Sprintf("svc-%d", i), Namespace: fmt.Sprintf("team-%d", i%namespaces),
			Labels: map[string]string{"app": fmt.Sprintf("svc-%d", i), "tier": tiers[i%len(tiers)]}}
		for range 3 {
			s.DependsOn = append(s.DependsOn, fmt.Sprintf("svc-%d", r.IntN(services)))
		}
		in.Services = append(in.Services, s)
	}
	port := func(n int) []networkingv1.NetworkPolicyPort {
		p := intstr.FromInt(n)
		return []networkingv1.NetworkPolicyPort{{Port: &p}}
	}
	for i := 0; len(in.Policies) < policies; i++ {
		ns := fmt.Sprintf("team-%d", i%namespaces)
		p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p-%d", i)}}
		switch {
		case i < namespaces: // a default deny in every namespace
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		case i%5 == 0: // egress limited to the team's namespace and DNS
			p.Spec.PodSelector.MatchLabels = map[string]string{"tier": tiers[i%len(tiers)]}
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "internal"}}}}},
				{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.96.0.10/32"}}}, Ports: port(53)}}
		case i%3 == 0: // a tier admits the same tier from other teams
			p.Spec.PodSelector.MatchLabels = map[string]string{"tier": tiers[i%len(tiers)]}
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "internal"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "api"}}}}, Ports: port(8080)}}
		default: // a service admits its declared callers
			target := in.Services[r.IntN(services)]
			p.Namespace = target.Namespace
			p.Spec.PodSelector.MatchLabels = map[string]string{"app": target.Labels["app"]}
			var from []networkingv1.NetworkPolicyPeer
			for range 3 {
				from = append(from, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("svc-%d", r.IntN(services))}}})
			}
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: port(8080)}}
		}
		in.Policies = append(in.Policies, p)
	}
	return in
}
