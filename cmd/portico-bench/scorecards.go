package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/scorecard"
)

// benchChecks are the built-in checks and three of a platform team's own: 30 in all.
func benchChecks() *scorecard.Set {
	checks := append(scorecard.Builtin(),
		scorecard.Check{ID: "tier-tag", Title: "Tagged with its tier", Level: "bronze", Expr: "entity.?metadata.?tags.orValue([]).exists(t, t.startsWith('tier-'))", Source: "bench"},
		scorecard.Check{ID: "team-label", Title: "Workloads labelled with the team", Level: "silver", Applies: "size(workloads) > 0",
			Expr: "workloads.filter(w, w.metadata.?labels[?'team'].orValue('') == '').map(w, w.metadata.name)", Source: "bench"},
		scorecard.Check{ID: "no-latest", Title: "No :latest images", Level: "bronze", Applies: "size(workloads) > 0",
			Expr: "workloads.map(w, w.spec.template.spec.containers.filter(c, c.image.endsWith(':latest')).map(c, c.image)).flatten()", Source: "bench"})
	set, err := scorecard.Compile(checks, nil)
	if err != nil {
		panic(err)
	}
	return set
}

// scorecardsBench measures the scorecards on the cluster bench's 1,000 services and 20,000
// pods: the scoreboard filled from cold (every service's facts gathered from the caches and
// 30 checks evaluated) against gathering the facts alone, the heap the cards hold, a change
// to a Deployment until the open page is told, and the scorecards page at 20 clients against
// the trivial handler.
func scorecardsBench(ctx context.Context, dir string, admin kubernetes.Interface, m *cluster.Manager, clients int, log *slog.Logger) ([]row, error) {
	set := benchChecks()
	// The baseline: reading every service's objects from the caches, no check run.
	start := time.Now()
	for i := 0; i < benchServices; i++ {
		q, _, _ := cluster.QueryFor(map[string]string{cluster.AnnotationID: fmt.Sprintf("svc-%d", i), cluster.AnnotationNamespace: fmt.Sprintf("team-%d", i%benchNamespaces)})
		_ = m.Objects(q, false)
	}
	gather := time.Since(start)

	heapBefore := heap()
	srv, portal, err := benchPortal(ctx, dir, "scorecards", m, log)
	if err != nil {
		return nil, err
	}
	defer portal.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start = time.Now()
	go srv.RunScorecards(sctx)
	for srv.ScoredServices() < benchServices {
		if time.Since(start) > time.Minute {
			return nil, fmt.Errorf("only %d of %d services scored after a minute", srv.ScoredServices(), benchServices)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cold := time.Since(start)
	cardsHeap := float64(heap()-heapBefore) / (1 << 20)

	fmt.Fprintln(os.Stderr, "scorecards: Deployment change → the open page told, 20 changes…")
	change, err := scoreChange(ctx, admin, portal.URL)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "scorecards: the page and the trivial handler, open loop 200/s…")
	queries := []string{"level=none&lifecycle=production"}
	for i := 0; i < benchNamespaces; i++ {
		queries = append(queries, url.Values{"team": {fmt.Sprintf("group:default/team-%d", i)}}.Encode())
	}
	for i := 1; i <= 20; i++ {
		queries = append(queries, fmt.Sprintf("page=%d", i))
	}
	// Afresh: each query's first asking computes the page (later ones share it until a card
	// changes); the slowest of them, one at a time.
	var afresh time.Duration
	for _, q := range queries {
		t0 := time.Now()
		fetch(portal.URL + "/scorecards?" + q)
		afresh = max(afresh, time.Since(t0))
	}
	sm := mix{rate: 200, warmup: 2 * time.Second, window: 10 * time.Second, kinds: []string{"trivial", "page"},
		target: func(kind string, i int) string {
			if kind == "trivial" {
				return portal.URL + "/healthz"
			}
			return portal.URL + "/scorecards?" + queries[rand.IntN(len(queries))]
		}}
	got, err := sm.run()
	if err != nil {
		return nil, err
	}
	trivial, page := got["trivial"].percentiles, got["page"]
	return []row{
		{name: fmt.Sprintf("scorecards: 1,000 services × %d checks from cold", len(set.Checks())), db: "-", value: ms(cold), budget: "≤ 1s",
			ratio: fmt.Sprintf("%.1f× reading their objects alone (%s)", float64(cold)/float64(gather), ms(gather)), ok: cold <= time.Second},
		{name: "scorecards: heap of 1,000 cards", db: "-", value: fmt.Sprintf("%.1f MB", cardsHeap), budget: "≤ 50 MB", ok: cardsHeap <= 50},
		{name: "scorecards: Deployment change → page told p95 (20 changes)", db: "-", value: ms(change), budget: "≤ 2s", ok: change <= 2*time.Second},
		{name: fmt.Sprintf("scorecards page p99, 1,000 services, %d queries (%s)", len(queries), sm.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(page.p99), ms(page.p50), page.n), budget: "≤ 100ms",
			ratio: fmt.Sprintf("%.1f× the trivial handler", float64(page.p99)/float64(max(trivial.p99, time.Microsecond))), ok: page.p99 <= 100*time.Millisecond},
		{name: "scorecards page computed afresh, slowest query alone", db: "-", value: ms(afresh), budget: "≤ 100ms",
			ratio: fmt.Sprintf("%.1f× the trivial handler", float64(afresh)/float64(max(trivial.p99, time.Microsecond))), ok: afresh <= 100*time.Millisecond},
	}, nil
}

// scoreChange adds and removes a readiness probe on svc-3 twenty times, timing each change
// until the service's open scorecard stream says the card changed.
func scoreChange(ctx context.Context, cs kubernetes.Interface, portalURL string) (time.Duration, error) {
	events, stop, err := changeEvents(ctx, portalURL+"/catalog/component/default/svc-3/scorecard/events")
	if err != nil {
		return 0, err
	}
	defer stop()
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		time.Sleep(300 * time.Millisecond)
		for len(events) > 0 {
			<-events
		}
		probe := `{"httpGet": {"path": "/readyz", "port": 8080}}`
		if i%2 == 1 {
			probe = "null"
		}
		patch := []byte(`{"spec": {"template": {"spec": {"containers": [{"name": "app", "readinessProbe": ` + probe + `}]}}}}`)
		start := time.Now()
		if _, err := cs.AppsV1().Deployments("team-3").Patch(ctx, "svc-3", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return 0, err
		}
		select {
		case got := <-events:
			lat = append(lat, got.Sub(start))
		case <-time.After(10 * time.Second):
			return 0, fmt.Errorf("change %d never reached the page", i)
		}
	}
	slices.Sort(lat)
	return lat[len(lat)*95/100-1], nil
}

// changeEvents follows a portal's SSE stream: each "changed" event's arrival time.
func changeEvents(ctx context.Context, streamURL string) (<-chan time.Time, func(), error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, streamURL, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	events := make(chan time.Time, 64)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() == "event: changed" {
				events <- time.Now()
			}
		}
	}()
	return events, func() { res.Body.Close() }, nil
}
