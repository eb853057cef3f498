package metrics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// MeshStat is one version of a service's traffic over the last five minutes, as the mesh's
// sidecars report it (Istio's standard metrics, reporter="destination").
type MeshStat struct {
	Rate    float64       // requests a second
	Success float64       // share of requests not answered with a 5xx
	P95     time.Duration // 0: unknown
}

// The mesh's standard metrics, by the destination's version label ("" when it has none).
const (
	meshRateQuery   = `sum by (destination_version) (rate(istio_requests_total{reporter="destination", destination_service_namespace=%[1]q, destination_service_name=%[2]q}[5m]))`
	meshErrorsQuery = `sum by (destination_version) (rate(istio_requests_total{reporter="destination", destination_service_namespace=%[1]q, destination_service_name=%[2]q, response_code=~"5.."}[5m]))`
	meshP95Query    = `histogram_quantile(0.95, sum by (le, destination_version) (rate(istio_request_duration_milliseconds_bucket{reporter="destination", destination_service_namespace=%[1]q, destination_service_name=%[2]q}[5m])))`
)

// MeshStats reads a Kubernetes Service's traffic by version from the mesh's metrics; the
// "" key is the whole service. No series at all is an empty map: the mesh reports none.
func (c *Client) MeshStats(ctx context.Context, namespace, service string, now time.Time) (map[string]MeshStat, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		got  = map[string]model.Vector{}
	)
	for name, q := range map[string]string{"rate": meshRateQuery, "errors": meshErrorsQuery, "p95": meshP95Query} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Viewers within 15 s share one answer.
			v, err := c.instantQuery(ctx, fmt.Sprintf(q, namespace, service), now.Truncate(15*time.Second))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			got[name] = v
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", explain(errs[0], c.cfg.Timeout))
	}
	out := map[string]MeshStat{}
	var total, totalErr float64
	for _, s := range got["rate"] {
		v := string(s.Metric["destination_version"])
		st := out[v]
		st.Rate = float64(s.Value)
		st.Success = 1
		out[v] = st
		total += st.Rate
	}
	for _, s := range got["errors"] {
		v := string(s.Metric["destination_version"])
		if st, ok := out[v]; ok && st.Rate > 0 {
			st.Success = 1 - float64(s.Value)/st.Rate
			out[v] = st
		}
		totalErr += float64(s.Value)
	}
	for _, s := range got["p95"] {
		v := string(s.Metric["destination_version"])
		if st, ok := out[v]; ok && !math.IsNaN(float64(s.Value)) {
			st.P95 = time.Duration(float64(s.Value) * float64(time.Millisecond))
			out[v] = st
		}
	}
	if _, ok := out[""]; !ok && total > 0 {
		out[""] = MeshStat{Rate: total, Success: 1 - totalErr/total}
	}
	return out, nil
}
