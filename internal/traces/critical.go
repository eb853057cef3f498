package traces

import (
	"sort"
	"time"
)

// Segment is a stretch of time on a trace's critical path: the span that was doing the work
// nobody else was doing at that moment.
type Segment struct {
	SpanID    string        `json:"spanId"`
	Service   string        `json:"service"`
	Operation string        `json:"operation"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration"`
	Error     bool          `json:"error,omitempty"`
}

// Contributor is one span's share of the critical path.
type Contributor struct {
	SpanID    string        `json:"spanId"`
	Service   string        `json:"service"`
	Operation string        `json:"operation"`
	Duration  time.Duration `json:"duration"` // time on the path
	Share     float64       `json:"share"`    // of the trace's duration, 0..1
}

// CriticalPath is the chain of work that decided how long the trace took, walked as Jaeger
// walks it: from the root's end, back through the child that finished last, then the child
// that finished last before that one started, and so on; the gaps belong to the parent. A
// child still running when the later one started holds the path up to that moment (Jaeger
// skips it), and a child running past its parent's end is cut there. Segments are in time
// order; contributors largest first.
func CriticalPath(t *Trace) ([]Segment, []Contributor) {
	if len(t.Spans) == 0 {
		return nil, nil
	}
	byID := make(map[string]int, len(t.Spans))
	for i, s := range t.Spans {
		byID[s.ID] = i
	}
	children := map[string][]int{}
	root := -1
	for i, s := range t.Spans {
		if _, ok := byID[s.ParentID]; ok && s.ParentID != s.ID {
			children[s.ParentID] = append(children[s.ParentID], i)
		} else if root < 0 || s.Start.Before(t.Spans[root].Start) {
			root = i
		}
	}
	end := func(i int) time.Time { return t.Spans[i].Start.Add(t.Spans[i].Duration) }
	var segs []Segment
	add := func(i int, from, to time.Time) {
		if to.After(from) {
			s := t.Spans[i]
			segs = append(segs, Segment{SpanID: s.ID, Service: s.Service, Operation: s.Operation, Start: from, Duration: to.Sub(from), Error: s.Error})
		}
	}
	visiting := map[int]bool{}
	var walk func(i int, until time.Time)
	walk = func(i int, until time.Time) {
		if visiting[i] { // a cycle in broken data
			return
		}
		visiting[i] = true
		defer delete(visiting, i)
		start := t.Spans[i].Start
		kids := append([]int(nil), children[t.Spans[i].ID]...)
		sort.Slice(kids, func(a, b int) bool { return end(kids[a]).After(end(kids[b])) })
		cursor := until
		for _, k := range kids {
			kEnd := end(k)
			if kEnd.After(cursor) {
				kEnd = cursor // runs past what is left of the parent: cut
			}
			if !kEnd.After(t.Spans[k].Start) || !t.Spans[k].Start.Before(cursor) || t.Spans[k].Start.Before(start) && !kEnd.After(start) {
				continue
			}
			add(i, kEnd, cursor)
			walk(k, kEnd)
			cursor = t.Spans[k].Start
			if !cursor.After(start) {
				return
			}
		}
		add(i, start, cursor)
	}
	walk(root, end(root))
	sort.Slice(segs, func(a, b int) bool { return segs[a].Start.Before(segs[b].Start) })

	total := map[string]time.Duration{}
	var order []string
	for _, s := range segs {
		if _, ok := total[s.SpanID]; !ok {
			order = append(order, s.SpanID)
		}
		total[s.SpanID] += s.Duration
	}
	var out []Contributor
	for _, id := range order {
		s := t.Spans[byID[id]]
		c := Contributor{SpanID: id, Service: s.Service, Operation: s.Operation, Duration: total[id]}
		if t.Duration > 0 {
			c.Share = float64(total[id]) / float64(t.Duration)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Duration > out[b].Duration })
	return segs, out
}
