package cluster

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// ClusterAutoscaling is what scales a component's workloads in one cluster.
type ClusterAutoscaling struct {
	Cluster      string      `json:"cluster"`
	Environment  string      `json:"environment,omitempty"`
	HPAs         []HPADetail `json:"hpas"`
	VPAs         []VPADetail `json:"vpas"`
	VPAInstalled bool        `json:"vpaInstalled"` // the cluster serves the VerticalPodAutoscaler API
}

// HPADetail is a HorizontalPodAutoscaler with what it measures, how it may move, its
// conditions and its recent scaling.
type HPADetail struct {
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	Target     string          `json:"target"` // Kind/name it scales
	Min        int32           `json:"min"`
	Max        int32           `json:"max"`
	Current    int32           `json:"current"`
	Desired    int32           `json:"desired"`
	LastScale  time.Time       `json:"lastScale,omitzero"`
	Metrics    []HPAMetric     `json:"metrics"`
	Behavior   []string        `json:"behavior"`   // scale up, scale down: in words
	Conditions []NodeCondition `json:"conditions"` // AbleToScale, ScalingActive, ScalingLimited
	Events     []Event         `json:"events"`     // newest first, Normal and Warning
	Scalings   []Scaling       `json:"scalings"`   // the sizes it set, oldest first
}

// HPAMetric is one metric the autoscaler follows: its current value against its target.
type HPAMetric struct {
	Name    string `json:"name"`
	Current string `json:"current"`
	Target  string `json:"target"`
}

// Scaling is one size the autoscaler set.
type Scaling struct {
	At     time.Time `json:"at"`
	Size   int32     `json:"size"`
	Reason string    `json:"reason"`
}

// VPADetail is a VerticalPodAutoscaler's recommendation against the pods' requests.
type VPADetail struct {
	Namespace  string         `json:"namespace"`
	Name       string         `json:"name"`
	Target     string         `json:"target"`
	Mode       string         `json:"mode"` // Off, Initial, Recreate, InPlaceOrRecreate, Auto
	Containers []VPAContainer `json:"containers"`
	Problem    string         `json:"problem,omitempty"` // no recommendation yet, and why
}

// VPAContainer is one container's recommendation.
type VPAContainer struct {
	Name    string            `json:"name"`
	Target  map[string]string `json:"target"`
	Lower   map[string]string `json:"lowerBound"`
	Upper   map[string]string `json:"upperBound"`
	Request map[string]string `json:"request"` // what the workload's template requests now
	Verdict []string          `json:"verdict"` // "cpu: requests 100m, below the lower bound 250m"
}

// Autoscaling answers, from the caches, what scales q's workloads in every cluster it allows.
func (m *Manager) Autoscaling(q Query) []ClusterAutoscaling {
	var out []ClusterAutoscaling
	for _, c := range m.clusters {
		if q.Cluster != "" && q.Cluster != c.Name {
			continue
		}
		ws := c.workloadsOf(q)
		if len(ws) == 0 {
			continue
		}
		out = append(out, c.autoscaling(ws))
	}
	return out
}

func (c *Cluster) autoscaling(ws []workloadRef) ClusterAutoscaling {
	ca := ClusterAutoscaling{Cluster: c.Name, Environment: c.Environment, HPAs: []HPADetail{}, VPAs: []VPADetail{}}
	var vpas *crdInformer
	if c.crds != nil {
		vpas = c.crds.served()["verticalpodautoscalers.autoscaling.k8s.io"]
	}
	ca.VPAInstalled = vpas != nil
	for _, w := range ws {
		objs, _ := c.idx.hpas.GetIndexer().ByIndex(cache.NamespaceIndex, w.namespace)
		for _, obj := range objs {
			h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			if h.Spec.ScaleTargetRef.Kind == w.kind && h.Spec.ScaleTargetRef.Name == w.name {
				ca.HPAs = append(ca.HPAs, c.hpaDetail(h))
			}
		}
		if vpas == nil {
			continue
		}
		objs, _ = vpas.inf.GetIndexer().ByIndex(cache.NamespaceIndex, w.namespace)
		for _, obj := range objs {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			kind, _, _ := unstructured.NestedString(u.Object, "spec", "targetRef", "kind")
			name, _, _ := unstructured.NestedString(u.Object, "spec", "targetRef", "name")
			if kind == w.kind && name == w.name {
				ca.VPAs = append(ca.VPAs, vpaDetail(u, w))
			}
		}
	}
	return ca
}

func (c *Cluster) hpaDetail(h *autoscalingv2.HorizontalPodAutoscaler) HPADetail {
	d := HPADetail{Namespace: h.Namespace, Name: h.Name, Target: h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name,
		Min: deref(h.Spec.MinReplicas), Max: h.Spec.MaxReplicas, Current: h.Status.CurrentReplicas, Desired: h.Status.DesiredReplicas,
		Metrics: []HPAMetric{}, Behavior: hpaBehavior(h.Spec.Behavior), Conditions: []NodeCondition{}}
	if h.Status.LastScaleTime != nil {
		d.LastScale = h.Status.LastScaleTime.Time
	}
	current := map[string]string{}
	for _, st := range h.Status.CurrentMetrics {
		current[statusName(st)] = metricCurrent(st)
	}
	for _, spec := range h.Spec.Metrics {
		m := HPAMetric{Name: metricName(spec), Target: metricTarget(spec), Current: "unknown"}
		if v, ok := current[m.Name]; ok {
			m.Current = v
		}
		d.Metrics = append(d.Metrics, m)
	}
	for _, cond := range h.Status.Conditions {
		bad := cond.Status == corev1.ConditionFalse && (cond.Type == autoscalingv2.AbleToScale || cond.Type == autoscalingv2.ScalingActive) ||
			cond.Type == autoscalingv2.ScalingLimited && cond.Status == corev1.ConditionTrue
		d.Conditions = append(d.Conditions, NodeCondition{Type: string(cond.Type), Status: string(cond.Status), Reason: cond.Reason,
			Message: cond.Message, Since: cond.LastTransitionTime.Time, Bad: bad})
	}
	events := c.eventsAbout("HorizontalPodAutoscaler", h.Namespace, h.Name)
	d.Events = newestEvents(events, 30, false)
	d.Scalings = []Scaling{}
	for _, e := range events {
		if size, reason, ok := ParseRescale(e.Message); ok && e.Reason == "SuccessfulRescale" {
			d.Scalings = append(d.Scalings, Scaling{At: eventTime(e), Size: size, Reason: reason})
		}
	}
	sort.Slice(d.Scalings, func(i, j int) bool { return d.Scalings[i].At.Before(d.Scalings[j].At) })
	return d
}

var rescale = regexp.MustCompile(`^New size: (\d+); reason: (.*)$`)

// ParseRescale reads the HPA controller's SuccessfulRescale message: "New size: 4; reason:
// cpu resource utilization (percentage of request) above target".
func ParseRescale(msg string) (int32, string, bool) {
	m := rescale.FindStringSubmatch(strings.TrimSpace(msg))
	if m == nil {
		return 0, "", false
	}
	n, err := strconv.ParseInt(m[1], 10, 32)
	return int32(n), m[2], err == nil
}

// statusName names a metric's status as metricName names its spec.
func statusName(s autoscalingv2.MetricStatus) string {
	spec := autoscalingv2.MetricSpec{Type: s.Type}
	switch {
	case s.Resource != nil:
		spec.Resource = &autoscalingv2.ResourceMetricSource{Name: s.Resource.Name}
	case s.ContainerResource != nil:
		spec.ContainerResource = &autoscalingv2.ContainerResourceMetricSource{Name: s.ContainerResource.Name, Container: s.ContainerResource.Container}
	case s.Pods != nil:
		spec.Pods = &autoscalingv2.PodsMetricSource{Metric: s.Pods.Metric}
	case s.Object != nil:
		spec.Object = &autoscalingv2.ObjectMetricSource{Metric: s.Object.Metric, DescribedObject: s.Object.DescribedObject}
	case s.External != nil:
		spec.External = &autoscalingv2.ExternalMetricSource{Metric: s.External.Metric}
	}
	return metricName(spec)
}

func metricName(s autoscalingv2.MetricSpec) string {
	switch s.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if s.Resource != nil {
			return string(s.Resource.Name)
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		if s.ContainerResource != nil {
			return fmt.Sprintf("%s of container %s", s.ContainerResource.Name, s.ContainerResource.Container)
		}
	case autoscalingv2.PodsMetricSourceType:
		if s.Pods != nil {
			return "pods: " + s.Pods.Metric.Name
		}
	case autoscalingv2.ObjectMetricSourceType:
		if s.Object != nil {
			return fmt.Sprintf("%s of %s/%s", s.Object.Metric.Name, s.Object.DescribedObject.Kind, s.Object.DescribedObject.Name)
		}
	case autoscalingv2.ExternalMetricSourceType:
		if s.External != nil {
			return "external: " + s.External.Metric.Name
		}
	}
	return string(s.Type)
}

func targetText(t autoscalingv2.MetricTarget) string {
	switch {
	case t.AverageUtilization != nil:
		return fmt.Sprintf("%d%% of request (average)", *t.AverageUtilization)
	case t.AverageValue != nil:
		return t.AverageValue.String() + " per pod"
	case t.Value != nil:
		return t.Value.String()
	}
	return "—"
}

func metricTarget(s autoscalingv2.MetricSpec) string {
	switch {
	case s.Resource != nil:
		return targetText(s.Resource.Target)
	case s.ContainerResource != nil:
		return targetText(s.ContainerResource.Target)
	case s.Pods != nil:
		return targetText(s.Pods.Target)
	case s.Object != nil:
		return targetText(s.Object.Target)
	case s.External != nil:
		return targetText(s.External.Target)
	}
	return "—"
}

func valueText(v autoscalingv2.MetricValueStatus) string {
	switch {
	case v.AverageUtilization != nil:
		return fmt.Sprintf("%d%%", *v.AverageUtilization)
	case v.AverageValue != nil:
		return v.AverageValue.String() + " per pod"
	case v.Value != nil:
		return v.Value.String()
	}
	return "unknown"
}

func metricCurrent(s autoscalingv2.MetricStatus) string {
	switch {
	case s.Resource != nil:
		return valueText(s.Resource.Current)
	case s.ContainerResource != nil:
		return valueText(s.ContainerResource.Current)
	case s.Pods != nil:
		return valueText(s.Pods.Current)
	case s.Object != nil:
		return valueText(s.Object.Current)
	case s.External != nil:
		return valueText(s.External.Current)
	}
	return "unknown"
}

// hpaBehavior says how fast the autoscaler may move, with Kubernetes' defaults where the
// spec leaves it out.
func hpaBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior) []string {
	var up, down *autoscalingv2.HPAScalingRules
	if b != nil {
		up, down = b.ScaleUp, b.ScaleDown
	}
	return []string{"scale up: " + rulesText(up, 0, "at most 100% or 4 pods more per 15s (whichever is more)"),
		"scale down: " + rulesText(down, 300, "up to 100% fewer per 15s")}
}

func rulesText(r *autoscalingv2.HPAScalingRules, defaultWindow int32, defaultPolicies string) string {
	window := defaultWindow
	policies := defaultPolicies
	if r != nil {
		if r.StabilizationWindowSeconds != nil {
			window = *r.StabilizationWindowSeconds
		}
		if r.SelectPolicy != nil && *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
			return "disabled"
		}
		if len(r.Policies) > 0 {
			var ps []string
			for _, p := range r.Policies {
				unit := " pods"
				if p.Type == autoscalingv2.PercentScalingPolicy {
					unit = "%"
				}
				ps = append(ps, fmt.Sprintf("%d%s per %ds", p.Value, unit, p.PeriodSeconds))
			}
			sel := "whichever is more"
			if r.SelectPolicy != nil && *r.SelectPolicy == autoscalingv2.MinChangePolicySelect {
				sel = "whichever is less"
			}
			policies = "at most " + strings.Join(ps, " or ") + " (" + sel + ")"
		}
	}
	return fmt.Sprintf("%s; stabilization window %ds", policies, window)
}

// vpaDetail reads a VPA's recommendation and compares it with what w's template requests.
func vpaDetail(u *unstructured.Unstructured, w workloadRef) VPADetail {
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "targetRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "targetRef", "name")
	d := VPADetail{Namespace: u.GetNamespace(), Name: u.GetName(), Target: kind + "/" + name, Mode: "Auto", Containers: []VPAContainer{}}
	if mode, ok, _ := unstructured.NestedString(u.Object, "spec", "updatePolicy", "updateMode"); ok {
		d.Mode = mode
	}
	recs, _, _ := unstructured.NestedSlice(u.Object, "status", "recommendation", "containerRecommendations")
	if len(recs) == 0 {
		d.Problem = "no recommendation yet: the recommender has not seen enough usage (or does not run)"
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "RecommendationProvided" && cm["status"] == "False" {
				if msg, _ := cm["message"].(string); msg != "" {
					d.Problem = "no recommendation: " + msg
				}
			}
		}
	}
	requests := map[string]corev1.ResourceList{}
	for _, c := range w.template.Spec.Containers {
		requests[c.Name] = c.Resources.Requests
	}
	for _, r := range recs {
		rm, _ := r.(map[string]any)
		cn, _ := rm["containerName"].(string)
		vc := VPAContainer{Name: cn, Target: quantities(rm["target"]), Lower: quantities(rm["lowerBound"]), Upper: quantities(rm["upperBound"]),
			Request: map[string]string{}, Verdict: []string{}}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, has := requests[cn][res]
			if has {
				vc.Request[string(res)] = req.String()
			}
			vc.Verdict = append(vc.Verdict, verdict(string(res), req, has, vc.Lower[string(res)], vc.Upper[string(res)], vc.Target[string(res)]))
		}
		d.Containers = append(d.Containers, vc)
	}
	return d
}

func quantities(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		if s, ok := x.(string); ok {
			if q, err := resource.ParseQuantity(s); err == nil {
				out[k] = q.String()
			}
		}
	}
	return out
}

// verdict compares a request with the recommendation's bounds.
func verdict(res string, req resource.Quantity, has bool, lower, upper, target string) string {
	if target == "" {
		return res + ": no recommendation"
	}
	if !has {
		return fmt.Sprintf("%s: no request; the recommendation is %s", res, target)
	}
	lo, errLo := resource.ParseQuantity(lower)
	hi, errHi := resource.ParseQuantity(upper)
	switch {
	case errLo == nil && req.Cmp(lo) < 0:
		return fmt.Sprintf("%s: requests %s, below the lower bound %s: under-provisioned", res, req.String(), lower)
	case errHi == nil && req.Cmp(hi) > 0:
		return fmt.Sprintf("%s: requests %s, above the upper bound %s: over-provisioned", res, req.String(), upper)
	}
	return fmt.Sprintf("%s: requests %s, within the recommended %s–%s", res, req.String(), lower, upper)
}
