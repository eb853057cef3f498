package devstack_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/devstack/kwok"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func deployment(name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app.kubernetes.io/name": name}
	podLabels := map[string]string{"app.kubernetes.io/name": name}
	for k, v := range labels {
		podLabels[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/" + name + ":1.0.0"}}}}},
	}
}

// TestDeploymentRollsOut proves the control plane is real: a Deployment's pods get scheduled
// onto kwok nodes and become ready; a pod labelled with a fault shows CrashLoopBackOff.
func TestDeploymentRollsOut(t *testing.T) {
	ns := testenv.Namespace(t)
	cs, err := testenv.Cluster(t).Admin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("payment", 3, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "3/3 ready replicas", func() bool {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "payment", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 3 && d.Status.UpdatedReplicas == 3
	})
	// The stack's kubectl (built with the control plane) drives the cluster as people do.
	root, _ := testenv.RepoRoot()
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, bins.Kubectl, "--kubeconfig", testenv.Cluster(t).AdminKubeconfig, "-n", ns,
		"get", "deployment", "payment", "-o", "jsonpath={.status.readyReplicas}").CombinedOutput()
	if err != nil || string(out) != "3" {
		t.Errorf("kubectl get deployment payment: %q (%v), want 3 ready replicas (deploy/local/build.sh kubectl builds it)", out, err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("broken", 1, map[string]string{kwok.FaultLabel: "crashloop"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "a CrashLoopBackOff pod", func() bool {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=broken"})
		if err != nil || len(pods.Items) == 0 || len(pods.Items[0].Status.ContainerStatuses) == 0 {
			return false
		}
		w := pods.Items[0].Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
}

// TestFaultsInPlace: a running pod labelled to be OOM-killed is, without a new revision, and a
// node labelled not ready reports so until the label goes.
func TestFaultsInPlace(t *testing.T) {
	ns := testenv.Namespace(t)
	cs, err := testenv.Cluster(t).Admin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("leaky", 1, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	waitFor(ctx, t, "a ready pod", func() bool {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=leaky"})
		if err != nil || len(pods.Items) != 1 || len(pods.Items[0].Status.ContainerStatuses) == 0 || !pods.Items[0].Status.ContainerStatuses[0].Ready {
			return false
		}
		pod = pods.Items[0]
		return true
	})
	pod.Labels[kwok.FaultNowLabel] = "oomkilled"
	if _, err := cs.CoreV1().Pods(ns).Update(ctx, &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the pod OOM-killed in place", func() bool {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
		return last != nil && last.Reason == "OOMKilled" && !p.Status.ContainerStatuses[0].Ready
	})

	// A node of this test's own, so no other test's pods lose theirs.
	node := "fault-" + ns
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}, Labels: map[string]string{"type": "kwok"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "portico.dev/test", Effect: corev1.TaintEffectNoSchedule}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	label := func(value string) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if value == "" {
				delete(n.Labels, kwok.NodeFaultLabel)
			} else {
				n.Labels[kwok.NodeFaultLabel] = value
			}
			_, err = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	condition := func(typ corev1.NodeConditionType) corev1.ConditionStatus {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		for _, c := range n.Status.Conditions {
			if c.Type == typ {
				return c.Status
			}
		}
		return ""
	}
	ready := func() corev1.ConditionStatus { return condition(corev1.NodeReady) }
	waitFor(ctx, t, node+" ready", func() bool { return ready() == corev1.ConditionTrue })
	label("notready")
	waitFor(ctx, t, node+" not ready", func() bool { return ready() == corev1.ConditionFalse })
	label("")
	waitFor(ctx, t, node+" ready again", func() bool { return ready() == corev1.ConditionTrue })
	for _, pressure := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure} {
		label(strings.ToLower(string(pressure)))
		waitFor(ctx, t, node+" under "+string(pressure), func() bool {
			return condition(pressure) == corev1.ConditionTrue && ready() == corev1.ConditionTrue
		})
		label("")
		waitFor(ctx, t, node+" without "+string(pressure), func() bool { return condition(pressure) == corev1.ConditionFalse })
	}
}

// TestPortalIdentityIsLimited checks the portal's ServiceAccount can read workloads but not
// secrets, and cannot change anything as itself.
func TestPortalIdentityIsLimited(t *testing.T) {
	c := testenv.Cluster(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.PortalKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("portal cannot list deployments: %v", err)
	}
	if _, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("portal can list secrets; it must not")
	}
	ns := testenv.Namespace(t)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("x", 1, nil), metav1.CreateOptions{}); err == nil {
		t.Error("portal can create deployments as itself; it must not")
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 3 {
		t.Errorf("nodes: %v %d", err, len(nodes.Items))
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestSeedDemo seeds the demo estate and checks what the portal will show: every catalog
// service running with a rollout history, and the extras each one has or deliberately lacks.
func TestSeedDemo(t *testing.T) {
	c := testenv.Cluster(t)
	cs, err := c.Admin()
	if err != nil {
		t.Fatal(err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeded, err := devstack.SeedDemo(ctx, cs, filepath.Join(root, "catalog"), devstack.DemoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(seeded) < 8 {
		t.Fatalf("seeded %v, want every catalog service", seeded)
	}
	waitFor(ctx, t, "payment 3/3 ready", func() bool {
		d, err := cs.AppsV1().Deployments("payments").Get(ctx, "payment", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 3 && d.Status.UpdatedReplicas == 3 && d.Status.Replicas == 3
	})
	rs, err := cs.AppsV1().ReplicaSets("payments").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=payment"})
	if err != nil || len(rs.Items) != 4 {
		t.Errorf("payment ReplicaSets = %d (%v), want one per release (4)", len(rs.Items), err)
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("payments").Get(ctx, "payment", metav1.GetOptions{}); err != nil {
		t.Errorf("payment HPA: %v", err)
	}
	if _, err := cs.PolicyV1().PodDisruptionBudgets("data").Get(ctx, "analytics", metav1.GetOptions{}); err == nil {
		t.Error("analytics should lack a PodDisruptionBudget")
	}
	d, _ := cs.AppsV1().Deployments("messaging").Get(ctx, "notification", metav1.GetOptions{})
	if d == nil || d.Spec.Template.Spec.Containers[0].ReadinessProbe != nil {
		t.Error("notification should lack probes")
	}
	if _, err := devstack.SeedDemo(ctx, cs, filepath.Join(root, "catalog"), devstack.DemoOptions{}); err != nil {
		t.Errorf("seeding again should change nothing, got %v", err)
	}
}

// TestSeedMesh: the mesh CRDs (Istio's and Gateway API's published ones, Linkerd's and the
// VPA's minimal ones) install on a control plane of its own, every demo mesh object is
// accepted by them, and seeding again makes nothing twice.
func TestSeedMesh(t *testing.T) {
	own := testenv.OwnCluster(t, "mesh")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := own.Admin()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"payments", "platform", "messaging", "discovery"} {
		if err := devstack.CreateNamespace(ctx, cs, ns); err != nil {
			t.Fatal(err)
		}
	}
	root, _ := testenv.RepoRoot()
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	n, err := devstack.SeedMesh(ctx, own, bins, root)
	if err != nil || n != 9 {
		t.Fatalf("seeded %d objects: %v", n, err)
	}
	if ns, _ := cs.CoreV1().Namespaces().Get(ctx, "messaging", metav1.GetOptions{}); ns.Annotations["linkerd.io/inject"] != "enabled" {
		t.Error("messaging is not meshed by Linkerd")
	}
	if n, err := devstack.SeedMesh(ctx, own, bins, root); err != nil || n != 0 {
		t.Errorf("seeding again made %d: %v", n, err)
	}
}
