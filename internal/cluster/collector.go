package cluster

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	syncedDesc = prometheus.NewDesc("portico_cluster_synced", "1 when the cluster's caches have synced once.", []string{"cluster"}, nil)
	reachDesc  = prometheus.NewDesc("portico_cluster_reachable", "1 when the last probe of the cluster's API server answered.", []string{"cluster"}, nil)
	staleDesc  = prometheus.NewDesc("portico_cluster_stale_seconds", "How long the cluster has been unreachable (its pages show the last known state); 0 when reachable.", []string{"cluster"}, nil)
)

// newLagHistogram measures how far the caches run behind the API server: for each object
// created while Portico watches, the time from its creationTimestamp (set by the API server)
// to the cache's add. The timestamp has whole seconds, so a value is late by under a second.
func newLagHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portico_cluster_watch_lag_seconds",
		Help:    "Time from an object's creation in the API server to its arrival in Portico's caches (objects created while watching; to within a second).",
		Buckets: []float64{0.5, 1, 2, 3, 5, 10, 30, 60, 300},
	}, []string{"cluster"})
}

// Describe and Collect make the manager a Prometheus collector of each cluster's cache and
// reachability state, read at scrape time.
func (m *Manager) Describe(ch chan<- *prometheus.Desc) {
	ch <- syncedDesc
	ch <- reachDesc
	ch <- staleDesc
	m.lag.Describe(ch)
}

func (m *Manager) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.Clusters() {
		r := c.Reachability()
		stale := 0.0
		if !r.StaleSince.IsZero() {
			stale = time.Since(r.StaleSince).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(syncedDesc, prometheus.GaugeValue, bool01(r.Synced), c.Name)
		ch <- prometheus.MustNewConstMetric(reachDesc, prometheus.GaugeValue, bool01(r.Reachable), c.Name)
		ch <- prometheus.MustNewConstMetric(staleDesc, prometheus.GaugeValue, stale, c.Name)
	}
	m.lag.Collect(ch)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
