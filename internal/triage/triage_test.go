package triage

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func ago(m float64) time.Time { return now.Add(-time.Duration(m * float64(time.Minute))) }

// stepUp is an hour of one-minute samples at base that jump to high from minutesAgo on.
func stepUp(base, high, minutesAgo float64) []Point {
	var ps []Point
	for m := 60.0; m >= 0; m-- {
		v := base
		if m <= minutesAgo {
			v = high
		}
		ps = append(ps, Point{T: ago(m), V: v})
	}
	return ps
}

func flat(v float64) []Point { return stepUp(v, v, -1) }

const (
	payment = "component:default/payment"
	pricing = "component:default/pricing"
	ledger  = "component:default/ledger"
)

func workload(rev int) Workload {
	return Workload{Cluster: "production", Namespace: "payments", Name: "payment", Revision: rev, Desired: 3}
}

func deploy(entity string, at time.Time, from, to int) Change {
	return Change{At: at, Kind: ChangeDeploy, Entity: entity, Cluster: "production", Namespace: "payments", Workload: short(entity),
		Revision: to, FromRevision: from, Summary: "image " + short(entity) + ":" + string(rune('0'+to)), Actor: "ana@acme.example"}
}

func healthySvc(entity string) Service {
	return Service{Entity: entity, Health: Healthy, Signals: Signals{Errors: flat(0.004), Latency: flat(0.08)}}
}

// TestAnalyze ranks recorded situations: one per suspect kind, some with distractors (an old
// unrelated deploy, a change to a healthy dependency) that must not win.
func TestAnalyze(t *testing.T) {
	tests := []struct {
		name        string
		in          Input
		wantKind    string
		wantSubject string // the top suspect's entity
		wantAction  string // its first mitigation
		wantParams  map[string]any
		wantSummary string // part of its summary
		wantOnset   time.Time
	}{
		{
			name: "bad release crash-loops; an older deploy is a distractor",
			in: Input{Service: Service{Entity: payment, Health: Degraded, Signals: Signals{Errors: flat(0.004), Latency: flat(0.08)},
				Workloads: []Workload{func() Workload {
					w := workload(7)
					w.Pods = []PodProblem{{Reason: "CrashLoopBackOff", Revision: 7, Count: 1, Since: ago(9.5)}}
					return w
				}()},
				Changes: []Change{deploy(payment, ago(180), 5, 6), deploy(payment, ago(10), 6, 7)}}},
			wantKind: KindDeploy, wantSubject: payment, wantAction: "rollback", wantParams: map[string]any{"revision": 6}, wantSummary: "revision 7",
			wantOnset: ago(9.5),
		},
		{
			name: "bad release only raises errors, seen in the new pods' metrics first",
			in: Input{Service: Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: stepUp(0.004, 0.15, 6), Latency: flat(0.08)},
				Workloads: []Workload{func() Workload {
					w := workload(5)
					w.RevisionErrors = []RevisionErrors{{Revision: 5, Ratio: 0.4, Pods: 2}, {Revision: 4, Ratio: 0.005, Pods: 1}}
					return w
				}()},
				Changes: []Change{deploy(payment, ago(7), 4, 5)}}},
			wantKind: KindDeploy, wantSubject: payment, wantAction: "rollback", wantParams: map[string]any{"revision": 4}, wantOnset: ago(6),
		},
		{
			name: "a dependency fails first; our deploy 50 minutes earlier is a distractor",
			in: Input{
				Service: Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: stepUp(0.004, 0.3, 5), Latency: flat(0.08)},
					Workloads: []Workload{workload(3)}, Changes: []Change{deploy(payment, ago(55), 2, 3)}},
				Dependencies: []Service{
					{Entity: pricing, Health: Healthy, Signals: Signals{Errors: stepUp(0.004, 0.6, 6), Latency: flat(0.05)}},
					func() Service { s := healthySvc(ledger); s.Changes = []Change{deploy(ledger, ago(8), 1, 2)}; return s }(),
				},
				Origins: []Origin{{Entity: pricing, Spans: 18}, {Entity: payment, Spans: 2}}},
			wantKind: KindDependency, wantSubject: pricing, wantAction: "open", wantSummary: "pricing is failing", wantOnset: ago(5),
		},
		{
			name: "a dependency slows down",
			in: Input{
				Service:      Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: flat(0.004), Latency: stepUp(0.12, 0.55, 4)}, Workloads: []Workload{workload(3)}},
				Dependencies: []Service{{Entity: pricing, Health: Healthy, Signals: Signals{Errors: flat(0.004), Latency: stepUp(0.05, 0.45, 5)}}}},
			wantKind: KindDependency, wantSubject: pricing, wantAction: "open", wantSummary: "pricing is slow", wantOnset: ago(4),
		},
		{
			name: "a config change breaks the service; another service's deploy is not ours",
			in: Input{
				Service: Service{Entity: payment, Health: Degraded, Signals: Signals{Errors: stepUp(0.004, 0.25, 3), Latency: flat(0.08)}, Workloads: []Workload{workload(3)},
					Changes: []Change{{At: ago(4), Kind: ChangeConfig, Entity: payment, Cluster: "production", Namespace: "payments", Workload: "payment",
						Object: "ConfigMap payments/payment-config", Summary: "ConfigMap payment-config changed"}}},
				Dependencies: []Service{func() Service {
					s := healthySvc(pricing)
					s.Changes = []Change{deploy(pricing, ago(3), 8, 9)}
					return s
				}()}},
			wantKind: KindConfig, wantSubject: payment, wantAction: "restart", wantSummary: "payment-config", wantOnset: ago(3),
		},
		{
			name: "a node goes not ready under the service's pods",
			in: Input{Service: Service{Entity: payment, Health: Degraded, Signals: Signals{Errors: flat(0.004), Latency: flat(0.08)},
				Workloads: []Workload{func() Workload {
					w := workload(3)
					w.Nodes = []NodeProblem{{Cluster: "production", Name: "kwok-node-1", Condition: "NotReady", Message: "kubelet stopped posting node status", Since: ago(3), Pods: 2}}
					return w
				}()}}},
			wantKind: KindInfrastructure, wantSubject: payment, wantAction: "restart", wantSummary: "kwok-node-1", wantOnset: ago(3),
		},
		{
			name: "pods are OOM-killed",
			in: Input{Service: Service{Entity: payment, Health: Degraded, Signals: Signals{Errors: stepUp(0.004, 0.05, 2), Latency: flat(0.08)},
				Workloads: []Workload{func() Workload {
					w := workload(3)
					w.Pods = []PodProblem{{Reason: "OOMKilled", Revision: 3, Count: 2, Since: ago(2)}}
					return w
				}()}}},
			wantKind: KindCapacity, wantSubject: payment, wantAction: "restart", wantSummary: "out of memory", wantOnset: ago(2),
		},
		{
			name: "pods OOM-killed long after their release rolled out: capacity, not the release",
			in: Input{Service: Service{Entity: payment, Health: Degraded, Signals: Signals{Errors: flat(0.004), Latency: flat(0.08)},
				Workloads: []Workload{func() Workload {
					w := workload(3)
					w.PodRevisions = map[string]int{"payment-a": 3, "payment-b": 3, "payment-c": 3}
					w.Pods = []PodProblem{{Reason: "OOMKilled", Revision: 3, Count: 2, Since: ago(1)}}
					return w
				}()}, Changes: []Change{deploy(payment, ago(5), 2, 3)}}},
			wantKind: KindCapacity, wantSubject: payment, wantAction: "restart", wantSummary: "out of memory", wantOnset: ago(1),
		},
		{
			name: "errors with no change anywhere: the service itself",
			in: Input{
				Service:      Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: stepUp(0.004, 0.2, 5), Latency: flat(0.08)}, Workloads: []Workload{workload(3)}},
				Dependencies: []Service{healthySvc(pricing)},
				Origins:      []Origin{{Entity: payment, Spans: 9}}},
			wantKind: KindSelf, wantSubject: payment, wantAction: "restart", wantSummary: "no change found", wantOnset: ago(5),
		},
		{
			name: "a release that ran healthy for minutes before errors began is weaker than the service itself",
			in: Input{
				Service: Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: stepUp(0.004, 0.2, 3), Latency: flat(0.08)}, Workloads: []Workload{workload(3)},
					Changes: []Change{deploy(payment, ago(9), 2, 3)}},
				Origins: []Origin{{Entity: payment, Spans: 9}}},
			wantKind: KindSelf, wantSubject: payment, wantAction: "restart", wantOnset: ago(3),
		},
		{
			name: "a node fails under a recent release's pods: the node, not the release",
			in: Input{Service: Service{Entity: payment, Health: Degraded, Signals: Signals{Errors: flat(0.004), Latency: flat(0.08)},
				Workloads: []Workload{func() Workload {
					w := workload(3)
					w.Pods = []PodProblem{{Reason: "failing readiness", Revision: 3, Count: 2, Since: ago(6), OnBadNode: true}}
					w.Nodes = []NodeProblem{{Cluster: "production", Name: "node-2", Condition: "NotReady", Since: ago(2), Pods: 2}}
					return w
				}()}, Changes: []Change{deploy(payment, ago(6), 2, 3)}}},
			wantKind: KindInfrastructure, wantSubject: payment, wantAction: "restart", wantSummary: "node-2", wantOnset: ago(2),
		},
		{
			name: "the alert's start is the onset",
			in: Input{AlertOnset: ago(20), Service: Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: stepUp(0.004, 0.2, 5)},
				Alerts:    []Alert{{Name: "PaymentErrors", Firing: true, Since: ago(20)}},
				Workloads: []Workload{workload(3)}, Changes: []Change{deploy(payment, ago(22), 2, 3)}}},
			wantKind: KindDeploy, wantSubject: payment, wantAction: "rollback", wantParams: map[string]any{"revision": 2}, wantOnset: ago(20),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			got := Analyze(tt.in)
			if got.Onset == nil || !got.Onset.Equal(tt.wantOnset) {
				t.Errorf("onset = %v, want %v", got.Onset, tt.wantOnset)
			}
			if len(got.Suspects) == 0 {
				t.Fatalf("no suspects")
			}
			top := got.Suspects[0]
			if top.Kind != tt.wantKind || top.Subject.Entity != tt.wantSubject {
				t.Fatalf("top suspect = %s %s (%q, %.2f), want %s %s; all: %s", top.Kind, top.Subject.Entity, top.Summary, top.Confidence, tt.wantKind, tt.wantSubject, describe(got.Suspects))
			}
			if !strings.Contains(top.Summary, tt.wantSummary) {
				t.Errorf("summary = %q, want it to contain %q", top.Summary, tt.wantSummary)
			}
			if len(top.Mitigations) == 0 || top.Mitigations[0].Action != tt.wantAction {
				t.Fatalf("mitigations = %+v, want %s first", top.Mitigations, tt.wantAction)
			}
			for k, v := range tt.wantParams {
				if g := top.Mitigations[0].Params[k]; g != v {
					t.Errorf("mitigation %s = %v, want %v", k, g, v)
				}
			}
			if len(top.Evidence) == 0 {
				t.Errorf("the top suspect has no evidence")
			}
			for i, s := range got.Suspects {
				if s.Rank != i+1 || (i > 0 && s.Confidence > got.Suspects[i-1].Confidence) {
					t.Errorf("suspect %d: rank %d confidence %.2f out of order", i, s.Rank, s.Confidence)
				}
			}
		})
	}
}

func describe(ss []Suspect) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("\n  ")
		b.WriteString(s.Kind + " " + s.Subject.Entity + " " + s.Summary)
	}
	return b.String()
}

func TestAnalyzeHealthy(t *testing.T) {
	got := Analyze(Input{Now: now, Service: Service{Entity: payment, Health: Healthy, Signals: Signals{Errors: flat(0.004), Latency: flat(0.08)},
		Changes: []Change{deploy(payment, ago(30), 1, 2)}}, Missing: []string{"jaeger"}})
	if got.Health != Healthy || got.Onset != nil || len(got.Suspects) != 0 {
		t.Errorf("health %s, onset %v, %d suspects; want healthy, none, none", got.Health, got.Onset, len(got.Suspects))
	}
	if len(got.Timeline) != 1 || got.Timeline[0].Kind != ChangeDeploy {
		t.Errorf("timeline = %+v, want the deploy", got.Timeline)
	}
	if len(got.Missing) != 1 {
		t.Errorf("missing = %v", got.Missing)
	}
}

// With no signals at all (Prometheus down), the cluster's own view still ranks.
func TestAnalyzeWithoutMetrics(t *testing.T) {
	w := workload(7)
	w.Pods = []PodProblem{{Reason: "CrashLoopBackOff", Revision: 7, Count: 3, Since: ago(4)}}
	got := Analyze(Input{Now: now, Missing: []string{"prometheus"}, Service: Service{Entity: payment, Health: Down,
		Workloads: []Workload{w}, Changes: []Change{deploy(payment, ago(5), 6, 7)}}})
	if got.Health != Down || len(got.Suspects) == 0 || got.Suspects[0].Kind != KindDeploy {
		t.Fatalf("health %s, suspects %s; want down and the deploy first", got.Health, describe(got.Suspects))
	}
}

func TestExcursion(t *testing.T) {
	tests := []struct {
		name string
		ps   []Point
		want time.Time
	}{
		{"steady", flat(0.01), time.Time{}},
		{"step", stepUp(0.004, 0.2, 10), ago(10)},
		{"recovered", append(stepUp(0.004, 0.2, 10)[:55], flat(0.004)[55:]...), time.Time{}},
		{"too short", stepUp(0.004, 0.2, 1)[58:], time.Time{}},
		{"small but above floor and baseline", stepUp(0.001, 0.03, 7), ago(7)},
		{"below the floor", stepUp(0.001, 0.015, 7), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := excursion(tt.ps, errorBad); !got.Equal(tt.want) {
				t.Errorf("excursion = %v, want %v", got, tt.want)
			}
		})
	}
}
