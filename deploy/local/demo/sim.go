package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// sim turns the pods that are serving into request metrics, container resource series and
// traces, tick by tick.
type sim struct {
	clusters []*cluster
	faults   *faults
	rate     float64 // requests per second per service (production)
	sample   float64 // share of entry requests traced
	tracers  func(svc string) trace.Tracer

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	cpu        *prometheus.CounterVec
	memory     *prometheus.GaugeVec
	requestsR  *prometheus.GaugeVec
	limitsR    *prometheus.GaugeVec
	restarts   *prometheus.GaugeVec
	known      map[string]pod // series emitted last tick, by cluster/namespace/pod
	simulated  *prometheus.CounterVec
	tracesSent prometheus.Counter
	// Istio's standard metrics, for the pods of meshed cluster/namespace pairs, as their
	// sidecars would report them (reporter="destination", by the pod's version).
	meshed        map[string]bool
	istioRequests *prometheus.CounterVec
	istioDuration *prometheus.HistogramVec
}

func newSim(reg prometheus.Registerer, clusters []*cluster, f *faults, rate, sample float64, tracers func(string) trace.Tracer) *sim {
	podLabels := []string{"cluster", "namespace", "pod", "container"}
	s := &sim{clusters: clusters, faults: f, rate: rate, sample: sample, tracers: tracers, known: map[string]pod{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "HTTP requests served."},
			[]string{"cluster", "namespace", "service", "pod", "route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "HTTP request latency.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"cluster", "namespace", "service", "pod", "route", "method"}),
		cpu:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "container_cpu_usage_seconds_total", Help: "Cumulative CPU time consumed (cAdvisor)."}, podLabels),
		memory:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "container_memory_working_set_bytes", Help: "Working set memory (cAdvisor)."}, podLabels),
		requestsR:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kube_pod_container_resource_requests", Help: "Requested resources (kube-state-metrics)."}, append(podLabels, "resource", "unit")),
		limitsR:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kube_pod_container_resource_limits", Help: "Resource limits (kube-state-metrics)."}, append(podLabels, "resource", "unit")),
		restarts:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kube_pod_container_status_restarts_total", Help: "Container restarts (kube-state-metrics)."}, podLabels),
		simulated:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portico_demo_requests_total", Help: "Requests the demo simulated, by service."}, []string{"service"}),
		tracesSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "portico_demo_traces_total", Help: "Traces the demo sent to Jaeger."}),
		istioRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total", Help: "Requests, as Istio's sidecars count them."},
			[]string{"reporter", "destination_service_name", "destination_service_namespace", "destination_version", "destination_workload", "response_code"}),
		istioDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "istio_request_duration_milliseconds", Help: "Request duration, as Istio's sidecars measure it.",
			Buckets: []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}},
			[]string{"reporter", "destination_service_name", "destination_service_namespace", "destination_version", "destination_workload"}),
	}
	reg.MustRegister(s.requests, s.duration, s.cpu, s.memory, s.requestsR, s.limitsR, s.restarts, s.simulated, s.tracesSent, s.istioRequests, s.istioDuration)
	return s
}

func (s *sim) run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// Simulate the time that really passed: a late tick carries more requests, so the
			// rate holds even on a busy machine.
			s.step(now.Sub(last).Seconds())
			last = now
		}
	}
}

// step simulates one tick of traffic in every cluster.
func (s *sim) step(dt float64) {
	seen := map[string]pod{}
	for _, c := range s.clusters {
		ready := c.readyPods()
		for svc, pods := range ready {
			n := poisson(s.rate * c.weight * dt)
			perPod := make([]int, len(pods))
			for i := 0; i < n; i++ {
				k := rand.IntN(len(pods))
				perPod[k]++
				s.request(ready, pods[k], svc)
			}
			for k, p := range pods {
				seen[key(p)] = p
				s.resources(p, float64(perPod[k]), dt)
			}
			s.simulated.WithLabelValues(svc).Add(float64(n))
			if svc == "web-storefront" || svc == "gateway" {
				for i := 0; i < n; i++ {
					if rand.Float64() < s.sample {
						s.trace(c, svc, pods[rand.IntN(len(pods))])
					}
				}
			}
		}
	}
	// Pods that stopped serving lose their series, as they would on a real scrape target.
	for k, p := range s.known {
		if _, ok := seen[k]; !ok {
			s.forget(p)
		}
	}
	s.known = seen
}

func key(p pod) string { return p.cluster + "/" + p.namespace + "/" + p.name }

// callTimeout is how long a service waits for a dependency before it gives up with a 504.
const callTimeout = 1000.0 // ms

// outcome decides a request's latency and status from the route, the faults and the pod's
// image. With ready (the serving pods by service), it also plays the route's synchronous
// calls, as real services make them: their time adds to the caller's, and a dependency that
// fails or times out fails the caller's request too (most of the time; callers retry or
// degrade now and then) — so an incident spreads up the call graph in the metrics as it does
// in production. Traces play the calls themselves (span), so they pass ready nil.
func (s *sim) outcome(ready map[string][]pod, p pod, svc string, r route, depth int) (ms float64, code int) {
	f := s.faults.get(svc)
	own := r.p50
	if len(r.calls) > 0 {
		own *= 0.5 // the route's typical time includes its calls; half of it is its own work
	}
	ms = latency(own) + f.LatencyMs
	errRate := baseErrorRate + f.ErrorRate
	if f.BadTag != "" && p.tag == f.BadTag {
		errRate += 0.4
	}
	if p.badConfig {
		errRate += 0.5 // no database connections: most requests fail
	}
	failed := false
	for _, dep := range r.calls {
		if s.faults.get(dep).FailDependency != "" || f.FailDependency == dep {
			errRate += 0.5
		}
		if ready == nil || depth >= maxCallDepth {
			continue
		}
		dp := ready[dep]
		if len(dp) == 0 {
			failed = true // nothing serves the dependency
			continue
		}
		dms, dcode := s.outcome(ready, dp[rand.IntN(len(dp))], dep, pickRoute(dep), depth+1)
		switch {
		case dms > callTimeout:
			ms += callTimeout
			failed = true
		case dcode >= 500:
			ms += dms
			failed = failed || rand.Float64() < 0.7
		default:
			ms += dms
		}
	}
	switch x := rand.Float64(); {
	case failed:
		code = []int{502, 503, 504}[rand.IntN(3)]
	case x < errRate:
		code = []int{500, 502, 503}[rand.IntN(3)]
	case x < errRate+0.004:
		code = 404
	case r.method == "POST":
		code = 201
	default:
		code = 200
	}
	return ms, code
}

// maxCallDepth bounds how deep a request's calls are played.
const maxCallDepth = 4

func (s *sim) request(ready map[string][]pod, p pod, svc string) {
	r := pickRoute(svc)
	ms, code := s.outcome(ready, p, svc, r, 0)
	s.requests.WithLabelValues(p.cluster, p.namespace, svc, p.name, r.path, r.method, strconv.Itoa(code)).Inc()
	s.duration.WithLabelValues(p.cluster, p.namespace, svc, p.name, r.path, r.method).Observe(ms / 1000)
	if s.meshed[p.cluster+"/"+p.namespace] {
		s.istioRequests.WithLabelValues("destination", svc, p.namespace, p.tag, svc, strconv.Itoa(code)).Inc()
		s.istioDuration.WithLabelValues("destination", svc, p.namespace, p.tag, svc).Observe(ms)
	}
}

// resources moves the pod's CPU and memory with its load: busier pods burn more CPU.
func (s *sim) resources(p pod, reqs, dt float64) {
	l := []string{p.cluster, p.namespace, p.name, p.container}
	base := 0.02 + 0.1*p.cpuRequest
	s.cpu.WithLabelValues(l...).Add((base + reqs/dt*0.004) * dt * (0.8 + 0.4*rand.Float64()))
	mem := p.memRequest
	if mem == 0 {
		mem = 128 << 20
	}
	s.memory.WithLabelValues(l...).Set(mem * (0.55 + 0.1*rand.Float64()))
	s.requestsR.WithLabelValues(append(l, "cpu", "core")...).Set(p.cpuRequest)
	s.requestsR.WithLabelValues(append(l, "memory", "byte")...).Set(p.memRequest)
	if p.cpuLimit > 0 {
		s.limitsR.WithLabelValues(append(l, "cpu", "core")...).Set(p.cpuLimit)
		s.limitsR.WithLabelValues(append(l, "memory", "byte")...).Set(p.memLimit)
	}
	s.restarts.WithLabelValues(l...).Set(float64(p.restarts))
}

func (s *sim) forget(p pod) {
	match := prometheus.Labels{"cluster": p.cluster, "namespace": p.namespace, "pod": p.name}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{s.requests, s.duration, s.cpu, s.memory, s.requestsR, s.limitsR, s.restarts} {
		v.DeletePartialMatch(match)
	}
}

// trace records one request through the call graph, with simulated timestamps: each call
// starts a little after its parent and the parent waits for it.
func (s *sim) trace(c *cluster, svc string, entry pod) {
	end := time.Now()
	start := end.Add(-time.Second)
	s.span(context.Background(), c, svc, entry, start, 0)
	s.tracesSent.Inc()
}

func (s *sim) span(ctx context.Context, c *cluster, svc string, p pod, start time.Time, depth int) (time.Time, bool) {
	r := pickRoute(svc)
	ms, code := s.outcome(nil, p, svc, r, 0)
	ctx, sp := s.tracers(svc).Start(ctx, r.method+" "+r.path, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.method), attribute.String("http.route", r.path),
			attribute.String("k8s.pod.name", p.name), attribute.String("k8s.namespace.name", p.namespace),
			attribute.String("k8s.cluster.name", c.name), attribute.String("service.version", p.tag)))
	cursor := start.Add(time.Duration(ms*0.15) * time.Millisecond)
	failed := code >= 500
	if depth < 4 {
		pods := c.readyPods()
		for _, dep := range r.calls {
			dp := pods[dep]
			if len(dp) == 0 {
				sp.AddEvent("dependency unavailable", trace.WithAttributes(attribute.String("peer.service", dep)))
				failed = true
				continue
			}
			childEnd, childFailed := s.span(ctx, c, dep, dp[rand.IntN(len(dp))], cursor, depth+1)
			if childFailed && rand.Float64() < 0.7 {
				failed = true
			}
			cursor = childEnd.Add(time.Duration(rand.IntN(3)) * time.Millisecond)
		}
	}
	end := cursor.Add(time.Duration(ms*0.85) * time.Millisecond)
	if failed {
		if code < 500 {
			code = 502
		}
		sp.SetStatus(codes.Error, fmt.Sprintf("HTTP %d", code))
		sp.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", "upstream request failed")))
	}
	sp.SetAttributes(attribute.Int("http.response.status_code", code))
	sp.End(trace.WithTimestamp(end))
	return end, failed
}

// poisson draws how many requests arrive in a tick with mean m.
func poisson(m float64) int {
	if m > 30 {
		n := int(m + rand.NormFloat64()*sqrt(m) + 0.5)
		return max(n, 0)
	}
	l, k, p := exp(-m), 0, 1.0
	for {
		p *= rand.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
