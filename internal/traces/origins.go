package traces

import (
	"context"
	"sort"
	"time"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
)

// Origin is where errors start in a service's recent failing traces: a failing span none of
// whose children fail.
type Origin struct {
	Service, Operation string
	Spans              int
}

// ErrorOrigins reads up to limit of the service's failing traces of the last lookback (one
// call: Jaeger returns whole traces) and counts where their errors start, most first.
func (c *Client) ErrorOrigins(ctx context.Context, service string, lookback time.Duration, limit int) ([]Origin, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	now := time.Now()
	byTrace, err := c.findTraces(ctx, &api_v2.TraceQueryParameters{ServiceName: service,
		StartTimeMin: now.Add(-lookback), StartTimeMax: now, SearchDepth: int32(limit), Tags: map[string]string{"error": "true"}})
	if err != nil {
		return nil, err
	}
	counts := map[Origin]int{}
	for id, ss := range byTrace {
		for _, o := range origins(build(id, ss)) {
			counts[o]++
		}
	}
	out := make([]Origin, 0, len(counts))
	for o, n := range counts {
		o.Spans = n
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Spans != out[j].Spans {
			return out[i].Spans > out[j].Spans
		}
		return out[i].Service+out[i].Operation < out[j].Service+out[j].Operation
	})
	return out, nil
}

// origins are the trace's failing spans without a failing child.
func origins(t Trace) []Origin {
	failingChild := map[string]bool{}
	for _, s := range t.Spans {
		if s.Error && s.ParentID != "" {
			failingChild[s.ParentID] = true
		}
	}
	var out []Origin
	for _, s := range t.Spans {
		if s.Error && !failingChild[s.ID] {
			out = append(out, Origin{Service: s.Service, Operation: s.Operation})
		}
	}
	return out
}
