package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
)

var (
	clusterOnce sync.Once
	cluster     *devstack.Cluster
	clusterErr  error
)

// Cluster returns a real control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok with three nodes) started once per test binary on free ports, so
// Deployments really roll out. Tests should work in namespaces of their own (Namespace).
func Cluster(tb testing.TB) *devstack.Cluster {
	tb.Helper()
	clusterOnce.Do(func() { cluster, clusterErr = startCluster() })
	if clusterErr != nil {
		tb.Fatalf("the Kubernetes control plane is required and could not start: %v", clusterErr)
	}
	return cluster
}

// reuseStack is the state folder of a running `make dev` stack to test against instead of
// starting components (PORTICO_TEST_STACK=.dev); empty means start them.
func reuseStack() string { return os.Getenv("PORTICO_TEST_STACK") }

func startCluster() (*devstack.Cluster, error) {
	if dir := reuseStack(); dir != "" {
		return devstack.RunningCluster(dir, "production")
	}
	return retryOnPortClash(startClusterOnce)
}

func startClusterOnce() (*devstack.Cluster, error) {
	bins, dir, err := stackWorkspace("portico-cluster-")
	if err != nil {
		return nil, err
	}
	ports, err := ReservePorts(6)
	if err != nil {
		return nil, err
	}
	spec := devstack.ClusterSpec{Name: "test", Environment: "production", Nodes: 3, EtcdPort: ports[0], EtcdPeerPort: ports[1],
		APIPort: ports[2], ControllerMgr: ports[3], SchedulerPort: ports[4], KwokPort: ports[5]}
	c, err := devstack.StartCluster(context.Background(), bins, dir, spec, false, io.Discard)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	onStop(func() {
		c.Stop()
		os.RemoveAll(dir)
	})
	return c, nil
}

var nsSeq struct {
	sync.Mutex
	n int
}

// Namespace creates a namespace for one test in the test cluster and deletes it afterwards.
func Namespace(tb testing.TB) string {
	tb.Helper()
	c := Cluster(tb)
	cs, err := c.Admin()
	if err != nil {
		tb.Fatal(err)
	}
	nsSeq.Lock()
	nsSeq.n++
	name := fmt.Sprintf("t%d-%d", os.Getpid(), nsSeq.n)
	nsSeq.Unlock()
	if err := devstack.CreateNamespace(context.Background(), cs, name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = devstack.DeleteNamespace(context.Background(), cs, name) })
	return name
}

// OwnCluster starts a control plane of the test's own (one node, no kwok) on
// reserved ports: one the test may stop and start (the shared Cluster must stay up). It is
// stopped when the test ends.
func OwnCluster(tb testing.TB, name string) *devstack.Cluster {
	tb.Helper()
	return OwnClusterWith(tb, name, nil)
}

// OwnClusterWith is OwnCluster with the spec changed by tweak first (a shorter leader Lease,
// say).
func OwnClusterWith(tb testing.TB, name string, tweak func(*devstack.ClusterSpec)) *devstack.Cluster {
	tb.Helper()
	root, _ := RepoRoot()
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		tb.Fatal(err)
	}
	ports, err := ReservePorts(5)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := devstack.ClusterSpec{Name: name, Nodes: 1, EtcdPort: ports[0], EtcdPeerPort: ports[1],
		APIPort: ports[2], ControllerMgr: ports[3], SchedulerPort: ports[4]}
	if tweak != nil {
		tweak(&spec)
	}
	c, err := devstack.StartCluster(ctx, bins, tb.TempDir(), spec, false, io.Discard)
	if err != nil {
		tb.Fatalf("a control plane of the test's own: %v", err)
	}
	tb.Cleanup(c.Stop)
	return c
}
