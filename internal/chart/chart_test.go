package chart

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/web/components"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/chart -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./internal/chart -update and review the diff.\ngot:\n%s", name, got)
	}
}

func render(t *testing.T, c components.Chart) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := components.ChartView(c).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b.Bytes(), []byte("><"), []byte(">\n<"))
}

var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func series(name string, n int, f func(i int) float64) Series {
	s := Series{Name: name}
	for i := range n {
		s.Points = append(s.Points, Point{T: start.Add(time.Duration(i) * 30 * time.Second), V: f(i)})
	}
	return s
}

// TestLatencyChartGolden draws three latency quantiles over an hour, with a gap.
func TestLatencyChartGolden(t *testing.T) {
	in := Input{Title: "Latency", Unit: "seconds", Start: start, End: start.Add(time.Hour), Step: 30 * time.Second, Href: "http://prom/graph?g0.expr=x",
		Series: []Series{
			series("p50", 120, func(i int) float64 { return 0.012 + 0.002*math.Sin(float64(i)/10) }),
			series("p95", 120, func(i int) float64 {
				if i >= 50 && i < 55 {
					return math.NaN() // a scrape gap: the line breaks
				}
				return 0.045 + 0.01*math.Sin(float64(i)/7)
			}),
			series("p99", 120, func(i int) float64 { return 0.09 + float64(i)*0.0005 }),
		}}
	c := Layout(in)
	if len(c.Lines) != 3 || len(c.Legend) != 3 || c.Legend[2].Last != "150 ms" {
		t.Fatalf("lines %d legend %+v", len(c.Lines), c.Legend)
	}
	if !strings.Contains(c.Lines[1].Path, "M") || strings.Count(c.Lines[1].Path, "M") != 2 {
		t.Errorf("the p95 line should break once at the gap: %d moves", strings.Count(c.Lines[1].Path, "M"))
	}
	if len(c.Bands) != 120 || !strings.Contains(c.Bands[0].Title, "p50 12 ms") {
		t.Errorf("hover bands: %d, first %q", len(c.Bands), c.Bands[0].Title)
	}
	golden(t, "latency.svg.html", render(t, c))
}

// TestCPUChartGolden draws pods against the request and limit thresholds.
func TestCPUChartGolden(t *testing.T) {
	in := Input{Title: "CPU per pod", Unit: "cores", Start: start, End: start.Add(30 * time.Minute), Step: 30 * time.Second,
		Series: []Series{
			series("payment-7d4b9-abcde", 60, func(i int) float64 { return 0.21 + 0.01*float64(i%5) }),
			series("payment-7d4b9-fghij", 60, func(i int) float64 { return 0.18 }),
			series("request", 60, func(int) float64 { return 0.25 }),
			series("limit", 60, func(int) float64 { return 0.5 }),
		}}
	c := Layout(in)
	if c.Lines[2].Class != "threshold request" || c.Lines[3].Class != "threshold limit" || c.YTicks[len(c.YTicks)-1].Label != "600m" {
		t.Errorf("thresholds %q %q, top tick %q", c.Lines[2].Class, c.Lines[3].Class, c.YTicks[len(c.YTicks)-1].Label)
	}
	golden(t, "cpu.svg.html", render(t, c))
}

func TestEmptyAndError(t *testing.T) {
	if c := Layout(Input{Title: "Restarts", Unit: "count", Start: start, End: start.Add(time.Hour)}); !c.Empty {
		t.Error("no series: the chart should say there is no data")
	}
	c := Layout(Input{Title: "Errors", Err: "Prometheus did not answer within 2s"})
	if !strings.Contains(string(render(t, c)), "Unavailable: Prometheus did not answer within 2s") {
		t.Error("the error is not shown")
	}
}

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
