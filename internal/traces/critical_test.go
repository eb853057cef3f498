package traces

import (
	"testing"
	"time"
)

func TestCriticalPath(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	span := func(id, parent, svc string, start, dur int) Span {
		return Span{ID: id, ParentID: parent, Service: svc, Operation: svc + "-op", Start: t0.Add(time.Duration(start) * ms), Duration: time.Duration(dur) * ms}
	}
	// frontend 0..100 calls checkout 10..90, which calls payment 20..70 and, in parallel,
	// pricing 15..40 (hidden behind payment); payment's ledger call 30..60; a log span that
	// outlives checkout (80..120) is cut at checkout's end.
	tr := &Trace{Duration: 100 * ms, Spans: []Span{
		span("f", "", "frontend", 0, 100),
		span("c", "f", "checkout", 10, 80),
		span("p", "c", "payment", 20, 50),
		span("r", "c", "pricing", 15, 25),
		span("l", "p", "ledger", 30, 30),
		span("g", "c", "logger", 80, 40),
	}}
	segs, contrib := CriticalPath(tr)
	type seg struct {
		id         string
		start, dur int
	}
	var got []seg
	var sum time.Duration
	for _, s := range segs {
		got = append(got, seg{s.SpanID, int(s.Start.Sub(t0) / ms), int(s.Duration / ms)})
		sum += s.Duration
	}
	if sum != 100*ms {
		t.Errorf("the path covers %v of a 100ms trace: %v", sum, got)
	}
	// Walking back from 100: frontend 90..100; checkout ends 90: logger (cut to 80..90);
	// checkout 70..80; payment ends 70: payment 60..70, ledger 30..60, payment 20..30;
	// pricing was still running when payment started, so it holds the path until then
	// (15..20); checkout 10..15; frontend 0..10.
	expect := []seg{{"f", 0, 10}, {"c", 10, 5}, {"r", 15, 5}, {"p", 20, 10}, {"l", 30, 30}, {"p", 60, 10}, {"c", 70, 10}, {"g", 80, 10}, {"f", 90, 10}}
	if len(got) != len(expect) {
		t.Fatalf("segments = %v, want %v", got, expect)
	}
	for i := range expect {
		if got[i] != expect[i] {
			t.Fatalf("segments = %v, want %v", got, expect)
		}
	}
	if contrib[0].SpanID != "l" || contrib[0].Share != 0.3 {
		t.Errorf("largest contributor = %+v, want the ledger call at 30%%", contrib[0])
	}
	if s, c := CriticalPath(&Trace{}); s != nil || c != nil {
		t.Error("an empty trace has no path")
	}
}
