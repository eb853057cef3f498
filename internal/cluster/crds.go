package cluster

import (
	"context"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// The custom resources the scorecards read where a cluster serves them: Trivy Operator's
// vulnerability reports, policy reports (Kyverno and others), Istio's PeerAuthentication,
// Linkerd's Server and the Vertical Pod Autoscaler. Discovery finds them; absent is "not
// applicable" to the checks, never a failure.
var scorecardResources = []schema.GroupResource{
	{Group: "aquasecurity.github.io", Resource: "vulnerabilityreports"},
	{Group: "wgpolicyk8s.io", Resource: "policyreports"},
	{Group: "security.istio.io", Resource: "peerauthentications"},
	{Group: "policy.linkerd.io", Resource: "servers"},
	{Group: "autoscaling.k8s.io", Resource: "verticalpodautoscalers"},
}

// meshResources are the service mesh's and Gateway API's traffic resources the mesh view
// reads where they are served (with PeerAuthentication and Server above).
var meshResources = []schema.GroupResource{
	{Group: "networking.istio.io", Resource: "virtualservices"},
	{Group: "networking.istio.io", Resource: "destinationrules"},
	{Group: "security.istio.io", Resource: "authorizationpolicies"},
	{Group: "gateway.networking.k8s.io", Resource: "httproutes"},
	{Group: "policy.linkerd.io", Resource: "authorizationpolicies"},
	{Group: "policy.linkerd.io", Resource: "meshtlsauthentications"},
}

// watchedResources are every custom resource the portal caches where served.
var watchedResources = append(append([]schema.GroupResource{}, scorecardResources...), meshResources...)

// forScorecards reports whether the scorecards read a resource ("plural.group").
func forScorecards(key string) bool {
	for _, r := range scorecardResources {
		if r.Resource+"."+r.Group == key {
			return true
		}
	}
	return false
}

// meshRootNamespace holds Istio's mesh-wide policies.
const meshRootNamespace = "istio-system"

// crdRediscover is how often discovery is asked again, to notice resources installed or
// removed while the portal runs.
const crdRediscover = 10 * time.Second

// crdWatch keeps an informer on each watched custom resource the cluster serves.
type crdWatch struct {
	disc   discovery.DiscoveryInterface
	dyn    dynamic.Interface
	notify func(obj any)
	mu     sync.RWMutex
	live   map[string]*crdInformer // by plural.group
}

type crdInformer struct {
	gvr  schema.GroupVersionResource
	inf  cache.SharedIndexInformer
	stop chan struct{}
}

func newCRDWatch(disc discovery.DiscoveryInterface, dyn dynamic.Interface, notify func(any)) *crdWatch {
	return &crdWatch{disc: disc, dyn: dyn, notify: notify, live: map[string]*crdInformer{}}
}

func (w *crdWatch) run(ctx context.Context) {
	for {
		w.discover()
		select {
		case <-ctx.Done():
			w.mu.Lock()
			for k, ci := range w.live {
				close(ci.stop)
				delete(w.live, k)
			}
			w.mu.Unlock()
			return
		case <-time.After(crdRediscover):
		}
	}
}

// discover starts informers for the watched resources now served and stops those of
// resources gone.
func (w *crdWatch) discover() {
	groups, err := w.disc.ServerGroups()
	if err != nil {
		return // an unreachable cluster: keep what runs, ask again later
	}
	served := map[string]schema.GroupVersionResource{}
	for _, g := range groups.Groups {
		for _, want := range watchedResources {
			if g.Name != want.Group {
				continue
			}
			// The preferred version first, then the others: a group's resources need not
			// share one version (Linkerd's Server is v1beta3, its AuthorizationPolicy v1alpha1).
			versions := []string{g.PreferredVersion.GroupVersion}
			for _, v := range g.Versions {
				if v.GroupVersion != g.PreferredVersion.GroupVersion {
					versions = append(versions, v.GroupVersion)
				}
			}
			key := want.Resource + "." + want.Group
			for _, gv := range versions {
				if _, found := served[key]; found {
					break
				}
				res, err := w.disc.ServerResourcesForGroupVersion(gv)
				if err != nil {
					continue
				}
				for _, r := range res.APIResources {
					if r.Name == want.Resource {
						v, _ := schema.ParseGroupVersion(gv)
						served[key] = v.WithResource(want.Resource)
					}
				}
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, ci := range w.live {
		if gvr, ok := served[key]; !ok || gvr != ci.gvr {
			close(ci.stop)
			delete(w.live, key)
			w.notify(nil)
		}
	}
	for key, gvr := range served {
		if _, ok := w.live[key]; ok {
			continue
		}
		inf := dynamicinformer.NewFilteredDynamicInformer(w.dyn, gvr, "", 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil).Informer()
		f := func(obj any) { w.notify(obj) }
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: f, DeleteFunc: f, UpdateFunc: func(_, obj any) { f(obj) }})
		ci := &crdInformer{gvr: gvr, inf: inf, stop: make(chan struct{})}
		w.live[key] = ci
		go inf.Run(ci.stop)
		go func() {
			if cache.WaitForCacheSync(ci.stop, inf.HasSynced) {
				w.notify(nil) // now served: every service's checks on it apply
			}
		}()
	}
}

// served are the watched resources whose informers have synced.
func (w *crdWatch) served() map[string]*crdInformer {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := map[string]*crdInformer{}
	for k, ci := range w.live {
		if ci.inf.HasSynced() {
			out[k] = ci
		}
	}
	return out
}

// reports adds, for the workloads of namespaces, the custom resources that concern them:
// vulnerability and policy reports about them or their pods, the namespace's (and the
// mesh's) PeerAuthentications, Linkerd Servers, and VPAs targeting them.
func (w *crdWatch) reports(namespaces map[string][]string, out *ServiceObjects) {
	for key, ci := range w.served() {
		if !forScorecards(key) {
			continue
		}
		if out.CustomResources == nil {
			out.CustomResources = map[string]bool{}
			out.Reports = map[string][]map[string]any{}
		}
		out.CustomResources[key] = true
		nsList := make([]string, 0, len(namespaces)+1)
		for ns := range namespaces {
			nsList = append(nsList, ns)
		}
		if ci.gvr.Resource == "peerauthentications" {
			nsList = append(nsList, meshRootNamespace)
		}
		for _, ns := range nsList {
			objs, _ := ci.inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
			for _, obj := range objs {
				u, ok := obj.(*unstructured.Unstructured)
				if !ok || !concerns(ci.gvr.Resource, u, namespaces[ns]) {
					continue
				}
				out.Reports[key] = append(out.Reports[key], u.DeepCopy().Object)
			}
		}
	}
}

// concerns says whether a custom resource is about one of the workloads (by name; the
// reports name a workload's ReplicaSets and pods after it).
func concerns(resource string, u *unstructured.Unstructured, workloads []string) bool {
	about := func(name string) bool {
		for _, w := range workloads {
			if name == w || strings.HasPrefix(name, w+"-") {
				return true
			}
		}
		return false
	}
	switch resource {
	case "vulnerabilityreports":
		return about(u.GetLabels()["trivy-operator.resource.name"])
	case "policyreports":
		if name, _, _ := unstructured.NestedString(u.Object, "scope", "name"); name != "" {
			return about(name)
		}
		results, _, _ := unstructured.NestedSlice(u.Object, "results")
		for _, r := range results {
			rm, _ := r.(map[string]any)
			res, _ := rm["resources"].([]any)
			for _, x := range res {
				if xm, ok := x.(map[string]any); ok {
					if n, _ := xm["name"].(string); about(n) {
						return true
					}
				}
			}
		}
		return false
	case "verticalpodautoscalers":
		name, _, _ := unstructured.NestedString(u.Object, "spec", "targetRef", "name")
		return about(name)
	}
	return true // namespace-wide: PeerAuthentications, Linkerd Servers
}
