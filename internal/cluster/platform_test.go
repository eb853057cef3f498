package cluster

import (
	"reflect"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestParseHealthChecks(t *testing.T) {
	body := "[+]ping ok\n[+]etcd ok\n[-]informer-sync failed: reason withheld\n[+]poststarthook/rbac/bootstrap-roles ok\nreadyz check failed\n"
	got := ParseHealthChecks("readyz", body)
	want := []HealthCheck{{"readyz", "ping", true, ""}, {"readyz", "etcd", true, ""}, {"readyz", "informer-sync", false, "reason withheld"},
		{"readyz", "poststarthook/rbac/bootstrap-roles", true, ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if len(ParseHealthChecks("livez", "<html>proxy error</html>")) != 0 {
		t.Error("a body that is not the checks' list gave checks")
	}
}

func TestLeaseStates(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	lease := func(holder string, renewed time.Duration) *coordinationv1.Lease {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler"},
			Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To[int32](15), RenewTime: &metav1.MicroTime{Time: now.Add(-renewed)}}}
		if holder != "" {
			l.Spec.HolderIdentity = &holder
		}
		return l
	}
	for _, tc := range []struct {
		l     *coordinationv1.Lease
		state string
	}{
		{lease("host_1", 3*time.Second), LeaseFresh},
		{lease("host_1", 15*time.Second), LeaseFresh},
		{lease("host_1", 16*time.Second), LeaseStale},
		{lease("", 2*time.Second), LeaseReleased},
	} {
		if got := leaseState(tc.l, now); got.State != tc.state {
			t.Errorf("%+v: state %s, want %s", tc.l.Spec, got.State, tc.state)
		}
	}
	cp := ControlPlane{CheckedAt: now, Checks: []HealthCheck{{Endpoint: "readyz", Name: "etcd", OK: true}},
		Leases: []LeaderLease{leaseState(lease("host_1", time.Minute), now)}}
	if h := controlPlaneHealth(cp); h.Level != Degraded || !strings.Contains(h.Reason, "kube-scheduler has not renewed its Lease for 1m0s") {
		t.Errorf("stale lease health = %+v", h)
	}
	cp.Checks = append(cp.Checks, HealthCheck{Endpoint: "livez", Name: "etcd", OK: false})
	if h := controlPlaneHealth(cp); h.Level != Down || !strings.Contains(h.Reason, "livez etcd") {
		t.Errorf("failing check health = %+v", h)
	}
	if isLeaderLease(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "apiserver-abc", Labels: map[string]string{"apiserver.kubernetes.io/identity": "kube-apiserver"}}}) {
		t.Error("an API server identity Lease counted as a leader Lease")
	}
}

func TestNodeProblemsAndHealth(t *testing.T) {
	node := func(unschedulable bool, conds ...corev1.NodeCondition) *corev1.Node {
		return &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: unschedulable}, Status: corev1.NodeStatus{Conditions: conds}}
	}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	for _, tc := range []struct {
		n        *corev1.Node
		problems []string
		level    Level
	}{
		{node(false, ready), nil, Healthy},
		{node(true, ready), nil, Degraded},
		{node(false, ready, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue}), []string{"MemoryPressure"}, Degraded},
		{node(false, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}, corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue}), []string{"NotReady"}, Down},
		{node(false, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}), []string{"NotReady"}, Down},
	} {
		p := nodeProblems(tc.n)
		if !reflect.DeepEqual(p, tc.problems) || nodeHealth(tc.n, p).Level != tc.level {
			t.Errorf("%+v: problems %v health %v, want %v %v", tc.n.Status.Conditions, p, nodeHealth(tc.n, p), tc.problems, tc.level)
		}
	}
}

// The per-node requests follow the pods: added, moved, finished, deleted.
func TestNodeUsageFollowsPods(t *testing.T) {
	u := &nodeUsage{byNode: map[string]usage{}}
	pod := func(uid, node string, phase corev1.PodPhase, cpu string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}, Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu),
				corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}, Status: corev1.PodStatus{Phase: phase}}
	}
	a, b := pod("a", "n1", corev1.PodRunning, "250m"), pod("b", "n1", corev1.PodRunning, "500m")
	c := pod("c", "", corev1.PodPending, "1")
	u.change(nil, a)
	u.change(nil, b)
	u.change(nil, c) // not scheduled: counts nowhere
	if got := u.of("n1"); got.cpu != 750 || got.pods != 2 || got.mem != 128<<20 {
		t.Errorf("n1 = %+v", got)
	}
	c2 := pod("c", "n2", corev1.PodRunning, "1")
	u.change(c, c2)
	u.change(b, pod("b", "n1", corev1.PodSucceeded, "500m"))
	if got := u.of("n1"); got.cpu != 250 || got.pods != 1 {
		t.Errorf("n1 after b finished = %+v", got)
	}
	if got := u.of("n2"); got.cpu != 1000 || got.pods != 1 {
		t.Errorf("n2 = %+v", got)
	}
	u.change(a, nil)
	if got := u.of("n1"); got != (usage{}) || len(u.byNode) != 1 {
		t.Errorf("after the last pod of n1 left: %+v, nodes %v", got, u.byNode)
	}
}

func TestParseAutoscalerStatus(t *testing.T) {
	st := ParseAutoscalerStatus(`time: 2026-12-07 10:00:00.123456789 +0000 UTC
autoscalerStatus: Running
clusterWide:
  health:
    status: Healthy
    nodeCounts:
      registered: {total: 6, ready: 5, notStarted: 1}
      longUnregistered: 0
      unregistered: 0
  scaleUp:
    status: InProgress
    lastTransitionTime: "2026-12-07T09:58:00Z"
  scaleDown:
    status: NoCandidates
nodeGroups:
- name: pool-b
  health: {status: Healthy, nodeCounts: {registered: {total: 2, ready: 2}}, cloudProviderTarget: 3, minSize: 1, maxSize: 10}
  scaleUp: {status: InProgress}
  scaleDown: {status: NoCandidates}
- name: pool-a
  health: {status: Unhealthy, nodeCounts: {registered: {total: 4, ready: 3}}, cloudProviderTarget: 4, minSize: 2, maxSize: 4}
  scaleUp: {status: NoActivity}
  scaleDown: {status: NoCandidates}
`)
	if st.Health != "Healthy" || st.State != "Running" || st.Ready != "5 of 6 ready, 1 starting" || !strings.HasPrefix(st.ScaleUp, "InProgress since 09:58 UTC") ||
		st.Updated.IsZero() || len(st.NodeGroups) != 2 || st.NodeGroups[0].Name != "pool-a" || st.NodeGroups[0].Size != "4 (2–4)" || st.NodeGroups[1].Ready != "2 of 2 ready" {
		t.Errorf("parsed %+v", st)
	}
	old := ParseAutoscalerStatus("Cluster-autoscaler status at 2023-01-01 10:00:00\nCluster-wide:\n  Health: Healthy\n")
	if old.Raw == "" || old.Health != "" {
		t.Errorf("the old text format = %+v, want it kept as written", old)
	}
}
