package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/portico-dev/portico/internal/loadgen"
)

// mix is what one open-loop run sends: named kinds of request, interleaved round-robin, so a
// baseline and what it is compared with get the same number of samples in the same window.
type mix struct {
	rate   float64       // requests a second, all kinds together
	warmup time.Duration // sent, not counted
	window time.Duration // counted
	kinds  []string
	target func(kind string, i int) string
}

// samples are one kind's latencies, from each request's scheduled send time.
type samples struct {
	percentiles
	n int
}

// run sends every request when it is due, whatever the answers' pace (open loop), times each
// from when it was due (no coordinated omission), drops the warm-up's, and reads each kind's
// percentiles with the one percentile function every part uses. Any failed request fails the
// run, naming it.
func (m mix) run() (map[string]samples, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}
	total := int((m.warmup + m.window).Seconds() * m.rate)
	interval := time.Duration(float64(time.Second) / m.rate)
	type result struct {
		kind string
		took time.Duration
		err  error
		keep bool
	}
	results := make([]result, total)
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		kind := m.kinds[i%len(m.kinds)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := m.target(kind, i/len(m.kinds))
			res, err := client.Get(u)
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d for %s", res.StatusCode, u)
				}
			}
			results[i] = result{kind: kind, took: time.Since(due), err: err, keep: due.Sub(start) >= m.warmup}
		}()
	}
	wg.Wait()
	by := map[string][]time.Duration{}
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if r.keep {
			by[r.kind] = append(by[r.kind], r.took)
		}
	}
	out := map[string]samples{}
	for k, d := range by {
		out[k] = samples{percentiles: percentilesOf(d), n: len(d)}
	}
	return out, nil
}

// percentilesOf is the one percentile function every part (and the soak) uses.
func percentilesOf(d []time.Duration) percentiles {
	p := loadgen.PercentilesOf(d)
	return percentiles{p50: p.P50, p95: p.P95, p99: p.P99}
}

// label says how a row was measured.
func (m mix) label() string {
	return fmt.Sprintf("open loop %.0f/s", m.rate)
}
