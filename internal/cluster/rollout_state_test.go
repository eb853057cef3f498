package cluster

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func i32(n int32) *int32 { return &n }

// TestRolloutStates follows kubectl rollout status: the status counts only once the
// controller has observed the spec; partitions and OnDelete are their own cases.
func TestRolloutStates(t *testing.T) {
	stalled := []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet has timed out"}}
	dep := func(gen, observed int64, updated, replicas, available int32, conds []appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.DeploymentSpec{Replicas: i32(3)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: replicas, AvailableReplicas: available, Conditions: conds}}
	}
	for _, tt := range []struct {
		name        string
		d           *appsv1.Deployment
		state, want string
	}{
		{"a fresh deploy over an old deadline is progressing", dep(5, 4, 3, 3, 3, stalled), "progressing", "controller to see"},
		{"the deadline of the observed spec is stalled", dep(5, 5, 1, 4, 3, stalled), "stalled", "progress deadline"},
		{"updating", dep(5, 5, 1, 4, 3, nil), "progressing", "1 of 3 replicas updated"},
		{"old replicas terminating", dep(5, 5, 3, 4, 3, nil), "progressing", "1 old replicas"},
		{"not yet available", dep(5, 5, 3, 3, 2, nil), "progressing", "2 of 3 updated replicas available"},
		{"done", dep(5, 5, 3, 3, 3, nil), "complete", ""},
	} {
		if state, why := rolloutState(tt.d); state != tt.state || !strings.Contains(why, tt.want) {
			t.Errorf("Deployment, %s: %s %q", tt.name, state, why)
		}
	}

	sts := func(gen, observed int64, ready, updated int32, cur, upd string, st appsv1.StatefulSetUpdateStrategy) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.StatefulSetSpec{Replicas: i32(4), UpdateStrategy: st},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: observed, ReadyReplicas: ready, UpdatedReplicas: updated, CurrentRevision: cur, UpdateRevision: upd}}
	}
	rolling := appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
	partition := appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: i32(2)}}
	onDelete := appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	for _, tt := range []struct {
		name        string
		s           *appsv1.StatefulSet
		state, want string
	}{
		{"spec not observed", sts(3, 2, 4, 4, "a", "a", rolling), "progressing", "controller to see"},
		{"never observed", sts(1, 0, 0, 0, "", "", rolling), "progressing", "controller to see"},
		{"pods not ready", sts(3, 3, 3, 4, "a", "b", rolling), "progressing", "1 pods to be ready"},
		{"revisions differ", sts(3, 3, 4, 2, "a", "b", rolling), "progressing", "2 of 4 pods at revision b"},
		{"done", sts(3, 3, 4, 4, "b", "b", rolling), "complete", ""},
		{"partition not reached", sts(3, 3, 4, 1, "a", "b", partition), "progressing", "1 of 2 new pods"},
		{"partition reached, old pods held back", sts(3, 3, 4, 2, "a", "b", partition), "complete", "2 held back"},
		{"OnDelete with old pods is not a rollout", sts(3, 2, 4, 1, "a", "b", onDelete), "complete", "OnDelete: 1 of 4"},
	} {
		if state, why := statefulSetRollout(tt.s); state != tt.state || !strings.Contains(why, tt.want) {
			t.Errorf("StatefulSet, %s: %s %q", tt.name, state, why)
		}
	}

	ds := func(gen, observed int64, desired, updated, available int32, typ appsv1.DaemonSetUpdateStrategyType) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: typ}},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: observed, DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberAvailable: available}}
	}
	for _, tt := range []struct {
		name        string
		d           *appsv1.DaemonSet
		state, want string
	}{
		{"spec not observed", ds(2, 1, 3, 3, 3, appsv1.RollingUpdateDaemonSetStrategyType), "progressing", "controller to see"},
		{"updating", ds(2, 2, 3, 1, 3, appsv1.RollingUpdateDaemonSetStrategyType), "progressing", "1 of 3 new pods"},
		{"not available", ds(2, 2, 3, 3, 2, appsv1.RollingUpdateDaemonSetStrategyType), "progressing", "2 of 3 updated pods available"},
		{"done", ds(2, 2, 3, 3, 3, appsv1.RollingUpdateDaemonSetStrategyType), "complete", ""},
		{"OnDelete", ds(2, 2, 3, 1, 3, appsv1.OnDeleteDaemonSetStrategyType), "complete", "OnDelete: 1 of 3"},
	} {
		if state, why := daemonSetRollout(tt.d); state != tt.state || !strings.Contains(why, tt.want) {
			t.Errorf("DaemonSet, %s: %s %q", tt.name, state, why)
		}
	}
}
