package dora

import (
	"math"
	"testing"
	"time"
)

func TestCompute(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	h := func(d int) time.Time { return now.Add(-time.Duration(d) * time.Hour) }
	changes := []Change{
		{Target: "prod/payments/payment", Kind: "deploy", At: h(300), CommitAt: h(302)},             // fine, lead 2h
		{Target: "prod/payments/payment", Kind: "deploy", At: h(100), CommitAt: h(104)},             // rolled back 30m later
		{Target: "prod/payments/payment", Kind: "rollback", At: h(100).Add(30 * time.Minute)},       // restore 30m
		{Target: "prod/payments/payment", Kind: "deploy", At: h(50), CommitAt: h(56), Failed: true}, // reported failed, fixed by the next deploy 2h later
		{Target: "prod/payments/payment", Kind: "deploy", At: h(48), CommitAt: h(49)},
		{Target: "prod/payments/pricing", Kind: "deploy", At: h(10)},                              // no commit known
		{Target: "prod/payments/pricing", Kind: "rollback", At: h(1)},                             // 9h later: outside the 1h window
		{Target: "prod/payments/payment", Kind: "deploy", At: h(24 * 80), CommitAt: h(24*80 + 1)}, // before the window
	}
	s := Compute(changes, now, 4, time.Hour)
	if s.Deploys != 5 || s.Failures != 2 || math.Abs(s.FailureRate-0.4) > 1e-9 {
		t.Errorf("deploys %d failures %d rate %v", s.Deploys, s.Failures, s.FailureRate)
	}
	// Lead times 2h, 4h, 6h, 1h: median 3h.
	if s.LeadTime != 3*time.Hour {
		t.Errorf("lead time %s", s.LeadTime)
	}
	// Restores 30m and 2h: median 75m.
	if s.Restore != 75*time.Minute {
		t.Errorf("restore %s", s.Restore)
	}
	total := 0
	for _, w := range s.Weeks {
		total += w.Deploys
	}
	if total != 5 || len(s.Weeks) != 4 || s.PerWeek != 1.25 {
		t.Errorf("weeks %+v", s.Weeks)
	}
	if e := Compute(nil, now, 4, time.Hour); e.Deploys != 0 || !math.IsNaN(e.FailureRate) {
		t.Errorf("no changes: %+v", e)
	}
}
