package actions

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/store"
)

func int32p(n int32) *int32 { return &n }

// TestApplied reads whether an interrupted action's change shows in the cluster.
func TestApplied(t *testing.T) {
	d := cluster.Deployment{Object: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationAuditID: "9"}},
		Spec: appsv1.DeploymentSpec{Replicas: int32p(4)}},
		ReplicaSets: []*appsv1.ReplicaSet{{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationAuditID: "7"}}}},
		HPA:         &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: int32p(2), MaxReplicas: 6}}}
	for _, tt := range []struct {
		e    audit.Entry
		want bool
	}{
		{audit.Entry{ID: 9, Action: "deploy"}, true},
		{audit.Entry{ID: 7, Action: "rollback"}, true}, // a later change since: its ReplicaSet keeps the ID
		{audit.Entry{ID: 8, Action: "restart"}, false},
		{audit.Entry{ID: 3, Action: "scale", Params: `{"replicas":4}`}, true},
		{audit.Entry{ID: 3, Action: "scale", Params: `{"replicas":5}`}, false},
		{audit.Entry{ID: 3, Action: "scale", Params: `{"min":2,"max":6}`}, true},
		{audit.Entry{ID: 3, Action: "scale", Params: `{"min":2,"max":8}`}, false},
		{audit.Entry{ID: 3, Action: "scale", Params: `not json`}, false},
	} {
		if got := Applied(tt.e, d); got != tt.want {
			t.Errorf("Applied(%s #%d %s) = %v, want %v", tt.e.Action, tt.e.ID, tt.e.Params, got, tt.want)
		}
	}
}

type fakeLog struct {
	entries  []audit.Entry
	finished map[int]string
}

func (f *fakeLog) List(_ context.Context, fl audit.Filter) ([]audit.Entry, error) {
	var out []audit.Entry
	for _, e := range f.entries {
		if e.Result == fl.Result && (fl.Until.IsZero() || e.StartedAt.Before(fl.Until)) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeLog) Finish(_ context.Context, id int, r audit.Result, _ string, cause error) error {
	f.finished[id] = string(r) + ": " + cause.Error()
	for i := range f.entries {
		if f.entries[i].ID == id {
			f.entries[i].Result = r
		}
	}
	return nil
}

type fakeObserver struct {
	d      cluster.Deployment
	synced bool
}

func (o fakeObserver) Observe(_ context.Context, _, _, name string) (cluster.Deployment, bool, error) {
	if !o.synced {
		return cluster.Deployment{}, false, errors.New("not synced")
	}
	return o.d, name == "ledger", nil
}

type fakeExemptions []store.Exemption

func (x fakeExemptions) ActiveExemptions(context.Context, time.Time) ([]store.Exemption, error) {
	return x, nil
}

// TestRecoverJudgesOnlyWhatIsSafe: entries still possibly in flight, begun after the start or
// on a cluster not yet synced wait; the others are completed, none left pending.
func TestRecoverJudgesOnlyWhatIsSafe(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	old := start.Add(-time.Minute)
	log := &fakeLog{finished: map[int]string{}, entries: []audit.Entry{
		{ID: 1, Action: "deploy", Kind: "Deployment", Name: "ledger", Result: audit.Pending, StartedAt: old},
		{ID: 2, Action: "deploy", Kind: "Deployment", Name: "ledger", Result: audit.Pending, StartedAt: old},
		{ID: 3, Action: "restart", Kind: "Deployment", Name: "gone", Result: audit.Pending, StartedAt: old},
		{ID: 4, Action: "exempt", Kind: "ScorecardCheck", Entity: "component:default/ledger", Name: "has-pdb", Params: `{"check":"has-pdb"}`, Result: audit.Pending, StartedAt: old},
		{ID: 5, Action: "deploy", Kind: "Deployment", Name: "ledger", Result: audit.Pending, StartedAt: start.Add(-5 * time.Second)},
		{ID: 6, Action: "deploy", Kind: "Deployment", Name: "ledger", Result: audit.Pending, StartedAt: start.Add(time.Second)},
	}}
	obs := fakeObserver{d: cluster.Deployment{Object: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationAuditID: "1"}}}}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	done, waiting, err := Recover(context.Background(), log, obs, fakeExemptions{{AuditID: 4}}, start, start, quiet)
	if err != nil || done != 1 || waiting != 4 {
		t.Fatalf("cluster not synced: done %d waiting %d %v; want only the exemption judged", done, waiting, err)
	}
	obs.synced = true
	done, waiting, err = Recover(context.Background(), log, obs, fakeExemptions{{AuditID: 4}}, start, start.Add(time.Minute), quiet)
	if err != nil || done != 4 || waiting != 0 {
		t.Fatalf("done %d waiting %d %v", done, waiting, err)
	}
	for id, want := range map[int]string{1: "succeeded: interrupted", 2: "failed: interrupted", 3: "failed: interrupted", 4: "succeeded: interrupted", 5: "failed: interrupted"} {
		if !strings.HasPrefix(log.finished[id], want) {
			t.Errorf("entry %d: %q, want %q…", id, log.finished[id], want)
		}
	}
	if _, judged := log.finished[6]; judged {
		t.Error("an entry begun after the start is this process's own, not interrupted")
	}
	if !strings.Contains(log.finished[3], "no longer exists") || !strings.Contains(log.finished[1], "was applied") || !strings.Contains(log.finished[2], "was not applied") {
		t.Errorf("the reasons: %v", log.finished)
	}
}
