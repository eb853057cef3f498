package scorecard

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Facts are what the checks read about one service. Objects are Kubernetes objects in their
// JSON shape (unstructured), as `kubectl get -o json` prints them.
type Facts struct {
	Entity     map[string]any // the catalog entity
	Production bool           // lifecycle production, or running in a production environment
	// Workloads are the service's Deployments and StatefulSets; each also carries "cluster"
	// and "environment" keys.
	Workloads []map[string]any
	Pods      []map[string]any
	// HPAs, PDBs and NetworkPolicies are those that target or select the workloads' pods;
	// NamespacePolicies are every NetworkPolicy in the workloads' namespaces (default deny).
	HPAs, PDBs, NetworkPolicies, NamespacePolicies, Services []map[string]any
	AlertRules                                               []map[string]any // {name, expr, labels, group}
	Runbook                                                  map[string]any   // {present, path}
	Pipeline                                                 map[string]any   // {runs, scanned, critical, high, signed}
	Delivery                                                 map[string]any   // {deploysPerWeek, leadTimeHours, changeFailureRate, restoreHours}
	// CRDs are the custom resources the service's clusters serve (plural.group → true), and
	// Reports the objects of those that concern the service, by the same key.
	CRDs    map[string]bool
	Reports map[string][]map[string]any
	// Exempt are checks exempted for this service (id → reason).
	Exempt map[string]string
	// Unknown are facts not known where the checks run (`portico scorecard check` knows
	// manifests, not alert rules or pods): checks that read them are not applicable.
	Unknown map[string]bool
}

func (f Facts) activation() map[string]any {
	l := func(xs []map[string]any) []any {
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = x
		}
		return out
	}
	orEmpty := func(m map[string]any) map[string]any {
		if m == nil {
			return map[string]any{}
		}
		return m
	}
	crds := map[string]bool{}
	for k, v := range f.CRDs {
		crds[k] = v
	}
	reports := map[string][]any{}
	for k, v := range f.Reports {
		reports[k] = l(v)
	}
	return map[string]any{
		"entity": orEmpty(f.Entity), "production": f.Production,
		"workloads": l(f.Workloads), "pods": l(f.Pods), "hpas": l(f.HPAs), "pdbs": l(f.PDBs),
		"networkPolicies": l(f.NetworkPolicies), "namespacePolicies": l(f.NamespacePolicies), "services": l(f.Services),
		"alertRules": l(f.AlertRules), "runbook": orEmpty(f.Runbook), "pipeline": orEmpty(f.Pipeline),
		"delivery": orEmpty(f.Delivery), "crds": crds, "reports": reports,
	}
}

// snippetData is what a fix's template sees: the first workload, its containers and labels.
func (f Facts) snippetData() map[string]any {
	d := map[string]any{"Name": "", "Namespace": "", "Containers": []string{}, "Labels": map[string]string{}, "Service": ""}
	if name, ok := f.Entity["metadata"].(map[string]any); ok {
		d["Service"] = name["name"]
	}
	if len(f.Workloads) == 0 {
		return d
	}
	w := WorkloadsOf(f.Workloads[:1])[0]
	d["Name"], d["Namespace"], d["Containers"], d["Labels"] = w.Name, w.Namespace, w.Containers, podLabels(f.Workloads[0])
	return d
}

func podLabels(obj map[string]any) map[string]string {
	out := map[string]string{}
	m, _, _ := unstructured.NestedStringMap(obj, "spec", "template", "metadata", "labels")
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Objects are the candidates Assemble matches to a service's workloads: everything in the
// workloads' namespaces (from the caches) or everything in a set of manifest files.
type Objects struct {
	Workloads []map[string]any // Deployments and StatefulSets of the service
	Pods      []map[string]any
	Others    []map[string]any // HPAs, PDBs, NetworkPolicies, Services, anything else
}

// Assemble sorts the candidates into the facts: the autoscalers that target the workloads,
// the budgets, policies and Services that select their pods, and every policy of their
// namespaces.
func Assemble(f Facts, o Objects) Facts {
	f.Workloads, f.Pods = o.Workloads, o.Pods
	type ref struct{ ns, kind, name string }
	targets := map[ref]bool{}
	var pods []labels.Set
	namespaces := map[string]bool{}
	for _, w := range o.Workloads {
		u := unstructured.Unstructured{Object: w}
		targets[ref{u.GetNamespace(), u.GetKind(), u.GetName()}] = true
		pods = append(pods, labels.Set(podLabels(w)))
		namespaces[u.GetNamespace()] = true
	}
	selects := func(u unstructured.Unstructured, path ...string) bool {
		sel, ok := selectorAt(u.Object, path...)
		if !ok {
			return false
		}
		for _, p := range pods {
			if sel.Matches(p) {
				return true
			}
		}
		return false
	}
	for _, obj := range o.Others {
		u := unstructured.Unstructured{Object: obj}
		if !namespaces[u.GetNamespace()] {
			continue
		}
		switch u.GetKind() {
		case "HorizontalPodAutoscaler":
			kind, _, _ := unstructured.NestedString(obj, "spec", "scaleTargetRef", "kind")
			name, _, _ := unstructured.NestedString(obj, "spec", "scaleTargetRef", "name")
			if targets[ref{u.GetNamespace(), kind, name}] {
				f.HPAs = append(f.HPAs, obj)
			}
		case "PodDisruptionBudget":
			if selects(u, "spec", "selector") {
				f.PDBs = append(f.PDBs, obj)
			}
		case "NetworkPolicy":
			f.NamespacePolicies = append(f.NamespacePolicies, obj)
			if selects(u, "spec", "podSelector") {
				f.NetworkPolicies = append(f.NetworkPolicies, obj)
			}
		case "Service":
			sel, _, _ := unstructured.NestedStringMap(obj, "spec", "selector")
			if len(sel) == 0 {
				continue
			}
			for _, p := range pods {
				if labels.SelectorFromSet(sel).Matches(p) {
					f.Services = append(f.Services, obj)
					break
				}
			}
		}
	}
	for _, l := range [][]map[string]any{f.HPAs, f.PDBs, f.NetworkPolicies, f.NamespacePolicies, f.Services} {
		sort.Slice(l, func(i, j int) bool { return name(l[i]) < name(l[j]) })
	}
	return f
}

func name(obj map[string]any) string {
	u := unstructured.Unstructured{Object: obj}
	return u.GetNamespace() + "/" + u.GetName()
}

// selectorAt reads a metav1.LabelSelector at path; an empty selector selects every pod (as a
// NetworkPolicy's does), a missing or invalid one none.
func selectorAt(obj map[string]any, path ...string) (labels.Selector, bool) {
	m, found, _ := unstructured.NestedMap(obj, path...)
	if !found {
		return nil, false
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return nil, false
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	return sel, err == nil
}

// Workload names a workload and its containers, for the fixes and the CI facts.
type Workload struct {
	Kind, Namespace, Name string
	Containers, Images    []string // the pod template's containers and their images, in order
}

// WorkloadsOf names the workloads among objs.
func WorkloadsOf(objs []map[string]any) []Workload {
	var out []Workload
	for _, o := range objs {
		u := unstructured.Unstructured{Object: o}
		w := Workload{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), Containers: []string{}}
		cs, _, _ := unstructured.NestedSlice(o, "spec", "template", "spec", "containers")
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				name, _ := m["name"].(string)
				image, _ := m["image"].(string)
				w.Containers, w.Images = append(w.Containers, name), append(w.Images, image)
			}
		}
		out = append(out, w)
	}
	return out
}
