// Command portico-soak runs the portal on PostgreSQL against the whole local stack (two
// clusters, Prometheus, Alertmanager, Jaeger, the demo traffic and the OIDC provider, all on
// loopback) under open-loop load from signed-in clients, and breaks one dependency after
// another: a cluster's API server killed and hung, Prometheus killed, Jaeger hung,
// Alertmanager killed, PostgreSQL restarted, the OIDC provider down, and the portal itself
// stopped with SIGTERM and killed with SIGKILL while deploys roll out. It prints a table per
// phase (requests by status, p50/p99, what the pages said, recovery time, goroutines and heap)
// and exits non-zero when the portal answered an expected failure with a 5xx, a part the
// fault does not touch was affected, something did not recover without a restart, the
// portal grew, or an action's audit result was lost. The run is bounded in time and
// requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	rate := flag.Float64("rate", 20, "requests a second, all clients together (open loop)")
	clients := flag.Int("clients", 20, "signed-in clients")
	hold := flag.Duration("fault", 15*time.Second, "how long each fault is held")
	recoverIn := flag.Duration("recover", 60*time.Second, "how long a part may take to recover after its fault ends")
	maxRequests := flag.Int("max-requests", 30000, "requests in all (the run stops there)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *rate, *clients, *hold, *recoverIn, *maxRequests); err != nil {
		fmt.Fprintln(os.Stderr, "portico-soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rate float64, clients int, hold, recoverIn time.Duration, maxRequests int) error {
	dir, err := os.MkdirTemp("", "portico-soak-")
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "starting the stack (loopback only):")
	t0 := time.Now()
	s, err := startStack(ctx, dir, os.Stderr)
	defer s.stop()
	if err != nil {
		return err
	}
	// The provider's demo people: two team members, the on-call SRE, an admin, a viewer.
	users := []string{"alice.nguyen", "carla.mendes", "kemi.adeyemi", "jonas.berg", "oscar.lind"}
	cs, err := signIn(s.portal.URL, s.prov, users, clients)
	if err != nil {
		return fmt.Errorf("sign in the clients: %w", err)
	}
	// A Portico and cluster admin deploys and reads the audit log, with a token taken when
	// needed (the provider restarts with new keys during the run).
	token := func() (string, error) {
		tok, err := s.prov.Tokens("jonas.berg", "portico")
		if err != nil {
			return "", err
		}
		id, _ := tok.Extra("id_token").(string)
		return id, nil
	}
	fmt.Fprintf(os.Stderr, "stack up and %d clients signed in after %.0fs\n", clients, time.Since(t0).Seconds())

	l := &load{base: s.portal.URL, clients: cs, rate: rate, max: maxRequests}
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { l.run(loadCtx); close(loadDone) }()
	defer func() { stopLoad(); <-loadDone }()

	watcher := cs[0]
	act := &actor{base: s.portal.URL}
	actCtx, stopAct := context.WithCancel(ctx)
	defer stopAct()
	actDone := make(chan struct{})
	actorStarted := false
	phases := s.phases(hold, watcher, func() error {
		if actorStarted {
			return nil
		}
		var err error
		if act.token, err = token(); err != nil {
			return fmt.Errorf("a token for the deploys: %w", err)
		}
		actorStarted = true
		go func() { act.run(actCtx, 500*time.Millisecond); close(actDone) }()
		return nil
	}, func(ctx context.Context) {
		for range 3 {
			go act.run(ctx, 0)
		}
	})

	var reports []report
	for i, p := range phases {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(os.Stderr, "phase %d: %s…\n", i, p.name)
		r := report{phase: p}
		r.before = scrape(watcher, s.portal.URL)
		l.phase.Store(int32(i))
		if p.inject != nil {
			note, err := p.inject(ctx)
			if err != nil {
				return fmt.Errorf("%s: inject: %w", p.name, err)
			}
			r.notes = append(r.notes, note...)
		}
		sleep(ctx, p.hold)
		if p.restore != nil {
			note, err := p.restore(ctx)
			if err != nil {
				return fmt.Errorf("%s: restore: %w", p.name, err)
			}
			r.notes = append(r.notes, note...)
		}
		ended := time.Now()
		if p.recovered != nil {
			r.recovery = -1
			for deadline := ended.Add(recoverIn); time.Now().Before(deadline) && ctx.Err() == nil; sleep(ctx, 250*time.Millisecond) {
				if p.recovered() {
					r.recovery = time.Since(ended)
					break
				}
			}
		}
		sleep(ctx, 3*time.Second) // traffic after the recovery belongs to the phase too
		r.after = scrape(watcher, s.portal.URL)
		reports = append(reports, r)
	}
	stopLoad()
	<-loadDone
	stopAct()
	if actorStarted {
		<-actDone
	}
	fmt.Fprintln(os.Stderr, "waiting for start-up recovery of interrupted actions…")
	lost, audit := lostAuditResults(ctx, s.portal.URL, token, act)

	failed := false
	for i, r := range reports {
		r.results = l.of(i)
		if r.print(os.Stdout, i) {
			failed = true
		}
	}
	g := growth(reports)
	fmt.Fprintln(os.Stdout, g.line)
	fmt.Fprintln(os.Stdout, audit)
	fivexx := 0
	for i := range reports {
		for _, res := range l.of(i) {
			if res.status >= 500 {
				fivexx++
			}
		}
	}
	fmt.Fprintf(os.Stdout, "requests sent: %d of at most %d, in %s\n", l.sent.Load(), maxRequests, time.Since(t0).Round(time.Second))
	fmt.Fprintf(os.Stdout, "5xx for expected failures: %d\n", fivexx)
	fmt.Fprintf(os.Stdout, "lost audit results: %d\n", lost)
	if failed || !g.ok || fivexx > 0 || lost != 0 {
		return fmt.Errorf("the portal did not hold (see the tables above)")
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// runtimeStats are the portal's goroutines and heap as its /metrics shows them.
type runtimeStats struct {
	goroutines int
	heapMB     float64
	ok         bool
}

func scrape(c *http.Client, base string) runtimeStats {
	res, err := c.Get(base + "/metrics")
	if err != nil {
		return runtimeStats{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var st runtimeStats
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_goroutines":
			st.goroutines, st.ok = int(v), true
		case "go_memstats_heap_inuse_bytes":
			st.heapMB = v / (1 << 20)
		}
	}
	return st
}
