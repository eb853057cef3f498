package cluster

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// nodeUsage keeps, per node, what its active pods request, updated as the pod cache changes:
// the cluster page lists every node's requests without summing every pod on each request.
// An update takes back what the pod's previous state added, which the informer hands over
// with it, so nothing is kept per pod.
type nodeUsage struct {
	mu     sync.RWMutex
	byNode map[string]usage
}

type usage struct {
	cpu, mem int64
	pods     int
}

func newNodeUsage(pods cache.SharedIndexInformer) *nodeUsage {
	u := &nodeUsage{byNode: map[string]usage{}}
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { u.change(nil, obj) },
		UpdateFunc: func(old, obj any) { u.change(old, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			u.change(obj, nil)
		},
	})
	return u
}

// change takes back what the pod's old state counted and counts its new one (either nil).
func (u *nodeUsage) change(old, now any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.add(old, -1)
	u.add(now, 1)
}

// add counts a pod on its node (sign 1) or takes it back (-1): only active, bound pods
// count; u.mu is held.
func (u *nodeUsage) add(obj any, sign int64) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" || !podActive(p) {
		return
	}
	cpu, mem := podRequests(p)
	n := u.byNode[p.Spec.NodeName]
	n.cpu, n.mem, n.pods = n.cpu+sign*cpu, n.mem+sign*mem, n.pods+int(sign)
	if n.pods <= 0 {
		delete(u.byNode, p.Spec.NodeName)
		return
	}
	u.byNode[p.Spec.NodeName] = n
}

func (u *nodeUsage) of(node string) usage {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.byNode[node]
}
