package components_test

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

	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/web/components"
)

// Charts are laid out by internal/chart (pure) and drawn here; the golden files hold the SVG.

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
		t.Fatalf("%v (run go test ./web/components -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./web/components -update and review the diff.\ngot:\n%s", name, got)
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

func series(name string, n int, f func(i int) float64) chart.Series {
	s := chart.Series{Name: name}
	for i := range n {
		s.Points = append(s.Points, chart.Point{T: start.Add(time.Duration(i) * 30 * time.Second), V: f(i)})
	}
	return s
}

// TestLatencyChartGolden draws three latency quantiles over an hour, with a gap.
func TestLatencyChartGolden(t *testing.T) {
	in := chart.Input{Title: "Latency", Unit: "seconds", Start: start, End: start.Add(time.Hour), Step: 30 * time.Second, Href: "http://prom/graph?g0.expr=x",
		Series: []chart.Series{
			series("p50", 120, func(i int) float64 { return 0.012 + 0.002*math.Sin(float64(i)/10) }),
			series("p95", 120, func(i int) float64 {
				if i >= 50 && i < 55 {
					return math.NaN() // a scrape gap: the line breaks
				}
				return 0.045 + 0.01*math.Sin(float64(i)/7)
			}),
			series("p99", 120, func(i int) float64 { return 0.09 + float64(i)*0.0005 }),
		}}
	c := chart.Layout(in)
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
	in := chart.Input{Title: "CPU per pod", Unit: "cores", Start: start, End: start.Add(30 * time.Minute), Step: 30 * time.Second,
		Series: []chart.Series{
			series("payment-7d4b9-abcde", 60, func(i int) float64 { return 0.21 + 0.01*float64(i%5) }),
			series("payment-7d4b9-fghij", 60, func(i int) float64 { return 0.18 }),
			series("request", 60, func(int) float64 { return 0.25 }),
			series("limit", 60, func(int) float64 { return 0.5 }),
		}}
	c := chart.Layout(in)
	if c.Lines[2].Class != "threshold request" || c.Lines[3].Class != "threshold limit" || c.YTicks[len(c.YTicks)-1].Label != "600m" {
		t.Errorf("thresholds %q %q, top tick %q", c.Lines[2].Class, c.Lines[3].Class, c.YTicks[len(c.YTicks)-1].Label)
	}
	golden(t, "cpu.svg.html", render(t, c))
}

func TestEmptyAndError(t *testing.T) {
	if c := chart.Layout(chart.Input{Title: "Restarts", Unit: "count", Start: start, End: start.Add(time.Hour)}); !c.Empty {
		t.Error("no series: the chart should say there is no data")
	}
	c := chart.Layout(chart.Input{Title: "Errors", Err: "Prometheus did not answer within 2s"})
	if !strings.Contains(string(render(t, c)), "Unavailable: Prometheus did not answer within 2s") {
		t.Error("the error is not shown")
	}
}
