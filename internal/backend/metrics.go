package backend

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count and time the calls to the backends, by backend: what Portico's own
// dashboard and alerts read to tell a slow Prometheus from a slow portal.
type Metrics struct {
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

// NewMetrics registers the backend metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portico_backend_request_duration_seconds", Help: "Calls to an observability backend, by backend.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"backend"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_backend_errors_total", Help: "Calls to an observability backend that failed (no answer, or a 5xx), by backend.",
		}, []string{"backend"}),
	}
	reg.MustRegister(m.latency, m.errors)
	return m
}

// Observe records one call; failed counts it as an error too.
func (m *Metrics) Observe(backend string, took time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.latency.WithLabelValues(backend).Observe(took.Seconds())
	c := m.errors.WithLabelValues(backend) // present at 0, so rate() works before a first error
	if failed {
		c.Inc()
	}
}

// observed times every call through next.
type observed struct {
	name string
	m    *Metrics
	next http.RoundTripper
}

func (o observed) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := o.next.RoundTrip(r)
	// A viewer who went away (cancelled) is no failure of the backend; a deadline is.
	failed := (err != nil && !errors.Is(r.Context().Err(), context.Canceled)) || (err == nil && res.StatusCode >= 500)
	o.m.Observe(o.name, time.Since(start), failed)
	return res, err
}
