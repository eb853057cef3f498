package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"
)

// defaultViews are the catalog views people open first: the whole catalog, one kind of it,
// and the API's first page of components.
var defaultViews = []string{"/catalog", "/catalog?kind=component", "/api/v1/entities?kind=component&limit=20"}

// viewsBench measures the default views at 10,000 and 100,000 entities (SQLite): ingest with
// the views' indexes, the heap they take, one client, 20 connections closed loop (latency
// and throughput) and an open loop at a fixed rate.
func viewsBench(ctx context.Context, dir string, log *slog.Logger) ([]row, error) {
	var rows []row
	handlerCost := map[int]time.Duration{}
	for _, size := range []int{10000, 100000} {
		fmt.Fprintf(os.Stderr, "views: generating %d entities…\n", size)
		catalogDir, err := generateCatalog(dir, size/5)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "views: ingesting %d entities…\n", size)
		env, took, err := ingestN(ctx, "sqlite", filepath.Join(dir, fmt.Sprintf("views-%d.db", size)), catalogDir, size, log)
		if err != nil {
			return nil, err
		}
		label := fmt.Sprintf("%dk", size/1000)
		ingestBudget := 2 * time.Second
		if size > 10000 {
			ingestBudget = 30 * time.Second
		}
		rows = append(rows, row{name: "ingest " + label + " entities, views indexed", db: "sqlite", value: took.Round(time.Millisecond).String(),
			budget: "≤ " + ingestBudget.String(), ok: took <= ingestBudget})
		handlerCost[size] = handlerTime(env.handler, 3000)
		target := func(i int) string { return env.url + defaultViews[i%len(defaultViews)] }
		one, _, err := closedLoop(2000, 1, target)
		if err != nil {
			env.close()
			return nil, err
		}
		closed, rps, err := closedLoop(20000, 20, target)
		if err != nil {
			env.close()
			return nil, err
		}
		const rate = 1000
		open, err := openLoop(rate, 10*time.Second, target)
		if err != nil {
			env.close()
			return nil, err
		}
		rows = append(rows, row{name: "index heap (orders, facet members, counts) at " + label, db: "sqlite", value: fmt.Sprintf("%.1f MB", float64(env.indexBytes)/(1<<20)),
			budget: "report", ok: true})
		oneBudget, oneOK := "≤ 1ms", one.p50 <= time.Millisecond
		if size > 10000 {
			oneBudget, oneOK = "report", true
		}
		rows = append(rows, row{name: "default views, 1 client p50 (" + label + ")", db: "sqlite", value: fmt.Sprintf("%s (p99 %s)", ms(one.p50), ms(one.p99)),
			budget: oneBudget, ok: oneOK})
		tput := rps >= 2000 || size > 10000
		budget := "≤ 50ms, ≥ 2000 req/s"
		if size > 10000 {
			budget = "≤ 50ms"
		}
		rows = append(rows, row{name: "default views, 20 connections closed loop p99 (" + label + ")", db: "sqlite",
			value: fmt.Sprintf("%s (p50 %s), %.0f req/s", ms(closed.p99), ms(closed.p50), rps), budget: budget, ok: closed.p99 <= 50*time.Millisecond && tput})
		rows = append(rows, row{name: fmt.Sprintf("default views, open loop %d req/s for 10s p99 (%s)", rate, label), db: "sqlite",
			value: fmt.Sprintf("%s (p50 %s)", ms(open.p99), ms(open.p50)), budget: "≤ 50ms", ok: open.p99 <= 50*time.Millisecond})
		env.close()
		os.RemoveAll(catalogDir)
	}
	ratio := float64(handlerCost[100000]) / float64(handlerCost[10000])
	rows = append(rows, row{name: "default views, handler time without the network, 10k → 100k", db: "sqlite",
		value:  fmt.Sprintf("%.0fµs → %.0fµs", float64(handlerCost[10000].Nanoseconds())/1000, float64(handlerCost[100000].Nanoseconds())/1000),
		budget: "flat: ≤ 1.25×", ratio: fmt.Sprintf("%.2f×", ratio), ok: ratio <= 1.25})
	return rows, nil
}

// handlerTime is the mean time the portal's handler takes for the default views, called
// directly (no network, no load generator), so what it measures is the request's own work.
func handlerTime(h http.Handler, n int) time.Duration {
	for i := range 300 { // warm the single-filter views
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, defaultViews[i%len(defaultViews)], nil))
	}
	start := time.Now()
	for i := range n {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, defaultViews[i%len(defaultViews)], nil))
	}
	return time.Since(start) / time.Duration(n)
}

// closedLoop is load with the throughput it reached.
func closedLoop(requests, clients int, target func(int) string) (percentiles, float64, error) {
	start := time.Now()
	p, err := load(requests, clients, target)
	return p, float64(requests) / time.Since(start).Seconds(), err
}

// openLoop is one kind of request in an open loop: a warm-up of a second is sent and dropped.
func openLoop(rate int, dur time.Duration, target func(int) string) (percentiles, error) {
	got, err := mix{rate: float64(rate), warmup: time.Second, window: dur, kinds: []string{"view"},
		target: func(_ string, i int) string { return target(i) }}.run()
	return got["view"].percentiles, err
}
