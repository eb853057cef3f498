package main

import (
	"strings"
	"testing"
	"time"
)

func TestStaleInReadsOneClustersBlock(t *testing.T) {
	body := `<div data-testid="runtime-cluster-production"><div class="notice warn" data-testid="stale">Stale since…</div></div>` +
		`<div data-testid="runtime-cluster-staging"><div data-testid="workload"></div></div>`
	if got := staleIn("production")(body); got != "stale banner (production)" {
		t.Errorf("production = %q", got)
	}
	if got := staleIn("staging")(body); got != "" {
		t.Errorf("staging = %q, want no banner (it is production's)", got)
	}
	if got := staleIn("staging")(`<main><div data-testid="stale">x</div></main>`); got == "" {
		t.Error("a workload page (no cluster blocks) with the banner reads as fresh")
	}
}

func TestReportFailsTheBar(t *testing.T) {
	ok := func(kind string) result { return result{kind: kind, status: 200, took: time.Millisecond} }
	base := report{phase: phase{name: "Prometheus killed", affected: []string{"metrics panel"}, recovered: func() bool { return true }}, recovery: time.Second}
	for _, c := range []struct {
		name    string
		results []result
		mod     func(*report)
		fails   string
	}{
		{"a panel message where the fault is", []result{ok("catalog list"), {kind: "metrics panel", status: 200, said: "unavailable"}}, nil, ""},
		{"a 5xx for the fault", []result{{kind: "metrics panel", status: 500}}, nil, "answered 1× with a 5xx"},
		{"a part the fault does not touch", []result{{kind: "runtime panel", status: 200, said: "unavailable"}}, nil, "not touched by this fault"},
		{"no recovery", []result{ok("catalog list")}, func(r *report) { r.recovery = -1 }, "did not recover"},
	} {
		r := base
		r.results = c.results
		if c.mod != nil {
			c.mod(&r)
		}
		var out strings.Builder
		failed := r.print(&out, 3)
		if failed != (c.fails != "") || !strings.Contains(out.String(), c.fails) {
			t.Errorf("%s: failed=%v\n%s", c.name, failed, out.String())
		}
	}
}

func TestGrowthBudget(t *testing.T) {
	at := func(g int, heap float64) runtimeStats { return runtimeStats{goroutines: g, heapMB: heap, ok: true} }
	steady := report{after: at(300, 20)}
	if g := growth([]report{steady, {after: at(330, 30)}, {after: at(10, 5), phase: phase{portalDown: true}}}); !g.ok {
		t.Errorf("within budget (a restarted portal is not compared): %s", g.line)
	}
	if g := growth([]report{steady, {after: at(500, 20)}}); g.ok {
		t.Errorf("goroutines grew by two thirds: %s", g.line)
	}
	if g := growth([]report{steady, {after: at(300, 50)}}); g.ok {
		t.Errorf("the heap grew 2.5×: %s", g.line)
	}
}
