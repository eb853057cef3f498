package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the audit log watched at the kill
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/loadgen"
)

// A phase is one fault: injected, held, ended, then watched until the part it broke works
// again without restarting the portal (or, when the portal itself was stopped, until the new
// process serves).
type phase struct {
	name            string
	hold            time.Duration
	inject, restore func(context.Context) ([]string, error) // notes for the table
	recovered       func() bool
	// affected are the kinds of request the fault may show in (a banner, a panel message,
	// no answer while the portal is down); every other kind must answer 200 as if nothing
	// happened.
	affected []string
	// portalDown: the portal itself stops, so its goroutines and heap start over.
	portalDown bool
}

func (s *stack) phases(hold time.Duration, watcher *http.Client, startActor func() error, burst func(context.Context)) []phase {
	page := func(path string, ok func(status int, said string) bool, degraded func(string) string) func() bool {
		return func() bool { return ok(get(watcher, s.portal.URL+path, degraded)) }
	}
	clean := func(status int, said string) bool { return status == http.StatusOK && said == "" }
	pay := "/catalog/component/default/payment"
	runtimeFresh := page(pay+"/runtime", clean, staleIn("production"))
	clusterKinds := []string{"runtime panel", "workload production", "where panel", "scorecard panel", "api runtime"}
	backend := func(name string) devstack.Component { return s.backends[name] }
	kill := func(name string) func(context.Context) ([]string, error) {
		return func(context.Context) ([]string, error) { return nil, backend(name).Kill(10 * time.Second) }
	}
	restart := func(name string) func(context.Context) ([]string, error) {
		return func(ctx context.Context) ([]string, error) {
			c, err := devstack.Restart(ctx, s.dir, backend(name), 60*time.Second)
			s.backends[name] = c
			return nil, err
		}
	}
	signal := func(name string, sig syscall.Signal) func(context.Context) ([]string, error) {
		return func(context.Context) ([]string, error) { return nil, backend(name).Signal(sig) }
	}
	portalServes := page("/catalog?q=pay", clean, unavailable)
	all := func() []string {
		var out []string
		for _, k := range kinds {
			out = append(out, k.name)
		}
		return out
	}()
	return []phase{
		{name: "steady state (no fault)", hold: hold},
		{name: "production kube-apiserver killed, then started", hold: hold, affected: clusterKinds,
			inject:  func(context.Context) ([]string, error) { s.prod.StopAPIServer(); return nil, nil },
			restore: func(ctx context.Context) ([]string, error) { return nil, s.prod.StartAPIServer(ctx) }, recovered: runtimeFresh},
		{name: "production kube-apiserver hung (SIGSTOP), then resumed", hold: hold, affected: clusterKinds,
			inject:    func(context.Context) ([]string, error) { return nil, s.prod.Signal("kube-apiserver", syscall.SIGSTOP) },
			restore:   func(context.Context) ([]string, error) { return nil, s.prod.Signal("kube-apiserver", syscall.SIGCONT) },
			recovered: runtimeFresh},
		// The alerts panel shows pending alerts from Prometheus beside Alertmanager's firing ones.
		{name: "Prometheus killed, then started", hold: hold, affected: []string{"metrics panel", "alerts panel", "scorecard panel"},
			inject: kill("prometheus"), restore: restart("prometheus"), recovered: func() bool {
				return page(pay+"/metrics?range=15m", clean, unavailable)() && page(pay+"/alerts", clean, unavailable)()
			}},
		{name: "Jaeger hung (SIGSTOP), then resumed", hold: hold, affected: []string{"traces panel", "scorecard panel"},
			inject: signal("jaeger", syscall.SIGSTOP), restore: signal("jaeger", syscall.SIGCONT), recovered: page(pay+"/traces?panel=1", clean, unavailable)},
		{name: "Alertmanager killed, then started", hold: hold, affected: []string{"alerts panel", "scorecard panel"},
			inject: kill("alertmanager"), restore: restart("alertmanager"), recovered: page(pay+"/alerts", clean, unavailable)},
		{name: "PostgreSQL restarted (immediate stop, start)", hold: hold,
			inject: func(context.Context) ([]string, error) {
				t0 := time.Now()
				err := s.pg.Restart()
				return []string{fmt.Sprintf("PostgreSQL down and up again in %s", time.Since(t0).Round(time.Millisecond))}, err
			}, recovered: portalServes},
		{name: "OIDC provider down, then started", hold: hold,
			inject: func(ctx context.Context) ([]string, error) {
				if err := s.oidc.Kill(10 * time.Second); err != nil {
					return nil, err
				}
				_, err := signedIn(s.portal.URL, s.prov, "kemi.adeyemi")
				var ue *url.Error
				if errors.As(err, &ue) {
					err = fmt.Errorf("the portal sends the browser to the provider, which does not answer (%v)", ue.Err)
				}
				return []string{fmt.Sprintf("a new sign-in while the provider is down: %v", err)}, nil
			},
			restore: func(ctx context.Context) ([]string, error) {
				c, err := devstack.Restart(ctx, s.dir, s.oidc, 30*time.Second)
				s.oidc = c
				return nil, err
			},
			recovered: func() bool { _, err := signedIn(s.portal.URL, s.prov, "kemi.adeyemi"); return err == nil }},
		{name: "portal SIGTERM during a rollout, then started", hold: 0, affected: all, portalDown: true,
			inject: func(ctx context.Context) ([]string, error) {
				if err := startActor(); err != nil {
					return nil, err
				}
				sleep(ctx, hold/2) // traffic and deploys on the running portal first
				return s.stopPortal(ctx, func() error { return s.portal.Signal(syscall.SIGTERM) })
			},
			restore: s.startPortal, recovered: portalServes},
		{name: "portal SIGKILL during a rollout, then started", hold: 0, affected: all, portalDown: true,
			inject: func(ctx context.Context) ([]string, error) {
				sleep(ctx, hold/2)
				bctx, stopBurst := context.WithCancel(ctx)
				defer stopBurst()
				burst(bctx)
				var caught string
				notes, err := s.stopPortal(ctx, func() error {
					caught = s.killMidAction(ctx)
					return nil
				})
				return append(notes, caught), err
			},
			restore: s.startPortal, recovered: portalServes},
	}
}

// stopPortal waits until a deploy is rolling out in production, stops the portal with stop
// and waits for it to exit.
func (s *stack) stopPortal(ctx context.Context, stop func() error) ([]string, error) {
	cs, err := s.prod.Admin()
	if err != nil {
		return nil, err
	}
	rolling := func() (bool, string) {
		d, err := cs.AppsV1().Deployments("payments").Get(ctx, "payment", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return inProgress(d), fmt.Sprintf("generation %d (observed %d), %d of %d replicas updated, %d available, %d in all",
			d.Generation, d.Status.ObservedGeneration, d.Status.UpdatedReplicas, *d.Spec.Replicas, d.Status.AvailableReplicas, d.Status.Replicas)
	}
	var state string
	var ok bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok, state = rolling(); ok {
			break
		}
	}
	if !ok {
		state = "none under way (" + state + ")"
	}
	t0 := time.Now()
	s.signalled = t0
	if err := stop(); err != nil {
		return nil, err
	}
	select {
	case <-s.portal.Exited():
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("the portal did not exit within 30 s")
	}
	return []string{"rollout at the signal: " + state, fmt.Sprintf("the portal exited %s after the signal", time.Since(t0).Round(time.Millisecond))}, nil
}

// killMidAction kills the portal the moment the audit log holds a deploy whose result is
// not written yet (watched straight in PostgreSQL), or after 20 s whatever it holds.
func (s *stack) killMidAction(ctx context.Context) string {
	db, err := sql.Open("pgx", s.pg.DSN)
	if err != nil {
		s.portal.Kill()
		return "could not watch the audit log: " + err.Error()
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_entries WHERE result = 'pending' AND action = 'deploy'`).Scan(&n); err == nil && n > 0 {
			s.portal.Kill()
			return fmt.Sprintf("killed with %d deploy(s) between audit intent and result", n)
		}
	}
	s.portal.Kill()
	return "killed after 20 s with no deploy between audit intent and result"
}

func inProgress(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < *d.Spec.Replicas ||
		d.Status.Replicas > d.Status.UpdatedReplicas || d.Status.AvailableReplicas < d.Status.UpdatedReplicas
}

func (s *stack) startPortal(context.Context) ([]string, error) {
	t0 := time.Now()
	if err := s.portal.Relaunch(); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("the new process was ready %s after its start, %s after the signal (requests sent while it starts wait on its listening socket, bound before it runs)",
		time.Since(t0).Round(time.Millisecond), time.Since(s.signalled).Round(time.Millisecond))}, nil
}

// report is what one phase measured.
type report struct {
	phase
	before, after runtimeStats
	recovery      time.Duration // -1: not recovered in time
	notes         []string
	results       []result
}

// print writes the phase's table and says whether the phase failed the bar.
func (r report) print(w io.Writer, i int) (failed bool) {
	fmt.Fprintf(w, "\n== phase %d: %s (fault held %s) ==\n", i, r.name, r.hold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "request\tsent\t200\t4xx\t5xx\tno answer\tp50\tp99\tthe page said")
	byKind := map[string][]result{}
	for _, res := range r.results {
		byKind[res.kind] = append(byKind[res.kind], res)
	}
	var problems []string
	for _, k := range kinds {
		rs := byKind[k.name]
		var ok, c4, c5, none int
		said := map[string]int{}
		var took []time.Duration
		for _, res := range rs {
			switch {
			case res.status == 0:
				none++
			case res.status >= 500:
				c5++
			case res.status >= 400:
				c4++
			default:
				ok++
			}
			if res.said != "" {
				said[fmt.Sprintf("%s (%d)", res.said, res.status)]++
			}
			took = append(took, res.took)
		}
		p := loadgen.PercentilesOf(took)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", k.name, len(rs), ok, c4, c5, none, ms(p.P50), ms(p.P99), summary(said))
		if c5 > 0 {
			problems = append(problems, fmt.Sprintf("%s answered %d× with a 5xx", k.name, c5))
		}
		if !slices.Contains(r.affected, k.name) && (ok != len(rs) || len(said) > 0) {
			problems = append(problems, fmt.Sprintf("%s is not touched by this fault but answered %d of %d with 200%s", k.name, ok, len(rs), saidSuffix(said)))
		}
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	switch {
	case r.recovered == nil:
	case r.recovery < 0:
		problems = append(problems, "did not recover after the fault ended")
	default:
		fmt.Fprintf(w, "recovered %s after the fault ended, without restarting the portal%s\n", r.recovery.Round(10*time.Millisecond),
			map[bool]string{true: " (the portal itself was the fault: time from its new start)", false: ""}[r.portalDown])
	}
	fmt.Fprintf(w, "goroutines %d → %d · heap in use %.1f → %.1f MB\n", r.before.goroutines, r.after.goroutines, r.before.heapMB, r.after.heapMB)
	for _, p := range problems {
		fmt.Fprintf(w, "FAILED: %s\n", p)
	}
	return len(problems) > 0
}

func summary(said map[string]int) string {
	if len(said) == 0 {
		return "-"
	}
	var out []string
	for s, n := range said {
		out = append(out, fmt.Sprintf("%s ×%d", s, n))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func saidSuffix(said map[string]int) string {
	if len(said) == 0 {
		return ""
	}
	return "; it said " + summary(said)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

type growthCheck struct {
	line string
	ok   bool
}

// growth compares the portal's goroutines and heap after the steady state with the same
// after the last phase the one process lived through. Budget: 25% (and 20 goroutines) more
// goroutines, twice the heap.
func growth(rs []report) growthCheck {
	if len(rs) < 2 {
		return growthCheck{"growth: not enough phases", false}
	}
	first := rs[0].after
	last := first
	for _, r := range rs[1:] {
		if r.portalDown {
			break
		}
		last = r.after
	}
	ok := first.ok && last.ok && float64(last.goroutines) <= 1.25*float64(first.goroutines)+20 && last.heapMB <= 2*first.heapMB
	verdict := "ok"
	if !ok {
		verdict = "OVER BUDGET"
	}
	return growthCheck{fmt.Sprintf("growth across the faults (one process): goroutines %d → %d, heap in use %.1f → %.1f MB (budget ≤ 1.25×+20, ≤ 2×): %s",
		first.goroutines, last.goroutines, first.heapMB, last.heapMB, verdict), ok}
}

// lostAuditResults waits until the portal has completed every deploy left pending by the
// stopped processes (start-up recovery judges an entry once it is old enough not to be in
// flight anywhere), then counts what is lost: entries still pending and acknowledged deploys
// the log does not hold with a result.
func lostAuditResults(ctx context.Context, base string, token func() (string, error), a *actor) (int, string) {
	a.mu.Lock() // deploys of a burst may still be answering
	defer a.mu.Unlock()
	tok, err := token() // the provider was restarted with new keys: a token from before no longer verifies
	if err != nil {
		return -1, fmt.Sprintf("audit: no token to read the log: %v", err)
	}
	type entry struct {
		ID     int    `json:"id"`
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	list := func(query string) ([]entry, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/audit?action=deploy&limit=1000"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var page struct{ Items []entry }
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("audit API: %d", res.StatusCode)
		}
		return page.Items, json.NewDecoder(res.Body).Decode(&page)
	}
	deadline := time.Now().Add(90 * time.Second)
	var pending []entry
	for {
		pending, err = list("&result=pending")
		if (err == nil && len(pending) == 0) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleep(ctx, time.Second)
	}
	if err != nil {
		return -1, fmt.Sprintf("audit: cannot read the log: %v", err)
	}
	all, err := list("")
	if err != nil {
		return -1, fmt.Sprintf("audit: cannot read the log: %v", err)
	}
	byID := map[int]entry{}
	interrupted := 0
	for _, e := range all {
		byID[e.ID] = e
		if strings.Contains(e.Error, "interrupted") {
			interrupted++
		}
	}
	lost := len(pending)
	for _, id := range a.acked {
		if e, ok := byID[id]; !ok || e.Result == "pending" {
			lost++
		}
	}
	refusals := map[string]int{}
	for _, f := range a.failed {
		refusals[f]++
	}
	return lost, fmt.Sprintf("audit: %d deploys acknowledged, %d attempts unanswered while the portal was down, %d answered with an error (%s); %d entries in the log, %d completed at start-up as interrupted, %d pending",
		len(a.acked), a.refused, len(a.failed), summary(refusals), len(all), interrupted, len(pending))
}
