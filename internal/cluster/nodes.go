package cluster

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	resourcehelper "k8s.io/component-helpers/resource"
)

// NodeSummary is a node as the cluster page lists it.
type NodeSummary struct {
	Name           string          `json:"name"`
	Roles          []string        `json:"roles,omitempty"`
	Ready          string          `json:"ready"` // the Ready condition's status: True, False or Unknown
	Problems       []string        `json:"problems,omitempty"`
	Conditions     []NodeCondition `json:"conditions"`
	Unschedulable  bool            `json:"unschedulable"`
	Taints         []string        `json:"taints,omitempty"` // key=value:Effect
	KubeletVersion string          `json:"kubeletVersion,omitempty"`
	CPU            Allocation      `json:"cpu"`    // millicores
	Memory         Allocation      `json:"memory"` // bytes
	Pods           int             `json:"pods"`
	PodCapacity    int64           `json:"podCapacity"`
	Created        time.Time       `json:"created"`
	Health         Health          `json:"health"`
}

// NodeCondition is one of the node's conditions.
type NodeCondition struct {
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Bad     bool      `json:"bad"` // the condition is in its failing state
}

// Allocation is what the scheduler may place on a node against what its pods request.
type Allocation struct {
	Allocatable int64 `json:"allocatable"`
	Requested   int64 `json:"requested"`
	Percent     int   `json:"percent"`
}

// NodeDetail is a node page: the summary, what the node is, its pods and its events.
type NodeDetail struct {
	NodeSummary
	Addresses   []string  `json:"addresses,omitempty"`
	OS          string    `json:"os,omitempty"`
	Runtime     string    `json:"containerRuntime,omitempty"`
	Labels      []string  `json:"labels,omitempty"`
	PodsOn      []NodePod `json:"podList"`
	Events      []Event   `json:"events"`
	CordonAudit string    `json:"cordonAudit,omitempty"` // the audit entry of the portal's last cordon or uncordon
}

// NodePod is a pod on a node.
type NodePod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Owner     string `json:"owner,omitempty"` // Kind/name of its controller
	Phase     string `json:"phase"`
	Ready     bool   `json:"ready"`
	Restarts  int32  `json:"restarts"`
	Reason    string `json:"reason,omitempty"`
	CPU       int64  `json:"cpuRequest"`    // millicores
	Memory    int64  `json:"memoryRequest"` // bytes
	Service   string `json:"service,omitempty"`
}

// nodeConditionsBad maps each condition type but Ready to the status that means trouble.
var nodeConditionsBad = map[corev1.NodeConditionType]corev1.ConditionStatus{
	corev1.NodeMemoryPressure:     corev1.ConditionTrue,
	corev1.NodeDiskPressure:       corev1.ConditionTrue,
	corev1.NodePIDPressure:        corev1.ConditionTrue,
	corev1.NodeNetworkUnavailable: corev1.ConditionTrue,
}

// conditionBad reports whether a node condition is in its failing state: Ready anything but
// True (False, or Unknown when the node stopped reporting), the others as listed.
func conditionBad(c corev1.NodeCondition) bool {
	if c.Type == corev1.NodeReady {
		return c.Status != corev1.ConditionTrue
	}
	bad, known := nodeConditionsBad[c.Type]
	return known && c.Status == bad
}

// nodeProblems names what is wrong with a node for the pods on it: not ready, or under
// pressure. Cordoned is not a problem for pods already running.
func nodeProblems(n *corev1.Node) []string {
	var out []string
	for _, t := range nodeTroubles(n) {
		out = append(out, t.Condition)
	}
	return out
}

// nodeHealth is a node's verdict: down when not ready, degraded under pressure or cordoned.
func nodeHealth(n *corev1.Node, problems []string) Health {
	switch {
	case len(problems) > 0 && problems[0] == "NotReady":
		return Health{Down, "NotReady"}
	case len(problems) > 0:
		return Health{Degraded, strings.Join(problems, ", ")}
	case n.Spec.Unschedulable:
		return Health{Degraded, "cordoned: nothing new is scheduled here"}
	}
	return Health{Healthy, "ready"}
}

// podActive reports whether a pod still holds its node's resources.
func podActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// podRequests is the pod's CPU (millicores) and memory (bytes) request, the way the
// scheduler counts it (init containers, sidecars and overhead included).
func podRequests(p *corev1.Pod) (int64, int64) {
	r := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
	return r.Cpu().MilliValue(), r.Memory().Value()
}

// FormatMillicores writes CPU as Kubernetes quantities do: whole cores, else millicores.
func FormatMillicores(milli int64) string {
	if milli%1000 == 0 {
		return strconv.FormatInt(milli/1000, 10)
	}
	return strconv.FormatInt(milli, 10) + "m"
}

// FormatBytes writes memory as a binary quantity (Ki, Mi, Gi).
func FormatBytes(b int64) string { return resource.NewQuantity(b, resource.BinarySI).String() }

func allocation(allocatable, requested int64) Allocation {
	a := Allocation{Allocatable: allocatable, Requested: requested}
	if allocatable > 0 {
		a.Percent = int(requested * 100 / allocatable)
	}
	return a
}

// summarise reads a node and what its active pods request into its summary.
func summarise(n *corev1.Node, used usage) NodeSummary {
	s := NodeSummary{Name: n.Name, Ready: string(corev1.ConditionUnknown), Unschedulable: n.Spec.Unschedulable, Pods: used.pods,
		KubeletVersion: n.Status.NodeInfo.KubeletVersion, Created: n.CreationTimestamp.Time, PodCapacity: n.Status.Allocatable.Pods().Value()}
	for k := range n.Labels {
		if role, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && role != "" {
			s.Roles = append(s.Roles, role)
		}
	}
	sort.Strings(s.Roles)
	for _, cond := range n.Status.Conditions {
		s.Conditions = append(s.Conditions, NodeCondition{Type: string(cond.Type), Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message,
			Since: cond.LastTransitionTime.Time, Bad: conditionBad(cond)})
		if cond.Type == corev1.NodeReady {
			s.Ready = string(cond.Status)
		}
	}
	for _, t := range n.Spec.Taints {
		taint := t.Key
		if t.Value != "" {
			taint += "=" + t.Value
		}
		s.Taints = append(s.Taints, taint+":"+string(t.Effect))
	}
	s.CPU = allocation(n.Status.Allocatable.Cpu().MilliValue(), used.cpu)
	s.Memory = allocation(n.Status.Allocatable.Memory().Value(), used.mem)
	s.Problems = nodeProblems(n)
	s.Health = nodeHealth(n, s.Problems)
	return s
}

// Nodes lists the cluster's nodes from the caches, by name.
func (c *Cluster) Nodes() []NodeSummary {
	objs := c.idx.nodes.GetStore().List()
	out := make([]NodeSummary, 0, len(objs))
	for _, obj := range objs {
		n := obj.(*corev1.Node)
		out = append(out, summarise(n, c.usage.of(n.Name)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Node is one node's page from the caches; false when the cluster has no such node. service
// names the catalog service a pod belongs to ("" for none the caller may show).
func (c *Cluster) Node(name string, service func(p *corev1.Pod) string) (NodeDetail, bool) {
	obj, ok, _ := c.idx.nodes.GetStore().GetByKey(name)
	if !ok {
		return NodeDetail{}, false
	}
	n := obj.(*corev1.Node)
	// The node page is not hot: a scan of the pod cache costs about a millisecond per 20,000
	// pods, and an index by node would cost every cached pod its entry.
	var pods []any
	for _, obj := range c.idx.pods.GetStore().List() {
		if obj.(*corev1.Pod).Spec.NodeName == n.Name {
			pods = append(pods, obj)
		}
	}
	d := NodeDetail{NodeSummary: summarise(n, c.usage.of(n.Name)), OS: strings.TrimSpace(n.Status.NodeInfo.OSImage + " " + n.Status.NodeInfo.OperatingSystem + "/" + n.Status.NodeInfo.Architecture),
		Runtime: n.Status.NodeInfo.ContainerRuntimeVersion, CordonAudit: n.Annotations[AnnotationCordonAudit]}
	for _, a := range n.Status.Addresses {
		d.Addresses = append(d.Addresses, fmt.Sprintf("%s %s", a.Type, a.Address))
	}
	for k, v := range n.Labels {
		d.Labels = append(d.Labels, k+"="+v)
	}
	sort.Strings(d.Labels)
	for _, obj := range pods {
		p := obj.(*corev1.Pod)
		pv := pod(p)
		np := NodePod{Namespace: p.Namespace, Name: p.Name, Phase: pv.Phase, Ready: pv.Ready, Restarts: pv.Restarts, Reason: pv.Reason, Service: service(p)}
		for _, o := range p.OwnerReferences {
			if o.Controller != nil && *o.Controller {
				np.Owner = o.Kind + "/" + o.Name
			}
		}
		if podActive(p) {
			np.CPU, np.Memory = podRequests(p)
		}
		d.PodsOn = append(d.PodsOn, np)
	}
	sort.Slice(d.PodsOn, func(i, j int) bool {
		a, b := d.PodsOn[i], d.PodsOn[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	d.Events = newestEvents(c.eventsAbout("Node", "", n.Name), 50, true)
	return d, true
}

// AnnotationCordonAudit is put on a node the portal cordons or uncordons: the audit entry of
// that action, so whoever finds the node cordoned can see who did it and why.
const AnnotationCordonAudit = "portico.dev/audit-id"

// nodeProblemOf is the problem of the node a pod runs on, "" when none (or unknown).
func (c *Cluster) nodeProblemOf(node string) string {
	if node == "" {
		return ""
	}
	obj, ok, _ := c.idx.nodes.GetStore().GetByKey(node)
	if !ok {
		return ""
	}
	if p := nodeProblems(obj.(*corev1.Node)); len(p) > 0 {
		return "node " + node + " " + strings.Join(p, ", ")
	}
	return ""
}

// WarningEvents are the cluster's latest Warning events, newest first.
func (c *Cluster) WarningEvents(limit int) []Event {
	objs, _ := c.idx.events.GetIndexer().ByIndex(indexByType, corev1.EventTypeWarning)
	evs := make([]*corev1.Event, 0, len(objs))
	for _, o := range objs {
		evs = append(evs, o.(*corev1.Event))
	}
	return newestEvents(evs, limit, true)
}

// newestEvents turns cached events (only the Warning ones, with warningsOnly) into the
// newest limit, newest first.
func newestEvents(evs []*corev1.Event, limit int, warningsOnly bool) []Event {
	out := []Event{}
	for _, e := range evs {
		if !warningsOnly || e.Type == corev1.EventTypeWarning {
			out = append(out, event(e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func event(e *corev1.Event) Event {
	count := e.Count
	if count == 0 && e.Series != nil {
		count = e.Series.Count
	}
	if count == 0 {
		count = 1
	}
	return Event{Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name, Namespace: e.InvolvedObject.Namespace, Reason: e.Reason,
		Message: e.Message, Count: count, Last: eventTime(e)}
}

// NamespaceSummary is a namespace with the catalog services that run in it.
type NamespaceSummary struct {
	Name     string   `json:"name"`
	Phase    string   `json:"phase"`
	Pods     int      `json:"pods"`
	Services []string `json:"services"` // refs of the components with workloads here
}

// Namespaces lists the cluster's namespaces, each with the components of comps that run
// workloads in it.
func (c *Cluster) Namespaces(comps []Component) []NamespaceSummary {
	byNS := map[string]map[string]bool{}
	for _, comp := range comps {
		for _, w := range c.workloadsOf(comp.Query) {
			if byNS[w.namespace] == nil {
				byNS[w.namespace] = map[string]bool{}
			}
			byNS[w.namespace][comp.Ref] = true
		}
	}
	objs := c.idx.namespaces.GetStore().List()
	out := make([]NamespaceSummary, 0, len(objs))
	for _, obj := range objs {
		ns := obj.(*corev1.Namespace)
		pods, _ := c.idx.pods.GetIndexer().ByIndex(cache.NamespaceIndex, ns.Name)
		s := NamespaceSummary{Name: ns.Name, Phase: string(ns.Status.Phase), Pods: len(pods), Services: []string{}}
		for ref := range byNS[ns.Name] {
			s.Services = append(s.Services, ref)
		}
		sort.Strings(s.Services)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ServiceOfPod returns a function naming the component of comps a pod belongs to: the first,
// in comps' order, whose selector (and namespace and cluster, when it names them) matches it.
func (c *Cluster) ServiceOfPod(comps []Component) func(p *corev1.Pod) string {
	return func(p *corev1.Pod) string {
		for _, comp := range comps {
			q := comp.Query
			if q.Selector == nil || (q.Cluster != "" && q.Cluster != c.Name) || (q.Namespace != "" && q.Namespace != p.Namespace) {
				continue
			}
			if q.Selector.Matches(labels.Set(p.Labels)) {
				return comp.Ref
			}
		}
		return ""
	}
}
