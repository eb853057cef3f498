package cluster

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
)

// Manager holds every configured cluster.
type Manager struct {
	clusters []*Cluster
	hub      *hub
	lag      *prometheus.HistogramVec // portico_cluster_watch_lag_seconds, by cluster
}

// NewManager builds the clusters' clients and informers.
func NewManager(cfgs []Config, log *slog.Logger) (*Manager, error) {
	m := &Manager{hub: newHub(), lag: newLagHistogram()}
	for _, cfg := range cfgs {
		c, err := New(cfg, log)
		if err != nil {
			return nil, err
		}
		c.watch(m.hub, m.lag.WithLabelValues(c.Name))
		m.clusters = append(m.clusters, c)
	}
	return m, nil
}

// Start starts every cluster's informers and probe.
func (m *Manager) Start(ctx context.Context) {
	for _, c := range m.clusters {
		c.Start(ctx)
	}
}

// Clusters returns the clusters in configuration order.
func (m *Manager) Clusters() []*Cluster { return m.clusters }

// Runtime answers what runs for q in every cluster q allows, with an overall health.
func (m *Manager) Runtime(q Query) Runtime { return m.runtime(q, true) }

// Health is Runtime's health alone, without the services, ingresses and events a page shows:
// cheap enough to ask of every service at once.
func (m *Manager) Health(q Query) Health { return m.runtime(q, false).Health }

func (m *Manager) runtime(q Query, full bool) Runtime {
	rt := Runtime{Selector: q.SelectorText}
	first := true
	for _, c := range m.clusters {
		if q.Cluster != "" && q.Cluster != c.Name {
			continue
		}
		cr := c.runtime(q, full)
		rt.Clusters = append(rt.Clusters, cr)
		if len(cr.Workloads) == 0 && cr.Health.Level == Unknown && cr.Reachability.Synced {
			continue // nothing of this component here: not a verdict on it
		}
		if first {
			rt.Health, first = cr.Health, false
		} else {
			rt.Health = worst(rt.Health, cr.Health)
		}
	}
	if first {
		rt.Health = Health{Unknown, "no workload matches " + q.SelectorText}
	}
	return rt
}

// Overview is a cluster's state for the clusters page.
type Overview struct {
	Name, DisplayName, Environment string
	Reachability                   Reachability
	Nodes, NodesReady              int
	PodsByPhase                    map[string]int
}

// Overview summarises the cluster from its caches.
func (c *Cluster) Overview() Overview {
	o := Overview{Name: c.Name, DisplayName: c.DisplayName, Environment: c.Environment, Reachability: c.Reachability(), PodsByPhase: map[string]int{}}
	for _, obj := range c.idx.nodes.GetStore().List() {
		n := obj.(*corev1.Node)
		o.Nodes++
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				o.NodesReady++
			}
		}
	}
	for _, obj := range c.idx.pods.GetStore().List() {
		o.PodsByPhase[string(obj.(*corev1.Pod).Status.Phase)]++
	}
	return o
}

// Overviews summarises every cluster.
func (m *Manager) Overviews() []Overview {
	out := make([]Overview, 0, len(m.clusters))
	for _, c := range m.clusters {
		out = append(out, c.Overview())
	}
	return out
}
