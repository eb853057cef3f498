package cluster

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestUnreachableClusterIsStaleThenRecovers stops a cluster's API server: the portal keeps
// serving the cached workloads marked stale, another cluster is unaffected, and when the API
// server is back the caches resynchronise on their own.
func TestUnreachableClusterIsStaleThenRecovers(t *testing.T) {
	own := testenv.OwnCluster(t, "flaky")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	other := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	for _, c := range []*devstack.Cluster{own, other} {
		cs, _ := c.Admin()
		_ = devstack.CreateNamespace(ctx, cs, ns)
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, testDeployment("maps", 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewManager([]Config{{Name: "flaky", Kubeconfig: own.PortalKubeconfig}, {Name: "steady", Kubeconfig: other.PortalKubeconfig}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	q, _, _ := QueryFor(map[string]string{AnnotationID: "maps", AnnotationNamespace: ns})
	waitRT := func(what string, cond func(Runtime) bool) Runtime {
		t.Helper()
		return waitRuntime(ctx, t, m, q, what, cond)
	}
	ready := func(cr ClusterRuntime) bool { return len(cr.Workloads) == 1 && cr.Workloads[0].Ready == 1 }
	waitRT("both clusters serving maps", func(rt Runtime) bool { return ready(rt.Clusters[0]) && ready(rt.Clusters[1]) })

	own.StopAPIServer()
	rt := waitRT("flaky marked unreachable", func(rt Runtime) bool { return !rt.Clusters[0].Reachability.Reachable })
	if !ready(rt.Clusters[0]) || rt.Clusters[0].Reachability.StaleSince.IsZero() || rt.Clusters[0].Health.Level != Unknown {
		t.Errorf("unreachable cluster should keep its cached workload, stale since a time, health unknown: %+v", rt.Clusters[0])
	}
	// Why, in words for people: the API server is stopped, so nothing answers at its address.
	if got := rt.Clusters[0].Reachability.Error; got != "nothing answers at the API server's address" && got != "the API server did not answer within 3 s" {
		t.Errorf("reachability error = %q, want it in words for people (not the client's dial error)", got)
	}
	if !ready(rt.Clusters[1]) || !rt.Clusters[1].Reachability.Reachable {
		t.Errorf("the other cluster should be unaffected: %+v", rt.Clusters[1])
	}

	if err := own.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	cs, _ := own.Admin()
	zero := int32(0)
	d, _ := cs.AppsV1().Deployments(ns).Get(ctx, "maps", metav1.GetOptions{})
	d.Spec.Replicas = &zero
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRT("flaky reachable again and resynchronised", func(rt Runtime) bool {
		c := rt.Clusters[0]
		return c.Reachability.Reachable && len(c.Workloads) == 1 && c.Workloads[0].Desired == 0
	})
}
