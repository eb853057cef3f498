package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestDemoTraffic checks the demo traffic end to end: Prometheus scrapes request metrics for
// the serving pods at the configured rate, Jaeger receives traces across services, and a bad
// image tag raises the error ratio during a rollout and a rollback clears it.
func TestDemoTraffic(t *testing.T) {
	c := testenv.Cluster(t)
	be := testenv.Observability(t)
	cs, err := c.Admin()
	if err != nil {
		t.Fatal(err)
	}
	root, _ := testenv.RepoRoot()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := devstack.SeedDemo(ctx, cs, filepath.Join(root, "catalog"), devstack.DemoOptions{}); err != nil {
		t.Fatal(err)
	}
	rate := func() float64 {
		return promValue(t, be.PrometheusURL, `sum(rate(http_requests_total{service="payment"}[20s]))`)
	}
	waitFor(ctx, t, "payment serving ≥ 50 req/s in Prometheus", func() bool { return rate() >= 50 })
	waitFor(ctx, t, "traces through gateway and payment in Jaeger", func() bool {
		return jaegerHasTrace(be.JaegerQueryURL, "gateway", "payment")
	})

	errRatio := func() float64 {
		return promValue(t, be.PrometheusURL, `sum(rate(http_requests_total{service="payment",code=~"5.."}[15s])) / sum(rate(http_requests_total{service="payment"}[15s]))`)
	}
	setFault(t, be.DemoURL, "payment", `{"badTag":"9.9.9"}`)
	setImage(ctx, t, cs, "9.9.9")
	waitFor(ctx, t, "errors above 20% with the bad release", func() bool { return errRatio() > 0.2 })
	setImage(ctx, t, cs, "5.4.0") // the rollback
	waitFor(ctx, t, "errors back under 2% after the rollback", func() bool { return errRatio() < 0.02 })

	// Causal, as real services are: a failing dependency fails its callers' requests, and a
	// slow one slows them down, in the callers' own metrics.
	setFault(t, be.DemoURL, "payment", `{}`)
	setFault(t, be.DemoURL, "pricing", `{"errorRate":0.6}`)
	waitFor(ctx, t, "payment's errors above 10% while pricing fails", func() bool { return errRatio() > 0.1 })
	setFault(t, be.DemoURL, "pricing", `{"latencyMs":400}`)
	p50 := func() float64 {
		return promValue(t, be.PrometheusURL, `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="payment"}[15s])))`)
	}
	waitFor(ctx, t, "payment's median latency above 300 ms while pricing is slow", func() bool { return p50() > 0.3 })
	waitFor(ctx, t, "payment's errors back under 2% once pricing recovered", func() bool { return errRatio() < 0.02 })
	setFault(t, be.DemoURL, "pricing", `{}`)
	waitFor(ctx, t, "payment's median latency back under 300 ms", func() bool { return p50() < 0.3 })
}

func setImage(ctx context.Context, t *testing.T, cs kubernetes.Interface, tag string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := cs.AppsV1().Deployments("payments").Get(ctx, "payment", metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = "registry.acme.example/payment:" + tag
		_, err = cs.AppsV1().Deployments("payments").Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func setFault(t *testing.T, demo, svc, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, demo+"/faults/"+svc, bytes.NewBufferString(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("set fault: %v %v", err, res)
	}
	res.Body.Close()
}

// promValue is the query's first value; NaN when Prometheus fails or has no such series, so
// no comparison with it holds ("errors under 2%" is not true of a missing answer) and the
// wait goes on to its deadline.
func promValue(t *testing.T, base, query string) float64 {
	t.Helper()
	res, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return math.NaN()
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&out) != nil || len(out.Data.Result) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(fmt.Sprint(out.Data.Result[0].Value[1]), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func jaegerHasTrace(base string, services ...string) bool {
	res, err := http.Get(base + "/api/traces?limit=20&lookback=1h&service=" + services[0])
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var out struct {
		Data []struct {
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if json.NewDecoder(res.Body).Decode(&out) != nil {
		return false
	}
	for _, tr := range out.Data {
		seen := map[string]bool{}
		for _, p := range tr.Processes {
			seen[p.ServiceName] = true
		}
		all := true
		for _, s := range services {
			all = all && seen[s]
		}
		if all {
			return true
		}
	}
	return false
}
