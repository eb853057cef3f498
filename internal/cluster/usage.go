package cluster

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// nodeUsage keeps, per node, what its active pods request, updated as the pod cache changes:
// the cluster page lists every node's requests without summing every pod on each request.
type nodeUsage struct {
	mu     sync.RWMutex
	byNode map[string]usage
	byPod  map[types.UID]share // what each counted pod adds, to take it back on change
}

type usage struct {
	cpu, mem int64
	pods     int
}

type share struct {
	node     string
	cpu, mem int64
}

func newNodeUsage(pods cache.SharedIndexInformer) *nodeUsage {
	u := &nodeUsage{byNode: map[string]usage{}, byPod: map[types.UID]share{}}
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    u.set,
		UpdateFunc: func(_, obj any) { u.set(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				u.mu.Lock()
				u.drop(p.UID)
				u.mu.Unlock()
			}
		},
	})
	return u
}

// set counts the pod as it now is: on its node while active, nowhere once done.
func (u *nodeUsage) set(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	var s share
	counted := p.Spec.NodeName != "" && podActive(p)
	if counted {
		s.node = p.Spec.NodeName
		s.cpu, s.mem = podRequests(p)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.drop(p.UID)
	if !counted {
		return
	}
	u.byPod[p.UID] = s
	n := u.byNode[s.node]
	n.cpu, n.mem, n.pods = n.cpu+s.cpu, n.mem+s.mem, n.pods+1
	u.byNode[s.node] = n
}

// drop takes a pod's share back; u.mu is held.
func (u *nodeUsage) drop(uid types.UID) {
	s, ok := u.byPod[uid]
	if !ok {
		return
	}
	delete(u.byPod, uid)
	n := u.byNode[s.node]
	n.cpu, n.mem, n.pods = n.cpu-s.cpu, n.mem-s.mem, n.pods-1
	if n.pods == 0 {
		delete(u.byNode, s.node)
	} else {
		u.byNode[s.node] = n
	}
}

func (u *nodeUsage) of(node string) usage {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.byNode[node]
}
