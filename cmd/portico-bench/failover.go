package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// failoverKills is how often the failover part kills the leader.
const failoverKills = 3

// failoverBench runs two portal processes on one PostgreSQL, electing their leader on a Lease
// in a real control plane with the chart's default timings, while 20 clients read the demo
// catalog through a round-robin balancer. It kills the leader (SIGKILL) three times, starting
// the killed one again as a follower each time, and reports the worst time until the survivor
// led and until it had refreshed the catalog, against the Lease's duration + 2 s, and the
// requests that failed against those in flight on the killed process.
func failoverBench(ctx context.Context, dir string) ([]row, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "failover: a control plane, PostgreSQL and two portal processes…")
	c, err := startControlPlane(ctx, filepath.Join(dir, "failover"), "failover", 1, "")
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	pg, err := testenv.StartPostgresServer()
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	bin := filepath.Join(dir, "portico")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/portico")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the portal: %v\n%s", err, out)
	}
	const lease, renew, retry = 15 * time.Second, 10 * time.Second, 400 * time.Millisecond // the defaults
	cfg := fmt.Sprintf(`database: {driver: postgres}
catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["**/*.yaml"]}]
runbooks: {dir: %q}
clusters:
  - {name: failover, environment: production, kubeconfig: %q}
highAvailability: {enabled: true, cluster: failover, namespace: %s, leaseName: portico, leaseDuration: %s, renewDeadline: %s, retryPeriod: %s}
`, filepath.Join(root, "catalog"), filepath.Join(root, "runbooks"), c.PortalKubeconfig, devstack.PortalNamespace, lease, renew, retry)
	var portals []*testenv.Portal
	for i := range 2 {
		d := filepath.Join(dir, fmt.Sprintf("replica-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		p, err := testenv.LaunchPortal(bin, d, cfg, "PORTICO_DATABASE_DSN="+pg.DSN)
		if err != nil {
			return nil, err
		}
		defer p.Stop()
		portals = append(portals, p)
	}
	st, err := store.Open(ctx, "postgres", pg.DSN)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	lb, err := testenv.NewRoundRobin(portals[0].URL, portals[1].URL)
	if err != nil {
		return nil, err
	}
	defer lb.Close()

	// Twenty clients read through the balancer for the whole part.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pages := []string{"/", "/catalog", "/api/v1/entities", "/catalog/component/default/payment", "/teams"}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 30 * time.Second}
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if res, err := cl.Get(lb.URL + pages[n%len(pages)]); err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	var worstLead, worstResume time.Duration
	var worstExcess int64 = -1 << 62
	var failedAll, inFlightAll int64
	for round := range failoverKills {
		leader, err := leaderOf(portals, 2*lease)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round+1, err)
		}
		time.Sleep(3 * time.Second) // load on both
		survivor := portals[1-leader]
		failedBefore, survivorBefore := lb.Failed(leader), lb.Failed(1-leader)
		peak := lb.WatchInFlight(leader)
		killed := time.Now()
		portals[leader].Kill()
		inFlight := peak()
		var led, resumed time.Duration
		for led == 0 || resumed == 0 {
			if time.Since(killed) > 3*lease {
				return nil, fmt.Errorf("round %d: the survivor did not take over within %s", round+1, 3*lease)
			}
			if led == 0 && testenv.Leads(survivor.URL) {
				led = time.Since(killed)
			}
			if stored, err := st.Load(ctx); resumed == 0 && err == nil && len(stored.Sources) == 1 && stored.Sources[0].RefreshedAt.After(killed) {
				resumed = time.Since(killed)
			}
			time.Sleep(50 * time.Millisecond)
		}
		failed := lb.Failed(leader) - failedBefore
		fmt.Fprintf(os.Stderr, "failover: kill %d: led after %s, catalog refreshed after %s; %d requests failed, %d were in flight\n",
			round+1, led.Round(10*time.Millisecond), resumed.Round(10*time.Millisecond), failed, inFlight)
		worstLead, worstResume = max(worstLead, led), max(worstResume, resumed)
		worstExcess = max(worstExcess, failed-inFlight)
		failedAll, inFlightAll = failedAll+failed, inFlightAll+inFlight
		if n := lb.Failed(1-leader) - survivorBefore; n > 0 {
			return nil, fmt.Errorf("round %d: %d requests failed on the survivor", round+1, n)
		}
		if err := portals[leader].Relaunch(); err != nil { // back, as a follower
			return nil, err
		}
	}
	// A graceful stop (a rolling upgrade's SIGTERM) releases the Lease: the other takes over
	// at its next try, not after the Lease's duration.
	leader, err := leaderOf(portals, 2*lease)
	if err != nil {
		return nil, fmt.Errorf("after the kills: %w", err)
	}
	failedBefore := lb.Failed(0) + lb.Failed(1)
	stopped := time.Now()
	portals[leader].Stop()
	var handover time.Duration
	for !testenv.Leads(portals[1-leader].URL) {
		if time.Since(stopped) > 3*lease {
			return nil, fmt.Errorf("after a graceful stop the other replica did not lead within %s", 3*lease)
		}
		time.Sleep(20 * time.Millisecond)
	}
	handover = time.Since(stopped)
	time.Sleep(time.Second)
	gracefulFailed := lb.Failed(0) + lb.Failed(1) - failedBefore
	fmt.Fprintf(os.Stderr, "failover: graceful stop: the other led after %s; %d requests failed\n", handover.Round(10*time.Millisecond), gracefulFailed)
	budget := lease + 2*time.Second
	return []row{
		{name: "failover: graceful stop (SIGTERM) hands the Lease over, the other leads after", db: "postgres",
			value: fmt.Sprintf("%s, %d requests failed", handover.Round(10*time.Millisecond), gracefulFailed), budget: "≤ 2s, none failed",
			ratio: fmt.Sprintf("%.2f× the Lease", float64(handover)/float64(lease)), ok: handover <= 2*time.Second && gracefulFailed == 0},
		{name: fmt.Sprintf("failover: the survivor leads, worst of %d leader kills (Lease %s, 20 clients)", failoverKills, lease), db: "postgres",
			value: worstLead.Round(10 * time.Millisecond).String(), budget: "≤ Lease + 2s", ratio: fmt.Sprintf("%.2f× the Lease", float64(worstLead)/float64(lease)), ok: worstLead <= budget},
		{name: fmt.Sprintf("failover: background work resumed (catalog refreshed), worst of %d", failoverKills), db: "postgres",
			value: worstResume.Round(10 * time.Millisecond).String(), budget: "≤ Lease + 2s", ratio: fmt.Sprintf("%.2f× the Lease", float64(worstResume)/float64(lease)), ok: worstResume <= budget},
		{name: fmt.Sprintf("failover: requests failed over %d kills (balancer, 20 clients)", failoverKills), db: "postgres",
			value: fmt.Sprintf("%d failed, %d in flight on the killed", failedAll, inFlightAll), budget: "≤ those in flight", ok: worstExcess <= 0},
	}, nil
}

// leaderOf is the index of the portal that leads, waiting up to within for one to.
func leaderOf(portals []*testenv.Portal, within time.Duration) (int, error) {
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		for i, p := range portals {
			if testenv.Leads(p.URL) {
				return i, nil
			}
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("no replica leads after %s", within)
		}
	}
}
