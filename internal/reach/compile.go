package reach

import (
	"fmt"
	"math/bits"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// compiler resolves policies' selectors against the services, each selector once.
type compiler struct {
	services []Service
	byNS     map[string][]int      // service indexes by namespace
	nsLabels map[string]labels.Set // the services' namespaces' labels
	n        int
}

func (c *compiler) policy(np *networkingv1.NetworkPolicy) policy {
	p := policy{name: np.Namespace + "/" + np.Name, selected: newBits(c.n)}
	p.ingress, p.egress = directions(np)
	if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err == nil {
		for _, i := range c.byNS[np.Namespace] {
			if sel.Matches(labels.Set(c.services[i].Labels)) {
				p.selected.set(i)
			}
		}
	} // an invalid selector selects nothing: the API server refuses such a policy anyway
	if p.ingress {
		for _, r := range np.Spec.Ingress {
			p.inRules = append(p.inRules, c.rule(np.Namespace, r.From, r.Ports))
		}
	}
	if p.egress {
		for _, r := range np.Spec.Egress {
			p.outRule = append(p.outRule, c.rule(np.Namespace, r.To, r.Ports))
		}
	}
	return p
}

// directions follows the API: policyTypes when given; otherwise Ingress always, and Egress
// when the policy has egress rules.
func directions(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

func (c *compiler) rule(ns string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) rule {
	r := rule{peers: newBits(c.n), ports: compilePorts(ports)}
	if len(peers) == 0 {
		r.all = true
		return r
	}
	for _, peer := range peers {
		r.words = append(r.words, c.peer(ns, peer, r.peers))
	}
	return r
}

// peer adds the services peer matches to into, and says in words what it admits.
func (c *compiler) peer(ns string, peer networkingv1.NetworkPolicyPeer, into bitset) string {
	if b := peer.IPBlock; b != nil {
		w := "addresses in " + b.CIDR
		if len(b.Except) > 0 {
			w += " except " + strings.Join(b.Except, ", ")
		}
		return w
	}
	pods := labels.Everything()
	if peer.PodSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
		if err != nil {
			return "nothing (an invalid pod selector)"
		}
		pods = sel
	}
	namespaces := []string{ns}
	where := "in namespace " + ns
	if peer.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
		if err != nil {
			return "nothing (an invalid namespace selector)"
		}
		namespaces = namespaces[:0]
		for other, set := range c.nsLabels {
			if sel.Matches(set) {
				namespaces = append(namespaces, other)
			}
		}
		where = "in every namespace"
		if !sel.Empty() {
			where = "in namespaces labelled " + metav1.FormatLabelSelector(peer.NamespaceSelector)
		}
	}
	for _, other := range namespaces {
		for _, i := range c.byNS[other] {
			if pods.Matches(labels.Set(c.services[i].Labels)) {
				into.set(i)
			}
		}
	}
	if pods.Empty() {
		return "every pod " + where
	}
	return "pods labelled " + metav1.FormatLabelSelector(peer.PodSelector) + " " + where
}

// port is one port or range a rule opens. A named port stands for whatever number the pods
// give it, which Portico does not know, so it may be any.
type port struct {
	protocol corev1.Protocol
	name     string // a named port; empty when numbered
	from, to int32  // the range; from = 0: every port of the protocol
}

func compilePorts(ps []networkingv1.NetworkPolicyPort) []port {
	out := make([]port, 0, len(ps))
	for _, p := range ps {
		q := port{protocol: corev1.ProtocolTCP}
		if p.Protocol != nil {
			q.protocol = *p.Protocol
		}
		if p.Port != nil {
			if p.Port.IntVal != 0 {
				q.from, q.to = p.Port.IntVal, p.Port.IntVal
				if p.EndPort != nil {
					q.to = *p.EndPort
				}
			} else {
				q.name = p.Port.StrVal
			}
		}
		out = append(out, q)
	}
	return out
}

// overlap says whether two sides' ports share one; nil is every port.
func overlap(a, b []port) bool {
	if a == nil || b == nil {
		return (a == nil || len(a) > 0) && (b == nil || len(b) > 0)
	}
	for _, x := range a {
		for _, y := range b {
			if x.meets(y) {
				return true
			}
		}
	}
	return false
}

func (p port) meets(q port) bool {
	if p.protocol != q.protocol {
		return false
	}
	if p.name != "" || q.name != "" || p.from == 0 || q.from == 0 {
		return true // a named port or a whole protocol may be the other's number
	}
	return p.from <= q.to && q.from <= p.to
}

func portWords(ps []port) string {
	if len(ps) == 0 {
		return "every port"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		switch {
		case p.name != "":
			out[i] = fmt.Sprintf("%s %s", p.protocol, p.name)
		case p.from == 0:
			out[i] = fmt.Sprintf("every %s port", p.protocol)
		case p.from == p.to:
			out[i] = fmt.Sprintf("%s %d", p.protocol, p.from)
		default:
			out[i] = fmt.Sprintf("%s %d–%d", p.protocol, p.from, p.to)
		}
	}
	return strings.Join(out, ", ")
}

// bitset is a set of service indexes.
type bitset []uint64

func newBits(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

func (b bitset) fill(n int) {
	for i := range n {
		b.set(i)
	}
}

func (b bitset) each(f func(int)) {
	for w, word := range b {
		for word != 0 {
			i := bits.TrailingZeros64(word)
			f(w*64 + i)
			word &^= 1 << i
		}
	}
}
