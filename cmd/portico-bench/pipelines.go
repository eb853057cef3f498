package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/server"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// pipelinesBench sends signed GitHub workflow_job deliveries at a sustained 500/s for 10 s
// (open loop: each is sent on its schedule, whatever the previous ones do) and measures the
// time to acknowledge each, then counts the deliveries stored against those sent. It runs on
// SQLite and on a real PostgreSQL.
func pipelinesBench(ctx context.Context, dir string, log *slog.Logger) ([]row, error) {
	fmt.Fprintln(os.Stderr, "pipelines: starting PostgreSQL…")
	pgDSN, stopPG, err := testenv.StartPostgres()
	if err != nil {
		return nil, err
	}
	defer stopPG()
	var rows []row
	for _, db := range []struct{ driver, dsn string }{{"sqlite", filepath.Join(dir, "pipelines.db")}, {"postgres", pgDSN}} {
		fmt.Fprintf(os.Stderr, "pipelines: %s, 500 deliveries/s for 10 s…\n", db.driver)
		p99, p50, sent, stored, err := webhookLoad(ctx, db.driver, db.dsn, 500, 10*time.Second, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", db.driver, err)
		}
		rows = append(rows,
			row{name: "webhook ack p99 at 500 deliveries/s", db: db.driver, value: fmt.Sprintf("%s (p50 %s)", ms(p99), ms(p50)), budget: "≤ 50ms", ok: p99 <= 50*time.Millisecond},
			row{name: "deliveries stored / sent", db: db.driver, value: fmt.Sprintf("%d / %d", stored, sent), budget: "all", ok: stored == sent})
	}
	return rows, nil
}

func webhookLoad(ctx context.Context, driver, dsn string, rate int, dur time.Duration, log *slog.Logger) (p99, p50 time.Duration, sent, stored int, err error) {
	st, err := store.Open(ctx, driver, dsn)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer st.Close()
	root, _ := testenv.RepoRoot()
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "demo", Dir: filepath.Join(root, "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{Log: log})
	r.RefreshAll(ctx)
	books, _ := runbooks.Open(filepath.Join(root, "runbooks"))
	srv := httptest.NewServer(server.New(server.Deps{Catalog: r, Runbooks: books, DB: st, Log: log, Anonymous: true, Pipelines: st,
		PipelineSecrets: server.PipelineSecrets{GitHub: []string{"bench-secret"}}}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 10 * time.Second}

	total := int(dur.Seconds()) * rate
	bodies := make([][]byte, total)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range bodies {
		run, job := i/10, i%10 // 10 job updates per run: queued, running, done for a few jobs
		status := []string{"queued", "in_progress", "completed"}[i%3]
		bodies[i] = []byte(fmt.Sprintf(`{"action":"%s","workflow_job":{"id":%d,"run_id":%d,"name":"job %d","head_sha":"%040x","head_branch":"main","status":"%s","conclusion":"success",`+
			`"created_at":"%s","started_at":"%s","completed_at":null,"html_url":"https://github.com/acme/svc/actions/runs/%d/job/%d","workflow_name":"ci"},"repository":{"full_name":"acme/svc-%d"}}`,
			status, 1000000+run*10+job/3, 5000+run, job/3, run, status, t0.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano),
			t0.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), 5000+run, job, run%50))
	}
	lat := make([]time.Duration, total)
	var failures atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		next := start.Add(time.Duration(i) * interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", bytes.NewReader(bodies[i]))
			req.Header.Set("X-GitHub-Event", "workflow_job")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
			req.Header.Set("X-Hub-Signature-256", ingest.Sign("bench-secret", bodies[i]))
			t := time.Now()
			res, err := client.Do(req)
			lat[i] = time.Since(t)
			if err != nil {
				failures.Add(1)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				failures.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		return 0, 0, total, 0, fmt.Errorf("%d deliveries were not acknowledged", f)
	}
	slices.Sort(lat)
	n, err := st.CountDeliveries(ctx)
	return lat[total*99/100], lat[total/2], total, n, err
}
