package testenv

import (
	"context"
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
)

// Backends are the observability side of the stack as tests reach it.
type Backends struct {
	PrometheusURL   string
	AlertmanagerURL string
	JaegerQueryURL  string // HTTP API and UI
	JaegerGRPC      string // api_v2 QueryService, host:port
	OTLPHTTP        string // Jaeger's OTLP/HTTP receiver, base URL
	DemoURL         string // demo traffic: /metrics and /faults
}

var (
	obsOnce sync.Once
	obs     *Backends
	obsErr  error
)

// Observability starts Jaeger, Prometheus, Alertmanager and the demo traffic against the test
// cluster (see Cluster), once per test binary, on free ports.
func Observability(tb testing.TB) *Backends {
	tb.Helper()
	c := Cluster(tb)
	obsOnce.Do(func() { obs, obsErr = startObservability(c) })
	if obsErr != nil {
		tb.Fatalf("the observability backends are required and could not start: %v", obsErr)
	}
	return obs
}

func startObservability(c *devstack.Cluster) (*Backends, error) {
	if reuseStack() != "" {
		p := devstack.DefaultObservabilityPorts
		return backendsAt(p), nil
	}
	return retryOnPortClash(func() (*Backends, error) { return startObservabilityOnce(c) })
}

func startObservabilityOnce(c *devstack.Cluster) (*Backends, error) {
	bins, dir, err := stackWorkspace("portico-obs-")
	if err != nil {
		return nil, err
	}
	stop := func() {
		_, _ = devstack.StopAll(dir)
		os.RemoveAll(dir)
	}
	var p devstack.ObservabilityPorts
	targets := []*int{&p.JaegerQueryHTTP, &p.JaegerQueryGRPC, &p.OTLPGRPC, &p.OTLPHTTP, &p.JaegerHealth, &p.JaegerMetrics, &p.Prometheus, &p.Alertmanager, &p.Demo}
	ports, err := ReservePorts(len(targets))
	if err != nil {
		stop()
		return nil, err
	}
	for i, t := range targets {
		*t = ports[i]
	}
	scrape, err := c.APIServerScrape()
	if err != nil {
		stop()
		return nil, err
	}
	clusters := []devstack.DemoCluster{{Name: c.Spec.Name, Kubeconfig: c.PortalKubeconfig, Weight: 1, APIServer: scrape}}
	if _, err := devstack.Observability(context.Background(), bins, dir, p, clusters, "http://127.0.0.1:8080"); err != nil {
		stop()
		return nil, err
	}
	onStop(stop)
	return backendsAt(p), nil
}

func backendsAt(p devstack.ObservabilityPorts) *Backends {
	local := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	return &Backends{PrometheusURL: "http://" + local(p.Prometheus), AlertmanagerURL: "http://" + local(p.Alertmanager),
		JaegerQueryURL: "http://" + local(p.JaegerQueryHTTP), JaegerGRPC: local(p.JaegerQueryGRPC), OTLPHTTP: "http://" + local(p.OTLPHTTP), DemoURL: "http://" + local(p.Demo)}
}

var (
	demoOnce sync.Once
	demoErr  error
)

// DemoTraffic is Observability with the demo catalog's workloads seeded in the test cluster,
// so the demo traffic has pods to serve from: metrics, traces and alerts flow as in make dev.
func DemoTraffic(tb testing.TB) *Backends {
	tb.Helper()
	be := Observability(tb)
	c := Cluster(tb)
	demoOnce.Do(func() { demoErr = seedDemo(c) })
	if demoErr != nil {
		tb.Fatalf("seeding the demo workloads: %v", demoErr)
	}
	return be
}

// DemoStack starts the control plane, the observability backends and the demo traffic
// outside tests, for the benchmark; StopAll stops them. It is started once: later calls
// return the same stack.
func DemoStack() (*Backends, *devstack.Cluster, error) {
	clusterOnce.Do(func() { cluster, clusterErr = startCluster() })
	if clusterErr != nil {
		return nil, nil, fmt.Errorf("control plane: %w", clusterErr)
	}
	obsOnce.Do(func() { obs, obsErr = startObservability(cluster) })
	if obsErr != nil {
		return nil, nil, fmt.Errorf("observability: %w", obsErr)
	}
	be := obs
	demoOnce.Do(func() { demoErr = seedDemo(cluster) })
	return be, cluster, demoErr
}

func seedDemo(c *devstack.Cluster) error {
	cs, err := c.Admin()
	if err != nil {
		return err
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err = devstack.SeedDemo(ctx, cs, filepath.Join(root, "catalog"), devstack.DemoOptions{})
	return err
}

// WaitDemoSettled waits until the demo estate's newest release is age old, so the seeded
// history reads as history: on a stack just started, an incident would rightly suspect the
// releases made seconds before it.
func WaitDemoSettled(ctx context.Context, cs kubernetes.Interface, age time.Duration) (waited time.Duration, err error) {
	sets, err := cs.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	var newest time.Time
	for _, rs := range sets.Items {
		if rs.CreationTimestamp.After(newest) {
			newest = rs.CreationTimestamp.Time
		}
	}
	wait := time.Until(newest.Add(age))
	if wait <= 0 {
		return 0, nil
	}
	select {
	case <-ctx.Done():
		return wait, ctx.Err()
	case <-time.After(wait):
		return wait, nil
	}
}
