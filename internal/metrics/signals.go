package metrics

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Signals are what triage reads of a service: its error ratio and p95 latency over the range,
// and each pod's error ratio now, so a new revision's pods can be told from the old ones'.
type Signals struct {
	Errors, Latency []Point
	Pods            map[string]PodErrors // by pod name
	// CPUOfLimit is the busiest pod's CPU use as a share of its limit (0: unknown, or no limit).
	CPUOfLimit float64
	Err        string // why some of it could not be read (the rest is still there)
}

// PodErrors is one pod's share of failing requests over the rate window.
type PodErrors struct {
	Ratio, Rate float64
}

// The triage's queries follow the default charts' conventions (http_requests_total and
// http_request_duration_seconds over the service's label matchers). No 5xx at all is a ratio
// of 0, not an empty answer.
const (
	errorRatioQuery = `(sum(rate(http_requests_total{ %[1]s, code=~"5.." }[%[2]s])) or vector(0)) / sum(rate(http_requests_total{ %[1]s }[%[2]s]))`
	p95Query        = `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{ %[1]s }[%[2]s])))`
	podRateQuery    = `sum by (pod) (rate(http_requests_total{ %[1]s }[%[2]s]))`
	podErrorsQuery  = `sum by (pod) (rate(http_requests_total{ %[1]s, code=~"5.." }[%[2]s]))`
	// cpuOfLimitQuery takes the namespace, the pods' regex and the rate window.
	cpuOfLimitQuery = `max(sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=%[1]q, pod=~%[2]q}[%[3]s])) / on (pod) max by (pod) (kube_pod_container_resource_limits{namespace=%[1]q, pod=~%[2]q, resource="cpu"}))`
)

// TriageRange is what triage looks at: the last hour, finely enough to date an onset within
// a quarter of a minute.
var TriageRange = Range{Name: "triage", Dur: time.Hour, Step: 15 * time.Second, RateWindow: "1m"}

// Signals reads the target's signals within the budget, the queries in parallel.
func (c *Client) Signals(ctx context.Context, t Target, r Range, now time.Time) Signals {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	end := now.Truncate(r.Step)
	start := end.Add(-r.Dur)
	var (
		out              Signals
		mu               sync.Mutex
		wg               sync.WaitGroup
		podRate, podErrs model.Vector
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if out.Err == "" {
			out.Err = explain(err, c.cfg.Timeout)
		}
	}
	series := func(q string, into *[]Point) {
		defer wg.Done()
		m, err := c.rangeQuery(ctx, fmt.Sprintf(q, t.Labels, r.RateWindow), start, end, r.Step)
		if err != nil {
			fail(err)
			return
		}
		if len(m) > 0 {
			ps := make([]Point, 0, len(m[0].Values))
			for _, v := range m[0].Values {
				ps = append(ps, Point{T: v.Timestamp.Time(), V: float64(v.Value)})
			}
			*into = ps
		}
	}
	instant := func(q string, into *model.Vector) {
		defer wg.Done()
		v, _, _, err := c.api.Query(ctx, q, end, v1.WithTimeout(c.cfg.Timeout))
		if err != nil {
			fail(err)
			return
		}
		if vec, ok := v.(model.Vector); ok {
			*into = vec
		}
	}
	var cpu model.Vector
	wg.Add(4)
	go series(errorRatioQuery, &out.Errors)
	go series(p95Query, &out.Latency)
	go instant(fmt.Sprintf(podRateQuery, t.Labels, r.RateWindow), &podRate)
	go instant(fmt.Sprintf(podErrorsQuery, t.Labels, r.RateWindow), &podErrs)
	if t.Namespace != "" && len(t.Pods) > 0 {
		wg.Add(1)
		go instant(fmt.Sprintf(cpuOfLimitQuery, t.Namespace, podsRegex(t), r.RateWindow), &cpu)
	}
	wg.Wait()
	if len(cpu) > 0 {
		out.CPUOfLimit = float64(cpu[0].Value)
	}
	if len(podRate) > 0 {
		out.Pods = map[string]PodErrors{}
		errs := map[string]float64{}
		for _, s := range podErrs {
			errs[string(s.Metric["pod"])] = float64(s.Value)
		}
		for _, s := range podRate {
			pod, rate := string(s.Metric["pod"]), float64(s.Value)
			if rate > 0 {
				out.Pods[pod] = PodErrors{Ratio: errs[pod] / rate, Rate: rate}
			}
		}
	}
	return out
}
