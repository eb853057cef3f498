// Package reach turns a cluster's NetworkPolicies into plain words per service: which other
// services' pods may call it and which it may call, and which declared dependencies the
// policies would block. It is pure: the caller gives the catalog's services (their pods'
// namespace and labels), the policies and the namespaces' labels.
//
// It follows the NetworkPolicy API's semantics (networking.k8s.io/v1): a pod no policy
// selects for a direction is open in that direction; once selected, only what some
// selecting policy's rules allow passes; traffic from A to B needs A's egress and B's
// ingress to allow it. ipBlock peers are addresses, shown as such: pods are not matched by
// IP. Whether the policies are enforced is the network plugin's business.
package reach

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Service is one catalog service's pods in the cluster: one per workload when it runs
// several (an API and a worker), all with the same Ref.
type Service struct {
	Ref       string            // the catalog's entity reference
	Name      string            // how people call it, in words; Ref when empty
	Workload  string            // e.g. "Deployment checkout-worker"; may be empty
	Namespace string            // the pods' namespace
	Labels    map[string]string // the pods' labels (their template's)
	DependsOn []string          // refs of the services it declares it calls
}

func (s Service) name() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Ref
}

// Input is what the computation needs of one cluster.
type Input struct {
	Services []Service
	Policies []*networkingv1.NetworkPolicy // read only: shared with the caches
	// Namespaces holds each namespace's labels; a namespace missing here still has
	// kubernetes.io/metadata.name, which the API server sets on every namespace.
	Namespaces map[string]map[string]string
}

// Graph is the computed reach of every service in one cluster.
type Graph struct {
	services []Service
	byRef    map[string][]int // a service's workloads
	policies []policy
	// For each service: the policies selecting it per direction (indexes into policies).
	ingressBy, egressBy [][]int
	// inFrom[b] holds a when b's ingress admits a; outTo[a] holds b when a's egress allows b.
	inFrom, outTo []bitset
}

// policy is one NetworkPolicy compiled once: its selectors parsed, its rules' peers resolved
// to the services they match.
type policy struct {
	name             string // namespace/name
	ingress, egress  bool   // the directions it isolates
	selected         bitset
	inRules, outRule []rule
}

// rule is one ingress or egress rule: the peers it admits (as services and in words) and the
// ports.
type rule struct {
	all   bool // no peers listed: every pod and address
	peers bitset
	words []string
	ports []port
}

// Compute resolves every policy against the services.
func Compute(in Input) *Graph {
	n := len(in.Services)
	g := &Graph{services: in.Services, byRef: make(map[string][]int, n), ingressBy: make([][]int, n), egressBy: make([][]int, n),
		inFrom: make([]bitset, n), outTo: make([]bitset, n)}
	for i, s := range in.Services {
		g.byRef[s.Ref] = append(g.byRef[s.Ref], i)
	}
	byNS := map[string][]int{}
	for i, s := range in.Services {
		byNS[s.Namespace] = append(byNS[s.Namespace], i)
	}
	// The services' namespaces with their labels, each set built once for every selector.
	nsLabels := make(map[string]labels.Set, len(byNS))
	for ns := range byNS {
		set := labels.Set{"kubernetes.io/metadata.name": ns}
		for k, v := range in.Namespaces[ns] {
			set[k] = v
		}
		nsLabels[ns] = set
	}
	c := compiler{services: in.Services, byNS: byNS, nsLabels: nsLabels, n: n}
	for _, np := range in.Policies {
		p := c.policy(np)
		idx := len(g.policies)
		g.policies = append(g.policies, p)
		p.selected.each(func(i int) {
			if p.ingress {
				g.ingressBy[i] = append(g.ingressBy[i], idx)
			}
			if p.egress {
				g.egressBy[i] = append(g.egressBy[i], idx)
			}
		})
	}
	for i := range in.Services {
		g.inFrom[i] = g.union(g.ingressBy[i], func(p *policy) []rule { return p.inRules }, n)
		g.outTo[i] = g.union(g.egressBy[i], func(p *policy) []rule { return p.outRule }, n)
	}
	return g
}

// union is what the given policies' rules admit together; with no policy, everything.
func (g *Graph) union(policies []int, rules func(*policy) []rule, n int) bitset {
	out := newBits(n)
	if len(policies) == 0 {
		out.fill(n)
		return out
	}
	for _, pi := range policies {
		for _, r := range rules(&g.policies[pi]) {
			if r.all {
				out.fill(n)
				return out
			}
			out.or(r.peers)
		}
	}
	return out
}

// Allowed says whether the policies let some of from's pods open a connection to some of
// to's pods on some port; false when either is not a service of the graph.
func (g *Graph) Allowed(from, to string) bool {
	return g.anyAllowed(g.byRef[from], g.byRef[to])
}

func (g *Graph) anyAllowed(from, to []int) bool {
	for _, a := range from {
		for _, b := range to {
			if g.allowed(a, b) {
				return true
			}
		}
	}
	return false
}

func (g *Graph) allowed(a, b int) bool {
	if !g.outTo[a].has(b) || !g.inFrom[b].has(a) {
		return false
	}
	// Both directions admit the pair; they must also share a port.
	return overlap(g.ports(g.egressBy[a], func(p *policy) []rule { return p.outRule }, b),
		g.ports(g.ingressBy[b], func(p *policy) []rule { return p.inRules }, a))
}

// ports are the ports the given policies' rules open to peer; nil means every port.
func (g *Graph) ports(policies []int, rules func(*policy) []rule, peer int) []port {
	if len(policies) == 0 {
		return nil
	}
	var out []port
	for _, pi := range policies {
		for _, r := range rules(&g.policies[pi]) {
			if !r.all && !r.peers.has(peer) {
				continue
			}
			if len(r.ports) == 0 {
				return nil
			}
			out = append(out, r.ports...)
		}
	}
	if out == nil {
		return []port{} // admitted by no rule: no port
	}
	return out
}

// Reach is one service's reach in words.
type Reach struct {
	Service string `json:"service"`
	// IngressPolicies and EgressPolicies name (namespace/name) the policies selecting its
	// pods; none means that direction is open.
	IngressPolicies []string `json:"ingressPolicies"`
	EgressPolicies  []string `json:"egressPolicies"`
	Callers         []string `json:"callers"` // services that may call it (both sides' policies)
	Callees         []string `json:"callees"` // services it may call
	Admits          []Rule   `json:"admits"`  // its ingress rules, in words
	Allows          []Rule   `json:"allows"`  // its egress rules, in words
	Blocked         []Block  `json:"blocked"` // declared dependencies the policies block, either way
}

// Rule is one rule of a policy in words.
type Rule struct {
	Policy   string   `json:"policy"`             // namespace/name
	Peers    string   `json:"peers"`              // "pods labelled app=checkout in namespace shop", "every pod and address"
	Ports    string   `json:"ports"`              // "TCP 8080", "every port"
	Services []string `json:"services,omitempty"` // the catalog's services among the peers
}

// Block is a declared dependency the policies would refuse.
type Block struct {
	From string `json:"from"`
	To   string `json:"to"`
	Why  string `json:"why"`
}

// Of describes ref's reach; ok is false when ref is not a service of the graph.
func (g *Graph) Of(ref string) (r Reach, ok bool) {
	mine, ok := g.byRef[ref]
	if !ok {
		return Reach{}, false
	}
	r.Service = ref
	r.IngressPolicies, r.Admits = g.selecting(mine, g.ingressBy, func(p *policy) []rule { return p.inRules })
	r.EgressPolicies, r.Allows = g.selecting(mine, g.egressBy, func(p *policy) []rule { return p.outRule })
	for other, theirs := range g.byRef {
		if other == ref {
			continue
		}
		if g.anyAllowed(theirs, mine) {
			r.Callers = append(r.Callers, other)
		}
		if g.anyAllowed(mine, theirs) {
			r.Callees = append(r.Callees, other)
		}
	}
	sort.Strings(r.Callers)
	sort.Strings(r.Callees)
	r.Blocked = g.blocked(func(from, to string) bool { return from == ref || to == ref })
	return r, true
}

// selecting names the policies selecting any of the workloads in one direction (by), each
// once, and says their rules in words.
func (g *Graph) selecting(workloads []int, by [][]int, rules func(*policy) []rule) (names []string, words []Rule) {
	seen := map[int]bool{}
	for _, i := range workloads {
		for _, pi := range by[i] {
			if seen[pi] {
				continue
			}
			seen[pi] = true
			names = append(names, g.policies[pi].name)
			words = append(words, g.words(g.policies[pi], rules(&g.policies[pi]))...)
		}
	}
	return names, words
}

func (g *Graph) words(p policy, rules []rule) []Rule {
	if len(rules) == 0 {
		return []Rule{{Policy: p.name, Peers: "nothing (this policy denies the direction)", Ports: "no port"}}
	}
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		w := Rule{Policy: p.name, Peers: "every pod and address", Ports: portWords(r.ports)}
		if !r.all {
			w.Peers = strings.Join(r.words, "; ")
			r.peers.each(func(j int) { w.Services = append(w.Services, g.services[j].Ref) })
			sort.Strings(w.Services)
		}
		out = append(out, w)
	}
	return out
}

// Blocked lists every declared dependency (DependsOn between services of the graph) that the
// policies refuse, saying which side refuses it.
func (g *Graph) Blocked() []Block {
	return g.blocked(func(string, string) bool { return true })
}

// blocked checks the declared dependencies concern picks.
func (g *Graph) blocked(concern func(from, to string) bool) []Block {
	var out []Block
	done := map[[2]string]bool{}
	for _, s := range g.services {
		for _, dep := range s.DependsOn {
			key := [2]string{s.Ref, dep}
			to, ok := g.byRef[dep]
			if !ok || done[key] || !concern(s.Ref, dep) {
				continue
			}
			done[key] = true
			from := g.byRef[s.Ref]
			if g.anyAllowed(from, to) {
				continue
			}
			out = append(out, Block{From: s.Ref, To: dep, Why: g.why(from[0], to[0])})
		}
	}
	return out
}

func (g *Graph) why(a, b int) string {
	from, to := g.services[a].name(), g.services[b].name()
	switch {
	case !g.outTo[a].has(b):
		return fmt.Sprintf("%s's egress policies (%s) allow no connection to %s's pods", from, g.names(g.egressBy[a]), to)
	case !g.inFrom[b].has(a):
		return fmt.Sprintf("%s's ingress policies (%s) admit no connection from %s's pods", to, g.names(g.ingressBy[b]), from)
	}
	return fmt.Sprintf("%s's egress and %s's ingress policies open no port in common", from, to)
}

func (g *Graph) names(policies []int) string {
	out := make([]string, len(policies))
	for i, pi := range policies {
		out[i] = g.policies[pi].name
	}
	return strings.Join(out, ", ")
}
