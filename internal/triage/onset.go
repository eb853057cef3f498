package triage

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// errorFloor is the error ratio below which a service is not called failing, whatever its
// baseline: 2% of 5xx is noise for most services.
const errorFloor = 0.02

// Onset is when the service's current degradation began: the earliest of the start of its
// error-ratio or latency excursion, its firing alerts' starts, and its pods' and nodes'
// trouble. Signs older than from (the start of the window) count only when there is no other:
// a warning firing for days does not move the onset of tonight's incident. Zero when nothing
// is wrong.
func Onset(s Service, from time.Time) time.Time {
	var ts []time.Time
	if t := excursion(s.Signals.Errors, errorBad); !t.IsZero() {
		ts = append(ts, t)
	}
	if t := excursion(s.Signals.Latency, latencyBad); !t.IsZero() {
		ts = append(ts, t)
	}
	for _, a := range s.Alerts {
		if a.Firing && !a.Since.IsZero() {
			ts = append(ts, a.Since)
		}
	}
	for _, w := range s.Workloads {
		for _, p := range w.Pods {
			if !p.Since.IsZero() && !p.OnBadNode { // the node's trouble dates those
				ts = append(ts, p.Since)
			}
		}
		for _, n := range w.Nodes {
			if n.Pods > 0 && !n.Since.IsZero() {
				ts = append(ts, n.Since)
			}
		}
	}
	if len(ts) == 0 {
		return time.Time{}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	for _, t := range ts {
		if !t.Before(from) {
			return t
		}
	}
	return ts[len(ts)-1]
}

// excursion finds the start of the latest run of bad points (a single good point inside a run
// does not end it), judged against the median of the points before the run. Zero when the
// series ends healthy or is too short to judge.
func excursion(ps []Point, bad func(v, base float64) bool) time.Time {
	if len(ps) < 4 {
		return time.Time{}
	}
	// A first baseline from the quieter quarter of the window, which holds even when the
	// excursion began early in it; judged again below against what came before the run.
	base := quantile(ps, 0.25)
	// Walk back from the end while the points are bad, tolerating one good point.
	i := len(ps) - 1
	if !bad(ps[i].V, base) && (i == 0 || !bad(ps[i-1].V, base)) {
		return time.Time{}
	}
	start := -1
	for gap := 0; i >= 0; i-- {
		if bad(ps[i].V, base) {
			start, gap = i, 0
			continue
		}
		if gap++; gap > 1 {
			break
		}
	}
	if start <= 0 {
		// Bad for the whole window: the onset is at or before its start.
		return ps[0].T
	}
	// Judge again against what came before the run, now that it is known.
	base = median(ps[:start])
	for start > 0 && bad(ps[start-1].V, base) {
		start--
	}
	return ps[start].T
}

func errorBad(v, base float64) bool {
	return v >= errorFloor && v > 3*base+0.01
}

// latencyBad: half as slow again as usual, and at least 50 ms more.
func latencyBad(v, base float64) bool {
	return !math.IsNaN(v) && v > 1.5*base && v > base+0.05
}

func degradedNow(s Signals) bool { return errorsRose(s) || latencyRose(s) }

// before and after describe a series around t: the median before, and the latest value.
func around(ps []Point, t time.Time) (before, now float64, ok bool) {
	var pre []Point
	for _, p := range ps {
		if p.T.Before(t) {
			pre = append(pre, p)
		}
	}
	now, ok = last(ps)
	if !ok || len(pre) == 0 {
		return 0, now, false
	}
	return median(pre), now, true
}

func median(ps []Point) float64 { return quantile(ps, 0.5) }

func quantile(ps []Point, q float64) float64 {
	vs := make([]float64, 0, len(ps))
	for _, p := range ps {
		if !math.IsNaN(p.V) {
			vs = append(vs, p.V)
		}
	}
	if len(vs) == 0 {
		return 0
	}
	sort.Float64s(vs)
	return vs[int(float64(len(vs)-1)*q+0.5)]
}

func last(ps []Point) (float64, bool) {
	for i := len(ps) - 1; i >= 0; i-- {
		if !math.IsNaN(ps[i].V) {
			return ps[i].V, true
		}
	}
	return 0, false
}

func percent(v float64) string {
	if v < 0.1 {
		return fmt.Sprintf("%.1f%%", v*100)
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func millis(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%.2f s", v)
	}
	return fmt.Sprintf("%.0f ms", v*1000)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
