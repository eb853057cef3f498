package chart

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{12.345, "reqps", "12.3 req/s"}, {0.0321, "ratio", "3.21%"}, {0.180, "seconds", "180 ms"}, {2.5, "seconds", "2.5 s"},
		{0.25, "cores", "250m"}, {1.5, "cores", "1.5"}, {1536 * 1024 * 1024, "bytes", "1.5 GiB"}, {3, "count", "3"}, {0, "ratio", "0%"},
	} {
		if got := Format(c.v, c.unit); got != c.want {
			t.Errorf("Format(%v, %s) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
	for _, c := range []struct{ hi, top, step float64 }{{0.9, 1, 0.2}, {47, 50, 10}, {0.0031, 0.004, 0.001}, {100, 120, 20}} {
		if top, step := niceScale(c.hi); math.Abs(top-c.top) > 1e-9 || math.Abs(step-c.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", c.hi, top, step, c.top, c.step)
		}
	}
}

func TestWeeklyTicks(t *testing.T) {
	end := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	ticks := timeTicks(end.AddDate(0, 0, -84), end)
	if len(ticks) < 3 || len(ticks) > 7 {
		t.Errorf("12 weeks: %d ticks", len(ticks))
	}
	if got := timeLabel(ticks[0], 84*24*time.Hour); strings.Contains(got, ":") {
		t.Errorf("weekly label %q should be a date", got)
	}
}
