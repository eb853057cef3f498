// Package chart lays out time-series charts for server-side SVG: scales with round ticks,
// values in the chart's unit, one path per series with gaps where data is missing, hover
// bands that name every series' value at a time, and a legend. It is pure: the same input
// always gives the same drawing (the golden tests rely on it).
package chart

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Series is one line. Series named "request" or "limit" are drawn as dashed thresholds.
type Series struct {
	Name   string
	Points []Point
}

// Input is a chart to draw.
type Input struct {
	Title, Unit string
	Start, End  time.Time
	Step        time.Duration
	Series      []Series
	Err         string
	Href        string // "open in Prometheus"
	// Markers are moments to draw across the plot; those outside Start..End are left out.
	Markers []Marker
}

// Marker is one moment on the time axis; Class styles it (onset, deploy, alert …).
type Marker struct {
	T            time.Time
	Label, Class string
}

// Size of the drawing, in SVG user units (it scales to the card's width).
const (
	width, height                    = 560, 210
	padL, padR, padT, padB           = 64, 12, 10, 26
	maxSeries                        = 12
	colours                          = 8
	thresholdRequest, thresholdLimit = "request", "limit"
)

// Layout computes the drawing.
func Layout(in Input) Chart {
	c := Chart{Title: in.Title, Unit: in.Unit, Err: in.Err, Href: in.Href, Width: width, Height: height,
		PlotX: padL, PlotY: padT, PlotW: width - padL - padR, PlotH: height - padT - padB}
	if in.Err != "" {
		return c
	}
	series := in.Series
	if len(series) > maxSeries {
		c.Note = fmt.Sprintf("showing %d of %d series", maxSeries, len(series))
		series = series[:maxSeries]
	}
	hi := 0.0
	n := 0
	for _, s := range series {
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				hi = math.Max(hi, p.V)
				n++
			}
		}
	}
	if n == 0 {
		c.Empty = true
		return c
	}
	top, step := niceScale(hi)
	if in.Unit == "seconds" && hi > 120 {
		top, step = durationScale(hi) // round durations: 6 h, 12 h, 1 d, not 27.8 h
	}
	span := in.End.Sub(in.Start).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 { return float64(padL) + t.Sub(in.Start).Seconds()/span*float64(c.PlotW) }
	y := func(v float64) float64 { return float64(padT+c.PlotH) - v/top*float64(c.PlotH) }
	for v := 0.0; v <= top*1.0001; v += step {
		c.YTicks = append(c.YTicks, Tick{Pos: round1(y(v)), Label: Format(v, in.Unit)})
	}
	for _, t := range timeTicks(in.Start, in.End) {
		c.XTicks = append(c.XTicks, Tick{Pos: round1(x(t)), Label: timeLabel(t, in.End.Sub(in.Start))})
	}
	gap := in.Step * 3 / 2
	if gap <= 0 {
		gap = time.Duration(span/60*1.5) * time.Second
	}
	colour := 0
	for _, s := range series {
		line := Line{Name: s.Name}
		switch s.Name {
		case thresholdRequest:
			line.Class = "threshold request"
		case thresholdLimit:
			line.Class = "threshold limit"
		default:
			line.Class = "series-" + strconv.Itoa(colour%colours)
			colour++
		}
		var b strings.Builder
		var prev time.Time
		last := math.NaN()
		var segment []Dot // the current run of joined points
		flush := func() {
			if len(segment) == 1 { // a point with no neighbour would not show as a line
				line.Dots = append(line.Dots, segment[0])
			}
			segment = segment[:0]
		}
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				prev = time.Time{}
				flush()
				continue
			}
			cmd := "L"
			if prev.IsZero() || p.T.Sub(prev) > gap {
				cmd = "M"
				flush()
			}
			fmt.Fprintf(&b, "%s%s %s ", cmd, num(x(p.T)), num(y(p.V)))
			segment = append(segment, Dot{X: round1(x(p.T)), Y: round1(y(p.V))})
			prev, last = p.T, p.V
		}
		flush()
		line.Path = strings.TrimSpace(b.String())
		if line.Path == "" {
			continue
		}
		c.Lines = append(c.Lines, line)
		item := LegendItem{Name: s.Name, Class: line.Class}
		if !math.IsNaN(last) {
			item.Last = Format(last, in.Unit)
		}
		c.Legend = append(c.Legend, item)
	}
	c.Bands = bands(in, series, x)
	c.Table = table(in, series)
	c.Summary = summary(series, in.Unit)
	for _, m := range in.Markers {
		if !m.T.Before(in.Start) && !m.T.After(in.End) {
			c.Markers = append(c.Markers, MarkerLine{X: round1(x(m.T)), Label: m.Label, Class: m.Class})
		}
	}
	return c
}

// samples is every sample time of the series, in order, with each series' value at it
// (NaN where a series has none).
func samples(series []Series) (times []int64, values map[int64][]float64) {
	values = map[int64][]float64{}
	for i, s := range series {
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			k := p.T.Unix()
			row, ok := values[k]
			if !ok {
				times = append(times, k)
				row = make([]float64, len(series))
				for j := range row {
					row[j] = math.NaN()
				}
				values[k] = row
			}
			row[i] = p.V
		}
	}
	slices.Sort(times)
	return times, values
}

// bands are invisible columns, one per sample time, whose titles list every series' value:
// hovering anywhere on the chart names the values at that time.
func bands(in Input, series []Series, x func(time.Time) float64) []Band {
	order, values := samples(series)
	if len(order) == 0 {
		return nil
	}
	w := float64(width-padL-padR) / float64(max(len(order), 1))
	out := make([]Band, 0, len(order))
	for _, k := range order {
		t := time.Unix(k, 0).UTC()
		var names []string
		for i, v := range values[k] {
			if !math.IsNaN(v) {
				names = append(names, series[i].Name+" "+Format(v, in.Unit))
			}
		}
		out = append(out, Band{X: round1(x(t) - w/2), W: round1(w), Title: t.Format("2006-01-02 15:04:05 UTC") + "\n" + strings.Join(names, "\n")})
	}
	return out
}

// table is the chart's data as rows, newest first: a sample time and each series' value.
func table(in Input, series []Series) Table {
	order, values := samples(series)
	t := Table{}
	for _, s := range series {
		t.Columns = append(t.Columns, s.Name)
	}
	for i := len(order) - 1; i >= 0; i-- {
		row := TableRow{Time: time.Unix(order[i], 0).UTC().Format("2006-01-02 15:04:05")}
		for _, v := range values[order[i]] {
			cell := "—"
			if !math.IsNaN(v) {
				cell = Format(v, in.Unit)
			}
			row.Cells = append(row.Cells, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// niceScale returns a top of the axis and a tick step of 1, 2 or 5 × 10^k with 3–6 ticks.
func niceScale(hi float64) (top, step float64) {
	if hi <= 0 {
		return 1, 0.25
	}
	raw := hi / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	top = math.Ceil(hi/step) * step
	if top == hi {
		top += step // keep the highest value off the frame
	}
	return top, step
}

// durationSteps are the round steps of a duration axis, in seconds.
var durationSteps = []float64{60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
	86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400, 365 * 86400}

// durationScale is niceScale for durations (hi in seconds): the smallest round step that
// gives at most five steps up to the highest value.
func durationScale(hi float64) (top, step float64) {
	for _, s := range durationSteps {
		step = s
		if hi/s <= 5 {
			break
		}
	}
	top = math.Ceil(hi/step) * step
	if top == hi {
		top += step
	}
	return top, step
}

// timeTicks are 4–6 round times inside [start, end].
func timeTicks(start, end time.Time) []time.Time {
	span := end.Sub(start)
	var step time.Duration
	for _, s := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour,
		7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour} {
		step = s
		if span/s <= 6 {
			break
		}
	}
	var out []time.Time
	for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
		if !t.Before(start) {
			out = append(out, t)
		}
	}
	return out
}

func timeLabel(t time.Time, span time.Duration) string {
	t = t.UTC()
	switch {
	case span > 10*24*time.Hour:
		return t.Format("Jan 2")
	case span > 36*time.Hour:
		return t.Format("Jan 2 15:04")
	}
	return t.Format("15:04")
}

// Format writes a value in its unit, readably: 12.5 req/s, 3.2%, 180 ms, 250m cores, 1.2 GiB.
func Format(v float64, unit string) string {
	switch unit {
	case "reqps":
		return short(v) + " req/s"
	case "ratio":
		return short(v*100) + "%"
	case "seconds":
		switch {
		case v == 0:
			return "0"
		case v < 1:
			return short(v*1000) + " ms"
		case v < 120:
			return short(v) + " s"
		case v < 2*3600:
			return short(v/60) + " min"
		case v < 2*86400:
			return short(v/3600) + " h"
		}
		return short(v/86400) + " d"
	case "cores":
		if v < 1 && v != 0 {
			return short(v*1000) + "m"
		}
		return short(v)
	case "bytes":
		units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
		i := 0
		for v >= 1024 && i < len(units)-1 {
			v /= 1024
			i++
		}
		return short(v) + " " + units[i]
	}
	return short(v)
}

// short prints at most three significant digits, without trailing zeros.
func short(v float64) string {
	a := math.Abs(v)
	var s string
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 2, 64)
	}
	if strings.Contains(s, ".") && !strings.Contains(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(round1(f), 'f', -1, 64) }

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// summary says each measured series in words: "p95 latest 240 ms (40 ms–250 ms), rising".
func summary(series []Series, unit string) string {
	var parts []string
	for _, s := range series {
		if s.Name == thresholdRequest || s.Name == thresholdLimit {
			continue
		}
		var vs []float64
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				vs = append(vs, p.V)
			}
		}
		if len(vs) == 0 {
			continue
		}
		lo, hi := vs[0], vs[0]
		for _, v := range vs {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		parts = append(parts, fmt.Sprintf("%s latest %s (%s–%s), %s", s.Name, Format(vs[len(vs)-1], unit), Format(lo, unit), Format(hi, unit), trend(vs)))
	}
	return strings.Join(parts, "; ")
}

// trend compares the last quarter of the values with the first.
func trend(vs []float64) string {
	q := max(len(vs)/4, 1)
	mean := func(xs []float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += x
		}
		return t / float64(len(xs))
	}
	first, last := mean(vs[:q]), mean(vs[len(vs)-q:])
	switch {
	case last > first*1.2 && last-first > 1e-9:
		return "rising"
	case last < first*0.8:
		return "falling"
	}
	return "steady"
}
