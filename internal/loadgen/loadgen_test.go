package loadgen

import (
	"testing"
	"time"
)

func TestPercentilesOf(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := PercentilesOf(d)
	if p.P50 != 51*time.Millisecond || p.P95 != 96*time.Millisecond || p.P99 != 100*time.Millisecond {
		t.Errorf("percentiles of 1..100 ms = %+v", p)
	}
	if got := PercentilesOf([]time.Duration{7}); got.P50 != 7 || got.P99 != 7 {
		t.Errorf("one sample: %+v", got)
	}
	if got := PercentilesOf(nil); got != (Percentiles{}) {
		t.Errorf("no samples: %+v", got)
	}
}
