package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestReplicasShareOneDatabase runs two portal processes on one PostgreSQL behind a
// round-robin balancer, with 20 clients reading through it. The one holding the Lease reads
// the catalog's sources; the other serves what it stored, and hears of CI deliveries posted
// to its sibling (an SSE client on it is told). Then the leader is killed: no request fails
// beyond those in flight on it, the survivor takes the Lease and the background work over,
// and its SSE client still hears a delivery posted to it.
func TestReplicasShareOneDatabase(t *testing.T) {
	c := testenv.Cluster(t)
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	cat := t.TempDir()
	writeEntity := func(name string) {
		t.Helper()
		doc := fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: %s
  annotations: {github.com/project-slug: acme/%s}
spec: {type: service, lifecycle: production, owner: team-payments}
`, name, name)
		if err := os.WriteFile(filepath.Join(cat, name+".yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeEntity("ledger")
	writeEntity("payments-api")
	const leaseDuration = 6 * time.Second
	lease := fmt.Sprintf("portico-ha-%d", os.Getpid())
	cfg := fmt.Sprintf(`database: {driver: postgres}
catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["*.yaml"]}]
  refreshInterval: 2s
clusters:
  - {name: east, environment: staging, kubeconfig: %q}
pipelines:
  generic: {secrets: [ha-secret]}
highAvailability: {enabled: true, cluster: east, namespace: %s, leaseName: %s, leaseDuration: %s, renewDeadline: 4s, retryPeriod: 400ms}
`, cat, c.PortalKubeconfig, devstack.PortalNamespace, lease, leaseDuration)
	env := []string{"PORTICO_DATABASE_DSN=" + dsn}
	first := testenv.StartPortalWithConfig(t, cfg, env...)
	second := testenv.StartPortalWithConfig(t, cfg, env...)
	portals := []*testenv.Portal{first, second}

	// One leads (the first: it was alone when it started); the other follows.
	leaderIdx := waitForLeader(t, portals, time.Minute)
	survivor := portals[1-leaderIdx]
	if testenv.Leads(survivor.URL) {
		t.Fatal("both replicas lead")
	}

	// The follower serves the catalog the leader stores, a new entity included.
	writeEntity("fx-rates")
	waitFor(t, time.Minute, "the follower shows the entity the leader read", func() bool {
		status, body := get(survivor.URL + "/api/v1/entities?kind=component")
		return status == http.StatusOK && strings.Contains(body, `"fx-rates"`)
	})

	// An SSE client on the follower hears a CI delivery posted to the leader.
	events := subscribe(t, ctx, survivor.URL+"/catalog/component/default/ledger/pipelines/events")
	postDelivery(t, portals[leaderIdx].URL, "1")
	expectEvent(t, events, "a delivery posted to the leader, on the follower's SSE stream")

	// Twenty clients read through the balancer while the leader is killed.
	lb, err := testenv.NewRoundRobin(first.URL, second.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	var clientErrors atomic.Int64
	var errorsSeen sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pages := []string{"/", "/catalog", "/api/v1/entities", "/catalog/component/default/ledger", "/healthz"}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 30 * time.Second}
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := cl.Get(lb.URL + pages[n%len(pages)])
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if err != nil {
					clientErrors.Add(1)
					errorsSeen.Store(err.Error(), true)
				} else if res.StatusCode >= 500 {
					clientErrors.Add(1)
					errorsSeen.Store(res.Status, true)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	st, err := store.Open(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	peak := lb.WatchInFlight(leaderIdx)
	killed := time.Now()
	portals[leaderIdx].Kill()
	inFlight := peak()

	// The survivor takes the Lease over and reads the sources again.
	took := waitFor(t, 3*leaseDuration+10*time.Second, "the survivor leads", func() bool { return testenv.Leads(survivor.URL) })
	waitFor(t, 3*leaseDuration+10*time.Second, "the survivor refreshes the catalog", func() bool {
		stored, err := st.Load(ctx)
		// After the kill, only the survivor can have read it.
		return err == nil && len(stored.Sources) == 1 && stored.Sources[0].RefreshedAt.After(killed)
	})
	resumed := time.Since(killed)
	t.Logf("leader killed: the survivor led after %s and refreshed the catalog %s after the kill (Lease %s)",
		took.Round(10*time.Millisecond), resumed.Round(10*time.Millisecond), leaseDuration)
	time.Sleep(2 * time.Second) // the clients go on against the survivor alone
	close(stop)
	wg.Wait()

	if f := lb.Failed(1 - leaderIdx); f > 0 {
		t.Errorf("%d requests failed on the survivor", f)
	}
	if f := lb.Failed(leaderIdx); f > inFlight {
		t.Errorf("%d requests failed on the killed replica, more than the %d in flight on it when it died", f, inFlight)
	}
	if n := clientErrors.Load(); n > lb.Failed(leaderIdx) {
		errorsSeen.Range(func(k, _ any) bool { t.Log("client saw: ", k); return true })
		t.Errorf("clients saw %d failed requests; the balancer counted %d, on the killed replica", n, lb.Failed(leaderIdx))
	}
	if lb.Served(1-leaderIdx) == 0 || lb.Served(leaderIdx) == 0 {
		t.Errorf("the balancer did not spread the load: served %d and %d", lb.Served(0), lb.Served(1))
	}
	t.Logf("through the balancer: %d and %d served, %d failed on the killed replica (%d in flight on it when it died)",
		lb.Served(leaderIdx), lb.Served(1-leaderIdx), lb.Failed(leaderIdx), inFlight)

	// The survivor's SSE client hears a delivery posted to the survivor.
	postDelivery(t, survivor.URL, "2")
	expectEvent(t, events, "a delivery posted to the survivor, on its SSE stream")

	// The killed replica comes back as a follower; a graceful stop of the leader hands the
	// Lease over (released, not left to expire) and the other takes the work.
	killedOne := portals[leaderIdx]
	killedOne.Restart(t)
	admin, err := c.Admin()
	if err != nil {
		t.Fatal(err)
	}
	held, err := admin.CoordinationV1().Leases(devstack.PortalNamespace).Get(ctx, lease, metav1.GetOptions{})
	if err != nil || held.Spec.HolderIdentity == nil || *held.Spec.HolderIdentity == "" {
		t.Fatalf("the Lease before the graceful stop: %+v %v", held, err)
	}
	holder := *held.Spec.HolderIdentity
	survivor.Stop()
	after, err := admin.CoordinationV1().Leases(devstack.PortalNamespace).Get(ctx, lease, metav1.GetOptions{})
	if err != nil || (after.Spec.HolderIdentity != nil && *after.Spec.HolderIdentity == holder) {
		t.Errorf("after a graceful stop the Lease is still held by the stopped replica %s (%v)", holder, err)
	}
	waitFor(t, 3*leaseDuration, "the restarted replica leads", func() bool { return testenv.Leads(killedOne.URL) })
}

func waitForLeader(t *testing.T, portals []*testenv.Portal, within time.Duration) int {
	t.Helper()
	idx := -1
	waitFor(t, within, "a replica leads", func() bool {
		for i, p := range portals {
			if testenv.Leads(p.URL) {
				idx = i
				return true
			}
		}
		return false
	})
	return idx
}

// waitFor polls ok every 100 ms until it holds, and returns how long that took.
func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > within {
			t.Fatalf("after %s: not yet %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

func get(url string) (int, string) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// postDelivery posts a signed generic CI delivery for acme/ledger.
func postDelivery(t *testing.T, base, run string) {
	t.Helper()
	body := []byte(`{"source": "jenkins", "project": "acme/ledger", "timestamp": "2026-12-01T10:00:00Z", "run": {"id": "` + run + `", "name": "ledger-ci",
		"status": "running", "commit": "` + strings.Repeat("d", 40) + `", "branch": "main"}, "stages": [{"name": "unit tests", "status": "running"}]}`)
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/pipeline", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Portico-Signature-256", ingest.Sign("ha-secret", body))
	req.Header.Set("X-Portico-Delivery", "ha-delivery-"+run)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("CI delivery to %s: %d %s", base, res.StatusCode, b)
	}
}

// subscribe opens an SSE stream and sends each event's name on the channel.
func subscribe(t *testing.T, ctx context.Context, url string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SSE %s: %d", url, res.StatusCode)
	}
	t.Cleanup(func() { res.Body.Close() })
	out := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				out <- name
			}
		}
	}()
	return out
}

func expectEvent(t *testing.T, events <-chan string, what string) {
	t.Helper()
	select {
	case name := <-events:
		if name != "changed" {
			t.Fatalf("%s: event %q", what, name)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no event within 20 s: %s", what)
	}
}
