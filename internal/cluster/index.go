package cluster

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	corev1 "k8s.io/api/core/v1"
)

// Index names. Objects are indexed by the label pairs catalog selectors usually name, and by
// their owners, so a component's objects are found without scanning the cluster.
const (
	indexByLabel    = "label"    // "key=value"
	indexByOwner    = "owner"    // owner UID
	indexByInvolved = "involved" // events: "Kind/namespace/name" of the object they are about
	indexByType     = "type"     // events: Normal or Warning
)

// indexedLabels are the label keys worth an index: Backstage's kubernetes-id and the
// recommended app label.
var indexedLabels = []string{"backstage.io/kubernetes-id", "app.kubernetes.io/name", "app"}

type indexers struct {
	deployments, replicaSets, statefulSets, daemonSets, pods cache.SharedIndexInformer
	services, ingresses, hpas, pdbs, netpols, events, nodes  cache.SharedIndexInformer
	namespaces                                               cache.SharedIndexInformer // their labels, for policies' namespace selectors
}

func newIndexers(f informers.SharedInformerFactory) indexers {
	byLabelAndOwner := cache.Indexers{indexByLabel: labelIndex, indexByOwner: ownerIndex}
	add := func(inf cache.SharedIndexInformer, ix cache.Indexers) cache.SharedIndexInformer {
		_ = inf.AddIndexers(ix) // fails only once started, and nothing is started yet
		return inf
	}
	return indexers{
		deployments:  add(f.Apps().V1().Deployments().Informer(), byLabelAndOwner),
		replicaSets:  add(f.Apps().V1().ReplicaSets().Informer(), byLabelAndOwner),
		statefulSets: add(f.Apps().V1().StatefulSets().Informer(), byLabelAndOwner),
		daemonSets:   add(f.Apps().V1().DaemonSets().Informer(), byLabelAndOwner),
		pods:         add(f.Core().V1().Pods().Informer(), byLabelAndOwner),
		services:     add(f.Core().V1().Services().Informer(), byLabelAndOwner),
		ingresses:    f.Networking().V1().Ingresses().Informer(),
		hpas:         f.Autoscaling().V2().HorizontalPodAutoscalers().Informer(),
		pdbs:         f.Policy().V1().PodDisruptionBudgets().Informer(),
		netpols:      f.Networking().V1().NetworkPolicies().Informer(),
		events:       add(f.Core().V1().Events().Informer(), cache.Indexers{indexByInvolved: involvedIndex, indexByType: eventTypeIndex}),
		nodes:        f.Core().V1().Nodes().Informer(),
		namespaces:   f.Core().V1().Namespaces().Informer(),
	}
}

func labelIndex(obj any) ([]string, error) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, k := range indexedLabels {
		if v, ok := a.GetLabels()[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

func ownerIndex(obj any) ([]string, error) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, o := range a.GetOwnerReferences() {
		out = append(out, string(o.UID))
	}
	return out, nil
}

func involvedIndex(obj any) ([]string, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return nil, nil
	}
	return []string{e.InvolvedObject.Kind + "/" + e.InvolvedObject.Namespace + "/" + e.InvolvedObject.Name}, nil
}

func eventTypeIndex(obj any) ([]string, error) {
	if e, ok := obj.(*corev1.Event); ok {
		return []string{e.Type}, nil
	}
	return nil, nil
}

// selectObjects returns the cached objects in ns (all namespaces when empty) matching sel,
// through an index when the selector names an indexed label with one value.
func selectObjects(inf cache.SharedIndexInformer, ns string, sel labels.Selector) []any {
	var candidates []any
	if key, ok := indexedRequirement(sel); ok {
		candidates, _ = inf.GetIndexer().ByIndex(indexByLabel, key)
	} else if ns != "" {
		candidates, _ = inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	} else {
		candidates = inf.GetStore().List()
	}
	out := candidates[:0:0]
	for _, obj := range candidates {
		a, err := meta.Accessor(obj)
		if err != nil || (ns != "" && a.GetNamespace() != ns) || !sel.Matches(labels.Set(a.GetLabels())) {
			continue
		}
		out = append(out, obj)
	}
	return out
}

func indexedRequirement(sel labels.Selector) (string, bool) {
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		op := r.Operator()
		vals := r.Values().List()
		if (op == selection.Equals || op == selection.DoubleEquals || op == selection.In) && len(vals) == 1 {
			for _, k := range indexedLabels {
				if r.Key() == k {
					return k + "=" + vals[0], true
				}
			}
		}
	}
	return "", false
}

// byOwner returns the cached objects owned by uid.
func byOwner(inf cache.SharedIndexInformer, uid string) []any {
	objs, _ := inf.GetIndexer().ByIndex(indexByOwner, uid)
	return objs
}
