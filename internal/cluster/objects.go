package cluster

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// ServiceObjects are a component's workloads, their pods, and every object of their
// namespaces that may concern them (autoscalers, disruption budgets, network policies,
// Services), in their JSON shape as `kubectl get -o json` prints them, for checks to read.
// Each workload also carries "cluster" and "environment" keys.
type ServiceObjects struct {
	Workloads, Pods, Others []map[string]any
	// Environments are those of the clusters the workloads run in.
	Environments []string
	// CustomResources are the watched custom resources (plural.group) a cluster the
	// workloads run in serves, and Reports their objects that concern the workloads.
	CustomResources map[string]bool
	Reports         map[string][]map[string]any
}

// Objects gathers q's objects from every cluster's caches; the pods only withPods (they are
// the costly part).
func (m *Manager) Objects(q Query, withPods bool) ServiceObjects {
	var out ServiceObjects
	for _, c := range m.clusters {
		if (q.Cluster != "" && q.Cluster != c.Name) || !c.Synced() {
			continue
		}
		c.objects(q, withPods, &out)
	}
	return out
}

// CustomResources are the watched custom resources (plural.group) any cluster serves.
func (m *Manager) CustomResources() map[string]bool {
	out := map[string]bool{}
	for _, c := range m.clusters {
		if c.crds == nil {
			continue
		}
		for k := range c.crds.served() {
			if forScorecards(k) {
				out[k] = true
			}
		}
	}
	return out
}

var (
	gvDeployment  = appsv1.SchemeGroupVersion.WithKind("Deployment")
	gvStatefulSet = appsv1.SchemeGroupVersion.WithKind("StatefulSet")
)

func (c *Cluster) objects(q Query, withPods bool, out *ServiceObjects) {
	namespaces := map[string][]string{} // namespace → its workloads' names
	add := func(obj any, gvk schema.GroupVersionKind) {
		m, ok := jsonShape(obj, gvk)
		if !ok {
			return
		}
		m["cluster"], m["environment"] = c.Name, c.Environment
		out.Workloads = append(out.Workloads, m)
		if md, ok := m["metadata"].(map[string]any); ok {
			ns, _ := md["namespace"].(string)
			name, _ := md["name"].(string)
			namespaces[ns] = append(namespaces[ns], name)
		}
	}
	for _, obj := range selectObjects(c.idx.deployments, q.Namespace, q.Selector) {
		add(obj, gvDeployment)
		if !withPods {
			continue
		}
		for _, rs := range byOwner(c.idx.replicaSets, string(obj.(*appsv1.Deployment).UID)) {
			for _, p := range byOwner(c.idx.pods, string(rs.(*appsv1.ReplicaSet).UID)) {
				if m, ok := jsonShape(p, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}); ok {
					out.Pods = append(out.Pods, m)
				}
			}
		}
	}
	for _, obj := range selectObjects(c.idx.statefulSets, q.Namespace, q.Selector) {
		add(obj, gvStatefulSet)
		if !withPods {
			continue
		}
		for _, p := range byOwner(c.idx.pods, string(obj.(*appsv1.StatefulSet).UID)) {
			if m, ok := jsonShape(p, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}); ok {
				out.Pods = append(out.Pods, m)
			}
		}
	}
	if len(namespaces) > 0 {
		out.Environments = append(out.Environments, c.Environment)
		if c.crds != nil {
			c.crds.reports(namespaces, out)
		}
	}
	for ns := range namespaces {
		for _, k := range []struct {
			inf cache.SharedIndexInformer
			gvk schema.GroupVersionKind
		}{
			{c.idx.hpas, schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}},
			{c.idx.pdbs, schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}},
			{c.idx.netpols, schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}},
			{c.idx.services, schema.GroupVersionKind{Version: "v1", Kind: "Service"}},
		} {
			objs, _ := k.inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
			for _, obj := range objs {
				if m, ok := jsonShape(obj, k.gvk); ok {
					out.Others = append(out.Others, m)
				}
			}
		}
	}
}

// jsonShape converts a cached object (shared: never modified) into a fresh JSON-shaped map
// with its apiVersion and kind, which informers' objects lack.
func jsonShape(obj any, gvk schema.GroupVersionKind) (map[string]any, bool) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, false
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return m, true
}
