package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// scaleBench shows how one replica's cost grows: the runtime view at 5,000, 20,000 and 50,000
// pods in one cluster and at 10 clusters, and the catalog at 10,000, 50,000 and 100,000
// entities on SQLite and PostgreSQL.
func scaleBench(ctx context.Context, dir, only string, log *slog.Logger) ([]row, error) {
	var rows []row
	if only != "scale-cluster" {
		r, err := catalogScale(ctx, dir, log)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		rows = append(rows, r...)
	}
	if only != "scale-catalog" {
		r, err := clusterScale(ctx, dir, log)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// catalogScale ingests each size into a fresh database, and reports the ingest, the heap per
// entity, a replica's reload of the stored catalog (what a follower does on each change) and
// the list with search and facets against the trivial handler, open loop.
func catalogScale(ctx context.Context, dir string, log *slog.Logger) ([]row, error) {
	fmt.Fprintln(os.Stderr, "scale: starting PostgreSQL…")
	pg, err := testenv.StartPostgresServer()
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	var rows []row
	for _, n := range []int{10_000, 50_000, 100_000} {
		fmt.Fprintf(os.Stderr, "scale: generating %d entities in %d files…\n", n, n/5)
		catDir, err := generateCatalog(dir, n/5)
		if err != nil {
			return nil, err
		}
		for _, db := range []struct{ driver, dsn string }{{"sqlite", filepath.Join(dir, fmt.Sprintf("scale-%d.db", n))}, {"postgres", pg.DSN}} {
			if db.driver == "postgres" {
				if db.dsn, err = pg.Database(ctx, fmt.Sprintf("scale_%d", n)); err != nil {
					return nil, err
				}
			}
			fmt.Fprintf(os.Stderr, "scale: %s, %d entities: ingest…\n", db.driver, n)
			before := heap()
			env, took, err := ingestN(ctx, db.driver, db.dsn, catDir, n, log)
			if err != nil {
				return nil, err
			}
			perEntity := float64(heap()-before) / float64(n)
			reload, err := followerReload(ctx, db.driver, db.dsn, n, log)
			if err != nil {
				env.close()
				return nil, err
			}
			m := mix{rate: 200, warmup: 2 * time.Second, window: 8 * time.Second, kinds: []string{"trivial", "list"},
				target: func(kind string, i int) string {
					if kind == "trivial" {
						return env.url + "/healthz"
					}
					return listURL(env.url, i)
				}}
			got, err := m.run()
			env.close()
			if err != nil {
				return nil, err
			}
			list, floor := got["list"], got["trivial"]
			size := fmt.Sprintf("%dk entities", n/1000)
			rows = append(rows,
				row{name: "catalog at " + size + ": ingest", db: db.driver, value: took.Round(time.Millisecond).String(),
					budget: budgetIf(n == 100_000, "≤ 30s"), ok: n < 100_000 || took <= 30*time.Second},
				row{name: "catalog at " + size + ": heap per entity", db: db.driver, value: fmt.Sprintf("%.1f KB", perEntity/1024), budget: "report", ok: true},
				row{name: "catalog at " + size + ": a replica reloads the stored catalog", db: db.driver, value: reload.Round(time.Millisecond).String(), budget: "report", ok: true},
				row{name: fmt.Sprintf("catalog at %s: list+search+facets p99 (%s)", size, m.label()), db: db.driver,
					value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(list.p99), ms(list.p50), list.n), budget: budgetIf(n == 100_000, "≤ 50ms"),
					ratio: fmt.Sprintf("%.1f× trivial (%s)", float64(list.p99)/float64(floor.p99), ms(floor.p99)), ok: n < 100_000 || list.p99 <= 50*time.Millisecond})
		}
	}
	return rows, nil
}

// followerReload times what a replica that does not lead does when the catalog changes:
// read the whole stored catalog and publish it.
func followerReload(ctx context.Context, driver, dsn string, want int, log *slog.Logger) (time.Duration, error) {
	st, err := store.Open(ctx, driver, dsn)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	r := ingest.NewRefresher(st, nil, ingest.Options{Log: log})
	start := time.Now()
	if err := r.Reload(ctx); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if got := r.Snapshot().Len(); got != want {
		return 0, fmt.Errorf("reloaded %d entities, want %d", got, want)
	}
	return took, nil
}

func budgetIf(cond bool, budget string) string {
	if cond {
		return budget
	}
	return "report"
}

// clusterScale grows one control plane's services (20 pods each) to 5,000, 20,000 and 50,000
// pods; at each size a fresh set of caches syncs (timed), its heap per pod is read once kwok
// has written every pod's status, and the runtime view is measured against the trivial
// handler. At 5,000 pods the same API server is also watched as 10 clusters: the portal's
// side of 10 clusters (10 sets of caches, every view across 10).
func clusterScale(ctx context.Context, dir string, log *slog.Logger) ([]row, error) {
	fmt.Fprintln(os.Stderr, "scale: starting a control plane…")
	c, err := startControlPlane(ctx, filepath.Join(dir, "scale-cluster"), "scale", 3, snapshotControllers)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 5000, 10000
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := benchNamespacesIn(ctx, admin); err != nil {
		return nil, err
	}
	var rows []row
	created := 0
	for _, services := range []int{250, 1000, 2500} {
		pods := services * podsPerService
		t0 := time.Now()
		if err := populateServices(ctx, admin, "scale", 3, created, services); err != nil {
			return nil, err
		}
		created = services
		fmt.Fprintf(os.Stderr, "scale: %d pods created in %s\n", pods, time.Since(t0).Round(time.Second))
		clusterCounts := []int{1}
		if services == 250 {
			clusterCounts = append(clusterCounts, 10)
		}
		for _, n := range clusterCounts {
			r, err := runtimeAtSize(ctx, dir, c.PortalKubeconfig, services, n, log)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r...)
		}
	}
	return rows, nil
}

// runtimeAtSize syncs caches of the cluster watched as clusters clusters, and measures them.
func runtimeAtSize(ctx context.Context, dir, kubeconfig string, services, clusters int, log *slog.Logger) ([]row, error) {
	pods := services * podsPerService
	var cfgs []cluster.Config
	for i := range clusters {
		cfgs = append(cfgs, cluster.Config{Name: fmt.Sprintf("c%d", i), Kubeconfig: kubeconfig})
	}
	label := fmt.Sprintf("%dk pods", pods/1000)
	if clusters > 1 {
		label = fmt.Sprintf("%d clusters × %dk pods", clusters, pods/1000)
	}
	fmt.Fprintf(os.Stderr, "scale: %s: syncing caches…\n", label)
	before := heap()
	start := time.Now()
	m, err := cluster.NewManager(cfgs, log)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.Start(mctx)
	for _, cl := range m.Clusters() {
		if !cl.WaitSynced(ctx) {
			return nil, fmt.Errorf("%s: caches did not sync", label)
		}
	}
	synced := time.Since(start)
	// Heap and latency once kwok has made every pod Running (its status writes done).
	for deadline := time.Now().Add(10 * time.Minute); m.Clusters()[0].Overview().PodsByPhase["Running"] < pods; {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: pods not Running after 10 minutes", label)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	time.Sleep(3 * time.Second)
	perPod := float64(heap()-before) / float64(pods*clusters)
	_, portal, err := benchPortalOf(ctx, dir, fmt.Sprintf("scale-%d-%d", services, clusters), services, m, log)
	if err != nil {
		return nil, err
	}
	defer portal.Close()
	mx := mix{rate: 60, warmup: 2 * time.Second, window: 10 * time.Second, kinds: []string{"trivial", "runtime"},
		target: func(kind string, i int) string {
			if kind == "trivial" {
				return portal.URL + "/healthz"
			}
			return fmt.Sprintf("%s/api/v1/entities/component/default/svc-%d/runtime", portal.URL, rand.IntN(services))
		}}
	got, err := mx.run()
	if err != nil {
		return nil, err
	}
	rt, floor := got["runtime"], got["trivial"]
	at50k := pods == 50_000 && clusters == 1
	return []row{
		{name: "runtime at " + label + ": caches synced", db: "-", value: synced.Round(time.Millisecond).String(),
			budget: budgetIf(at50k, "≤ 30s"), ok: !at50k || synced <= 30*time.Second},
		{name: "runtime at " + label + ": heap per cached pod", db: "-", value: fmt.Sprintf("%.2f KB", perPod/1024),
			budget: budgetIf(at50k, "≤ 4 KB"), ok: !at50k || perPod <= 4096},
		{name: fmt.Sprintf("runtime at %s: runtime view p99 (%s)", label, mx.label()), db: "-",
			value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(rt.p99), ms(rt.p50), rt.n), budget: "report",
			ratio: fmt.Sprintf("%.1f× trivial (%s)", float64(rt.p99)/float64(floor.p99), ms(floor.p99)), ok: true},
	}, nil
}
