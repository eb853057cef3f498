package cluster

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// subscriber is a page watching one component: it is told, at most once per wakeup, that
// something it shows may have changed.
type subscriber struct {
	q  Query
	ch chan struct{} // capacity 1: a burst of changes coalesces into one signal
}

// hub fans object changes out to the subscribers whose query selects the object.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

// Subscribe returns a channel signalled when an object q selects changes in any cluster, and
// a function that ends the subscription.
func (m *Manager) Subscribe(q Query) (<-chan struct{}, func()) {
	s := &subscriber{q: q, ch: make(chan struct{}, 1)}
	m.hub.mu.Lock()
	m.hub.subs[s] = struct{}{}
	m.hub.mu.Unlock()
	return s.ch, func() {
		m.hub.mu.Lock()
		delete(m.hub.subs, s)
		m.hub.mu.Unlock()
	}
}

// notify signals the subscribers that show obj. Objects without the component's labels
// (autoscalers, budgets) concern every subscriber of their namespace.
func (h *hub) notify(cluster string, obj any, labelled bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	a, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		q := s.q
		if (q.Cluster != "" && q.Cluster != cluster) || (q.Namespace != "" && q.Namespace != a.GetNamespace()) || q.Selector == nil {
			continue
		}
		if labelled && !q.Selector.Matches(labels.Set(a.GetLabels())) {
			continue
		}
		select {
		case s.ch <- struct{}{}:
		default: // already signalled; the page will read the latest state anyway
		}
	}
}

// notifyAll signals every subscriber that may show something of the cluster.
func (h *hub) notifyAll(cluster string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.q.Cluster != "" && s.q.Cluster != cluster {
			continue
		}
		select {
		case s.ch <- struct{}{}:
		default:
		}
	}
}

// watch registers the hub on the cluster's informers, and lag on their adds.
func (c *Cluster) watch(h *hub, lag prometheus.Observer) {
	if c.crds != nil {
		// A report concerns its namespace; a resource appearing or going concerns everyone.
		c.crds.notify = func(obj any) {
			if obj == nil {
				h.notifyAll(c.Name)
				return
			}
			h.notify(c.Name, obj, false)
		}
	}
	handler := func(labelled bool) cache.ResourceEventHandlerDetailedFuncs {
		f := func(obj any) { h.notify(c.Name, obj, labelled) }
		add := func(obj any, initial bool) {
			if !initial {
				observeLag(lag, obj, time.Now())
			}
			f(obj)
		}
		return cache.ResourceEventHandlerDetailedFuncs{AddFunc: add, DeleteFunc: f, UpdateFunc: func(_, obj any) { f(obj) }}
	}
	for _, inf := range []cache.SharedIndexInformer{c.idx.deployments, c.idx.replicaSets, c.idx.statefulSets, c.idx.daemonSets, c.idx.pods, c.idx.services} {
		_, _ = inf.AddEventHandler(handler(true))
	}
	for _, inf := range []cache.SharedIndexInformer{c.idx.hpas, c.idx.pdbs, c.idx.ingresses} {
		_, _ = inf.AddEventHandler(handler(false))
	}
}

// observeLag records how long obj, created while the cache watched, took to reach it. An add
// of an object created long ago is a relist (the watch was lost), not a measure of the watch.
func observeLag(lag prometheus.Observer, obj any, now time.Time) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	created := a.GetCreationTimestamp().Time
	if created.IsZero() {
		return
	}
	if d := now.Sub(created); d >= 0 && d <= 5*time.Minute {
		lag.Observe(d.Seconds())
	}
}
