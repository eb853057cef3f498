package cluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func testDeployment(name string, replicas int32) *appsv1.Deployment {
	l := map[string]string{"app.kubernetes.io/name": name, AnnotationID: name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/" + name + ":1.0.0"}}}}},
	}
}

// TestRuntimeAndHealth runs a service on the real control plane and checks what the portal
// sees as it rolls out, crash-loops, fails image pulls and scales to zero.
func TestRuntimeAndHealth(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	admin, err := tc.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := NewManager([]Config{{Name: "prod", Environment: "production", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	if !m.Clusters()[0].WaitSynced(ctx) {
		t.Fatal("caches did not sync")
	}
	q, ok, err := QueryFor(map[string]string{AnnotationID: "checkout", AnnotationNamespace: ns})
	if !ok || err != nil {
		t.Fatalf("QueryFor: %v %v", ok, err)
	}
	if rt := m.Runtime(q); rt.Health.Level != Unknown || !strings.Contains(rt.Health.Reason, "backstage.io/kubernetes-id=checkout") {
		t.Errorf("nothing deployed yet: health %+v, want unknown naming the selector", rt.Health)
	}
	if _, err := admin.AppsV1().Deployments(ns).Create(ctx, testDeployment("checkout", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, cond func(Runtime) bool) Runtime {
		t.Helper()
		return waitRuntime(ctx, t, m, q, what, cond)
	}
	rt := wait("3 ready pods, healthy", func(rt Runtime) bool {
		return len(rt.Clusters[0].Workloads) == 1 && rt.Clusters[0].Workloads[0].Ready == 3 && rt.Health.Level == Healthy
	})
	// The Deployment, its ReplicaSet and 3 pods were created while the caches watched.
	if n := lagSamples(t, m, "prod"); n < 5 {
		t.Errorf("portico_cluster_watch_lag_seconds{cluster=prod} has %d samples, want ≥ 5 (a Deployment, a ReplicaSet, 3 pods)", n)
	}
	w := rt.Clusters[0].Workloads[0]
	if len(w.Pods) != 3 || w.Revision != "1" || w.Images[0] != "registry.acme.example/checkout:1.0.0" || w.Rollout != "complete" {
		t.Errorf("workload = %+v", w)
	}
	patch := func(f func(*appsv1.Deployment)) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := admin.AppsV1().Deployments(ns).Get(ctx, "checkout", metav1.GetOptions{})
			if err != nil {
				return err
			}
			f(d)
			_, err = admin.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, fault := range []struct{ label, reason string }{{"crashloop", "CrashLoopBackOff"}, {"imagepull", "ImagePullBackOff"}, {"oomkilled", "OOMKilled"}, {"unready", "failing readiness"}} {
		patch(func(d *appsv1.Deployment) { d.Spec.Template.Labels["portico.dev/fault"] = fault.label })
		rt = wait(fault.reason, func(rt Runtime) bool {
			return rt.Health.Level == Degraded && strings.HasPrefix(rt.Health.Reason, fault.reason)
		})
		if w := rt.Clusters[0].Workloads[0]; w.Rollout != "progressing" || w.Ready < 3 {
			t.Errorf("%s: a bad release should stall with the old pods serving: rollout %s, ready %d", fault.label, w.Rollout, w.Ready)
		}
	}
	patch(func(d *appsv1.Deployment) { delete(d.Spec.Template.Labels, "portico.dev/fault") })
	wait("healthy again after the fix", func(rt Runtime) bool { return rt.Health.Level == Healthy })
	patch(func(d *appsv1.Deployment) { zero := int32(0); d.Spec.Replicas = &zero })
	wait("scaled to zero", func(rt Runtime) bool { return rt.Health.Reason == "scaled to zero" })

	o := m.Clusters()[0].Overview()
	if o.Nodes != 3 || o.NodesReady != 3 || !o.Reachability.Reachable || !strings.HasPrefix(o.Reachability.Version, "v1.37") {
		t.Errorf("overview = %+v", o)
	}
}

func TestQueryFor(t *testing.T) {
	tests := []struct {
		ann     map[string]string
		want    string
		ok, err bool
	}{
		{map[string]string{AnnotationID: "payment"}, "backstage.io/kubernetes-id=payment", true, false},
		{map[string]string{AnnotationID: "payment", AnnotationSelector: "app=pay,tier in (web)"}, "app=pay,tier in (web)", true, false},
		{map[string]string{AnnotationSelector: "app in ("}, "", true, true},
		{map[string]string{}, "", false, false},
	}
	for _, tt := range tests {
		q, ok, err := QueryFor(tt.ann)
		if ok != tt.ok || (err != nil) != tt.err || (err == nil && ok && q.SelectorText != tt.want) {
			t.Errorf("QueryFor(%v) = %q %v %v", tt.ann, q.SelectorText, ok, err)
		}
	}
}

// waitRuntime polls the manager's runtime for q until cond holds, failing the test at ctx's end.
func waitRuntime(ctx context.Context, t *testing.T, m *Manager, q Query, what string, cond func(Runtime) bool) Runtime {
	t.Helper()
	for {
		rt := m.Runtime(q)
		if cond(rt) {
			return rt
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; last runtime %+v", what, rt)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lagSamples(t *testing.T, m *Manager, cluster string) uint64 {
	t.Helper()
	var out dto.Metric
	if err := m.lag.WithLabelValues(cluster).(prometheus.Metric).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}

func TestObserveLag(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		created time.Time
		want    uint64
	}{
		{"created a second ago", now.Add(-time.Second), 1},
		{"created an hour ago: a relist, not lag", now.Add(-time.Hour), 0},
		{"no creation time", time.Time{}, 0},
		{"a clock ahead of ours", now.Add(time.Minute), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lag"})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(tc.created)}}
			observeLag(h, pod, now)
			var out dto.Metric
			if err := h.Write(&out); err != nil {
				t.Fatal(err)
			}
			if got := out.GetHistogram().GetSampleCount(); got != tc.want {
				t.Errorf("samples = %d, want %d", got, tc.want)
			}
		})
	}
}
