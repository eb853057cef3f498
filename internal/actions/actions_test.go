package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/store"
)

// fakeAudit records entries in memory (the real log, with its triggers, is tested in
// internal/audit and through the HTTP tests on a real cluster).
type fakeAudit struct {
	entries []audit.Entry
	keys    map[string]int
	failing error
}

func (f *fakeAudit) Begin(_ context.Context, e audit.Entry) (audit.Entry, error) {
	if f.failing != nil {
		return audit.Entry{}, f.failing
	}
	if e.IdempotencyKey != "" {
		if id, ok := f.keys[e.IdempotencyKey]; ok {
			return f.entries[id-1], audit.ErrDuplicate
		}
	}
	e.ID, e.Result = len(f.entries)+1, audit.Pending
	f.entries = append(f.entries, e)
	if e.IdempotencyKey != "" {
		if f.keys == nil {
			f.keys = map[string]int{}
		}
		f.keys[e.IdempotencyKey] = e.ID
	}
	return e, nil
}

func (f *fakeAudit) Finish(_ context.Context, id int, r audit.Result, after string, cause error) error {
	f.entries[id-1].Result, f.entries[id-1].After = r, after
	if cause != nil {
		f.entries[id-1].Error = cause.Error()
	}
	return nil
}

// clusterDown is a cluster whose API server cannot be reached: an action that gets as far as
// the cluster fails there.
type clusterDown struct{ calls int }

func (c *clusterDown) As(cluster.Identity) (kubernetes.Interface, error) {
	c.calls++
	return nil, fmt.Errorf("%w: The cluster did not answer", derrors.Unavailable)
}

type fakeBuilds map[string]store.Build

func (b fakeBuilds) BuildsOf(_ context.Context, _, images []string) (map[string]store.Build, error) {
	out := map[string]store.Build{}
	for _, i := range images {
		if x, ok := b[i]; ok {
			out[i] = x
		}
	}
	return out, nil
}

func workload(env, lifecycle string, hpa bool) (*Workload, *clusterDown) {
	e := &catalog.Entity{Kind: "Component", Metadata: catalog.Metadata{Name: "ledger", Namespace: "default",
		Annotations: map[string]string{catalog.AnnotationProjectSlug: "acme/ledger"}}, Spec: map[string]any{"lifecycle": lifecycle}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ledger", Namespace: "payments", Generation: 3}}
	dep := cluster.Deployment{Object: d}
	if hpa {
		dep.HPA = &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}}
	}
	c := &clusterDown{}
	return &Workload{Entity: e, Cluster: c, ClusterName: "east", Environment: env, Deployment: dep,
		Target: policy.Target{Service: "ledger", Owner: "team-payments", Cluster: "east", Environment: env, Namespace: "payments"}}, c
}

var (
	owner  = &Actor{Subject: policy.Subject{User: "alice.nguyen@acme.example", Teams: []string{"team-payments"}}, Label: "alice.nguyen@acme.example"}
	viewer = &Actor{Subject: policy.Subject{User: "oscar.lind@acme.example", Groups: []string{"viewers"}}, Label: "oscar.lind@acme.example"}
)

func i32(v int32) *int32 { return &v }

// TestRules table-tests the write path's rules: who may act, what input passes, production's
// reason and typed name, the scan gate, and what each refusal leaves in the audit log.
func TestRules(t *testing.T) {
	tests := []struct {
		name        string
		env, life   string
		hpa         bool
		actor       *Actor
		in          Input
		invalid     error
		scan        bool
		wantKind    error
		wantMsg     string
		wantAudit   audit.Result // "" : nothing recorded
		wantCluster bool         // the request got as far as the cluster
	}{
		{"nobody signed in", "staging", "experimental", false, nil, Input{Action: policy.Restart}, nil, false, derrors.Unauthenticated, "Sign in", "", false},
		{"viewer may not restart", "staging", "experimental", false, viewer, Input{Action: policy.Restart}, nil, false, derrors.Forbidden, "may not restart ledger", audit.Denied, false},
		{"viewer's dry run is refused and audited", "staging", "experimental", false, viewer, Input{Action: policy.Restart, DryRun: true}, nil, false, derrors.Forbidden, "may not restart", audit.Denied, false},
		{"unreadable input after the policy", "staging", "experimental", false, owner, Input{Action: policy.Scale}, fmt.Errorf("%w: replicas: \"x\" is not a whole number", derrors.Invalid), false, derrors.Invalid, "not a whole number", audit.Failed, false},
		{"replicas above the maximum", "staging", "experimental", false, owner, Input{Action: policy.Scale, Replicas: i32(99)}, nil, false, derrors.Invalid, "between 0 and 20", audit.Failed, false},
		{"negative replicas", "staging", "experimental", false, owner, Input{Action: policy.Scale, Replicas: i32(-1)}, nil, false, derrors.Invalid, "between 0 and 20", audit.Failed, false},
		{"autoscaled needs min and max", "staging", "experimental", true, owner, Input{Action: policy.Scale, Replicas: i32(3)}, nil, false, derrors.Invalid, "managed by the autoscaler ledger", audit.Failed, false},
		{"image without a tag", "staging", "experimental", false, owner, Input{Action: policy.Deploy, Image: "registry.acme.example/ledger"}, nil, false, derrors.Invalid, "names no tag or digest", audit.Failed, false},
		{"scale to zero needs the name", "staging", "experimental", false, owner, Input{Action: policy.Scale, Replicas: i32(0)}, nil, false, derrors.Invalid, "Type the workload's name", audit.Failed, false},
		{"production needs a reason", "production", "experimental", false, owner, Input{Action: policy.Restart, Confirm: "ledger"}, nil, false, derrors.Invalid, "reason is required", audit.Failed, false},
		{"production lifecycle needs a reason too", "staging", "production", false, owner, Input{Action: policy.Restart, Confirm: "ledger"}, nil, false, derrors.Invalid, "reason is required", audit.Failed, false},
		{"production needs the typed name", "production", "experimental", false, owner, Input{Action: policy.Restart, Reason: "x", Confirm: "ledgr"}, nil, false, derrors.Invalid, "(ledger) to confirm", audit.Failed, false},
		{"unscanned image to production", "production", "experimental", false, owner, Input{Action: policy.Deploy, Image: "registry.acme.example/ledger:9.9.9", Reason: "x", Confirm: "ledger"}, nil, true, derrors.Forbidden, "no run reported building", audit.Denied, false},
		{"failed scan to production", "production", "experimental", false, owner, Input{Action: policy.Deploy, Image: "registry.acme.example/ledger:2.0.0", Reason: "x", Confirm: "ledger"}, nil, true, derrors.Forbidden, "did not pass its security-scan stage", audit.Denied, false},
		{"scanned image reaches the cluster", "production", "experimental", false, owner, Input{Action: policy.Deploy, Image: "registry.acme.example/ledger:2.1.0", Reason: "x", Confirm: "ledger"}, nil, true, derrors.Unavailable, "did not answer", audit.Failed, true},
		{"scan gate off: staging deploy reaches the cluster", "staging", "experimental", false, owner, Input{Action: policy.Deploy, Image: "registry.acme.example/ledger:9.9.9"}, nil, true, derrors.Unavailable, "did not answer", audit.Failed, true},
		{"a valid restart reaches the cluster", "staging", "experimental", false, owner, Input{Action: policy.Restart}, nil, false, derrors.Unavailable, "did not answer", audit.Failed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &fakeAudit{}
			b := fakeBuilds{"registry.acme.example/ledger:2.0.0": {RunID: "41", ScanPassed: false}, "registry.acme.example/ledger:2.1.0": {RunID: "42", ScanPassed: true}}
			s := New(Config{MaxReplicas: 20, RequireSecurityScan: tt.scan}, policy.Default(), log, b, nil)
			w, cl := workload(tt.env, tt.life, tt.hpa)
			_, err := s.Do(context.Background(), Request{Actor: tt.actor, Workload: w, Input: tt.in, Invalid: tt.invalid, RequestID: "r1"})
			if !errors.Is(err, tt.wantKind) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.wantKind, tt.wantMsg)
			}
			switch {
			case tt.wantAudit == "" && len(log.entries) != 0:
				t.Errorf("audited %+v, want nothing", log.entries)
			case tt.wantAudit != "" && (len(log.entries) != 1 || log.entries[0].Result != tt.wantAudit):
				t.Errorf("audit = %+v, want one %s entry", log.entries, tt.wantAudit)
			}
			if got := cl.calls > 0; got != tt.wantCluster {
				t.Errorf("reached the cluster = %v, want %v", got, tt.wantCluster)
			}
		})
	}
}

// TestAuditAndIdempotency: a key acts once (a second submit returns the first entry); a
// refusal does not use the key up; the audit log failing stops the action before anything
// changes; the entry names the user, the workload and the input without the reason.
func TestAuditAndIdempotency(t *testing.T) {
	log := &fakeAudit{}
	s := New(Config{MaxReplicas: 20}, policy.Default(), log, nil, nil)
	w, cl := workload("staging", "experimental", false)
	req := Request{Actor: owner, Workload: w, Input: Input{Action: policy.Scale, Replicas: i32(4), Key: "k1", Reason: "more traffic"}, RequestID: "r1", SourceIP: "10.1.2.3"}
	first, _ := s.Do(context.Background(), req)
	again, err := s.Do(context.Background(), req)
	if err != nil || !again.Duplicate || again.Entry.ID != first.Entry.ID || cl.calls != 1 {
		t.Errorf("second submit: %+v %v (cluster calls %d), want the first entry and no second action", again, err, cl.calls)
	}
	e := log.entries[0]
	if e.Actor != "alice.nguyen@acme.example" || e.Entity != "component:default/ledger" || e.Namespace != "payments" || e.Name != "ledger" ||
		e.SourceIP != "10.1.2.3" || e.Reason != "more traffic" || strings.Contains(e.Params, "more traffic") || !strings.Contains(e.Params, `"replicas":4`) {
		t.Errorf("entry = %+v", e)
	}
	refused := Request{Actor: owner, Workload: w, Input: Input{Action: policy.Scale, Replicas: i32(99), Key: "k2"}}
	if _, err := s.Do(context.Background(), refused); !errors.Is(err, derrors.Invalid) {
		t.Fatal(err)
	}
	refused.Input.Replicas = i32(5)
	if out, _ := s.Do(context.Background(), refused); out.Duplicate {
		t.Error("a refused attempt used up the form's key")
	}
	down := New(Config{}, policy.Default(), &fakeAudit{failing: errors.New("database is locked")}, nil, nil)
	calls := cl.calls
	_, err = down.Do(context.Background(), Request{Actor: owner, Workload: w, Input: Input{Action: policy.Restart}})
	if !errors.Is(err, derrors.Unavailable) || cl.calls != calls {
		t.Errorf("audit log down: %v (cluster calls %d → %d), want unavailable and no change", err, calls, cl.calls)
	}
	var de *derrors.Error
	if !errors.As(err, &de) || strings.Contains(de.Msg, "database is locked") {
		t.Errorf("the user's message must not carry the database's words: %v", err)
	}
}

func TestProduction(t *testing.T) {
	s := New(Config{ProductionEnvironments: []string{"production", "prod-eu"}}, policy.Default(), nil, nil, nil)
	for _, tt := range []struct {
		env, lifecycle string
		want           bool
	}{{"production", "experimental", true}, {"prod-eu", "", true}, {"staging", "production", true}, {"staging", "experimental", false}, {"prod", "", false}} {
		w, _ := workload(tt.env, tt.lifecycle, false)
		if got := s.Production(w); got != tt.want {
			t.Errorf("Production(env %q, lifecycle %q) = %v, want %v", tt.env, tt.lifecycle, got, tt.want)
		}
	}
	if !New(Config{}, policy.Default(), nil, nil, nil).ProductionEnvironment("production") {
		t.Error("the default production environment is production")
	}
}
