// Command portico-bench measures the numbers the foundation promises and prints them as a
// table, each against its budget and, for latency, as a ratio to a trivial handler measured in
// the same run: ingesting 10,000 entities from 2,000 files, the catalog list with search and
// facets at 20 concurrent clients, and a git push webhook until the change is visible. It runs
// against SQLite and a real PostgreSQL server it starts itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-dev/portico/internal/testenv"
)

func main() {
	requests := flag.Int("requests", 4000, "requests per latency measurement")
	clients := flag.Int("clients", 20, "concurrent clients")
	only := flag.String("only", "", "run one part: catalog, views, cluster (with scorecards), access, observe, triage, pipelines, failover, scale (scale-catalog, scale-cluster: one half) or platform (default all)")
	flag.Parse()
	if err := run(*requests, *clients, *only); err != nil {
		fmt.Fprintln(os.Stderr, "portico-bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name, db, value, budget, ratio string
	ok                             bool
}

func run(requests, clients int, only string) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "portico-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer testenv.StopAll() // the demo stack, shared by the observe and triage parts
	var rows []row
	if only == "" || only == "catalog" {
		r, err := catalogBench(ctx, dir, requests, clients, log)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if only == "" || only == "views" {
		r, err := viewsBench(ctx, dir, log)
		if err != nil {
			return fmt.Errorf("views: %w", err)
		}
		rows = append(rows, r...)
	}
	if only == "" || only == "cluster" {
		r, err := clusterBench(ctx, dir, requests, clients, log)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		rows = append(rows, r...)
	}
	if only == "" || only == "observe" {
		r, err := observeBench(ctx, dir, requests, clients, log)
		if err != nil {
			return fmt.Errorf("observe: %w", err)
		}
		rows = append(rows, r...)
	}
	if only == "" || only == "triage" {
		r, err := triageBench(ctx, dir, requests, clients, log)
		if err != nil {
			return fmt.Errorf("triage: %w", err)
		}
		rows = append(rows, r...)
	}
	// The demo stack (control plane, kwok, Prometheus, Jaeger, demo traffic) served the
	// observe and triage parts; left running it would compete for the two cores with the
	// parts after it, which measure nothing of it.
	testenv.StopAll()
	if only == "" || only == "pipelines" {
		r, err := pipelinesBench(ctx, dir, log)
		if err != nil {
			return fmt.Errorf("pipelines: %w", err)
		}
		rows = append(rows, r...)
	}
	if only == "" || strings.HasPrefix(only, "scale") {
		r, err := scaleBench(ctx, dir, only, log)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		rows = append(rows, r...)
	}
	if only == "" || only == "failover" {
		r, err := failoverBench(ctx, dir)
		if err != nil {
			return fmt.Errorf("failover: %w", err)
		}
		rows = append(rows, r...)
	}
	if only == "" || only == "platform" {
		rows = append(rows, reachBench()...)
	}
	if only == "" || only == "access" {
		r, err := accessBench(ctx, dir, log)
		if err != nil {
			return fmt.Errorf("access: %w", err)
		}
		rows = append(rows, r...)
	}
	return printRows(rows)
}

func catalogBench(ctx context.Context, dir string, requests, clients int, log *slog.Logger) ([]row, error) {
	fmt.Fprintln(os.Stderr, "generating 10,000 entities in 2,000 files…")
	catalogDir, err := generateCatalog(dir, 2000)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "starting PostgreSQL…")
	pgDSN, stopPG, err := testenv.StartPostgres()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	defer stopPG()

	var rows []row
	for _, db := range []struct{ driver, dsn string }{{"sqlite", dir + "/bench.db"}, {"postgres", pgDSN}} {
		fmt.Fprintf(os.Stderr, "%s: ingest…\n", db.driver)
		env, took, err := ingestCatalog(ctx, db.driver, db.dsn, catalogDir, log)
		if err != nil {
			return nil, fmt.Errorf("%s ingest: %w", db.driver, err)
		}
		rows = append(rows, row{name: "ingest 10,000 entities / 2,000 files", db: db.driver,
			value: took.Round(time.Millisecond).String(), budget: "≤ 10s", ok: took <= 10*time.Second})

		// The trivial handler, the list and the scoped viewer's list, interleaved in one window.
		m := mix{rate: 300, warmup: 2 * time.Second, window: 10 * time.Second, kinds: []string{"trivial", "list", "scoped"},
			target: func(kind string, i int) string {
				switch kind {
				case "trivial":
					return env.url + "/healthz"
				case "scoped":
					return listURL(env.scopedURL, i)
				}
				return listURL(env.url, i)
			}}
		fmt.Fprintf(os.Stderr, "%s: catalog list, scoped list and trivial handler, %s…\n", db.driver, m.label())
		got, err := m.run()
		env.close()
		if err != nil {
			return nil, err
		}
		base, list, scoped := got["trivial"], got["list"], got["scoped"]
		rows = append(rows, row{name: fmt.Sprintf("trivial handler p99 (%s, interleaved)", m.label()), db: db.driver,
			value: fmt.Sprintf("%s (n=%d)", ms(base.p99), base.n), budget: "baseline", ok: true})
		rows = append(rows, row{name: fmt.Sprintf("catalog list+search+facets p99 (%s)", m.label()), db: db.driver,
			value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(list.p99), ms(list.p50), list.n), budget: "≤ 50ms",
			ratio: fmt.Sprintf("%.1f× trivial", float64(list.p99)/float64(base.p99)), ok: list.p99 <= 50*time.Millisecond})
		rows = append(rows, row{name: fmt.Sprintf("catalog list, viewer scoped to a system p99 (%s)", m.label()), db: db.driver,
			value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(scoped.p99), ms(scoped.p50), scoped.n), budget: "≤ 1.5× unscoped list",
			ratio: fmt.Sprintf("%.2f× unscoped list", float64(scoped.p99)/float64(list.p99)), ok: float64(scoped.p99) <= 1.5*float64(list.p99)})
	}
	fmt.Fprintln(os.Stderr, "webhook push → visible…")
	worst, err := pushToVisible(ctx, dir, log)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	rows = append(rows, row{name: "webhook push → entity visible (worst of 5)", db: "sqlite", value: ms(worst), budget: "≤ 5s", ok: worst <= 5*time.Second})
	return rows, nil
}

func printRows(rows []row) error {

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tdatabase\tresult\tbudget\tratio\tverdict")
	failed := false
	for _, r := range rows {
		verdict := "ok"
		if !r.ok {
			verdict, failed = "OVER BUDGET", true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.db, r.value, r.budget, r.ratio, verdict)
	}
	tw.Flush()
	if failed {
		return fmt.Errorf("a measure is over its budget")
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
