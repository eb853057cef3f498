package chart

import (
	"math"
	"reflect"
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

// TestDurationTicks: a duration axis steps by round durations, so its labels read 6 h, 12 h,
// 1 d — never 27.8 h or 2.31 d.
func TestDurationTicks(t *testing.T) {
	round := func(label string) bool { // a whole number of its unit: "12 h", not "27.8 h"
		num, _, _ := strings.Cut(label, " ")
		return !strings.Contains(num, ".")
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, hi := range []float64{150, 1000, 5000, 100000, 8.3 * 86400, 40 * 86400} {
		c := Layout(Input{Title: "Lead time", Unit: "seconds", Start: start, End: start.Add(12 * 7 * 24 * time.Hour),
			Series: []Series{{Name: "lead time", Points: []Point{{T: start, V: hi / 2}, {T: start.Add(time.Hour), V: hi}}}}})
		if len(c.YTicks) < 2 || len(c.YTicks) > 7 {
			t.Errorf("max %gs: %d ticks", hi, len(c.YTicks))
		}
		for _, tk := range c.YTicks {
			if !round(tk.Label) {
				t.Errorf("max %gs: tick %q is not a round duration", hi, tk.Label)
			}
		}
	}
}

// TestSummary: the chart in words names each measured series' latest value, range and trend,
// and leaves the thresholds out.
func TestSummary(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	ps := func(vs ...float64) []Point {
		out := make([]Point, len(vs))
		for i, v := range vs {
			out[i] = Point{T: t0.Add(time.Duration(i) * time.Minute), V: v}
		}
		return out
	}
	c := Layout(Input{Title: "Error ratio", Unit: "ratio", Start: t0, End: t0.Add(8 * time.Minute), Step: time.Minute, Series: []Series{
		{Name: "errors", Points: ps(0.01, 0.01, 0.01, 0.02, 0.2, 0.3, 0.3, 0.3)},
		{Name: "limit", Points: ps(1, 1, 1, 1, 1, 1, 1, 1)},
		{Name: "ok", Points: ps(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)},
	}})
	want := "errors latest 30% (1%–30%), rising; ok latest 50% (50%–50%), steady"
	if c.Summary != want {
		t.Errorf("summary = %q, want %q", c.Summary, want)
	}
}

// TestTable: the chart's data as a table, newest first, one column per series, a dash where
// a series has no sample at that time.
func TestTable(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	c := Layout(Input{Title: "Latency", Unit: "seconds", Start: t0, End: t0.Add(2 * time.Minute), Step: time.Minute, Series: []Series{
		{Name: "p50", Points: []Point{{t0, 0.01}, {t0.Add(time.Minute), 0.02}, {t0.Add(2 * time.Minute), 0.03}}},
		{Name: "p95", Points: []Point{{t0, 0.1}, {t0.Add(2 * time.Minute), math.NaN()}}},
	}})
	want := Table{Columns: []string{"p50", "p95"}, Rows: []TableRow{
		{Time: "2026-12-01 03:02:00", Cells: []string{"30 ms", "—"}},
		{Time: "2026-12-01 03:01:00", Cells: []string{"20 ms", "—"}},
		{Time: "2026-12-01 03:00:00", Cells: []string{"10 ms", "100 ms"}},
	}}
	if !reflect.DeepEqual(c.Table, want) {
		t.Errorf("table = %+v, want %+v", c.Table, want)
	}
}
