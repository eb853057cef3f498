package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/server"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// mcpBench measures the agent interface on the cluster part's estate (1,000 services, 20,000
// pods): 20 MCP sessions of a signed-in user (the real provider's token, verified on every
// request) send, open-loop at a fixed rate, an even mix of the protocol's ping (the
// baseline: same transport, authentication and session, no tool), catalog searches, service
// runtimes and tools/list, interleaved in one window. Latency counts from each call's
// scheduled send time, so a stall is not hidden (no coordinated omission); the first two
// seconds are a discarded warm-up.
func mcpBench(ctx context.Context, dir string, m *cluster.Manager, sessions int, log *slog.Logger) ([]row, error) {
	prov, err := testenv.StartOIDC()
	if err != nil {
		return nil, fmt.Errorf("OIDC provider: %w", err)
	}
	tok, err := prov.Tokens("oscar.lind", "portico")
	if err != nil {
		return nil, err
	}
	token, _ := tok.Extra("id_token").(string)
	a, err := auth.New(auth.Config{Issuer: prov.Issuer, ClientID: prov.ClientID, ClientSecret: prov.ClientSecret,
		RedirectURL: "http://127.0.0.1:9/auth/callback", SessionKey: []byte(strings.Repeat("b", 32))})
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, "mcp-bench.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "bench", Dir: filepath.Join(dir, "cluster-services"), Globs: []string{"*.yaml"}}}, ingest.Options{Log: log})
	if err := r.Refresh(ctx, "bench"); err != nil {
		return nil, err
	}
	books, _ := runbooks.Open(filepath.Join(dir, "none"))
	ts := httptest.NewServer(server.New(server.Deps{Catalog: r, Clusters: m, Runbooks: books, DB: st, Log: log, Auth: a, Scorecards: benchChecks(),
		MCP: server.MCPConfig{Enabled: true, PerSecond: 1e6, Burst: 1e6}}))
	defer ts.Close()

	clients := make([]*mcp.ClientSession, sessions)
	for i := range clients {
		c := mcp.NewClient(&mcp.Implementation{Name: "portico-bench", Version: "1"}, nil)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: testenv.BearerClient(token), DisableStandaloneSSE: true, MaxRetries: -1}, nil)
		if err != nil {
			return nil, fmt.Errorf("session %d: %w", i, err)
		}
		defer cs.Close()
		clients[i] = cs
	}
	kinds := []string{"ping", "search_catalog", "service_runtime", "tools/list"}
	call := func(cs *mcp.ClientSession, kind string) error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		switch kind {
		case "ping":
			return cs.Ping(cctx, nil)
		case "tools/list":
			_, err := cs.ListTools(cctx, nil)
			return err
		}
		args := map[string]any{"ref": fmt.Sprintf("svc-%d", rand.IntN(benchServices))}
		if kind == "search_catalog" {
			args = map[string]any{"query": fmt.Sprintf("svc-%d", rand.IntN(benchServices)), "limit": 20}
		}
		res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: kind, Arguments: args})
		if err == nil && res.IsError {
			err = fmt.Errorf("%s: %v", kind, res.Content)
		}
		return err
	}
	const perSession = 8 // calls a second, so 160/s from 20 sessions
	const warmup, window = 2 * time.Second, 15 * time.Second
	fmt.Fprintf(os.Stderr, "mcp: %d sessions × %d calls/s, open loop, %s (after %s warm-up)…\n", sessions, perSession, window, warmup)
	lat := map[string][]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	start := time.Now().Add(100 * time.Millisecond)
	interval := time.Second / perSession
	for i, cs := range clients {
		offset := interval * time.Duration(i) / time.Duration(sessions) // spread the sessions' sends
		for k := 0; ; k++ {
			at := start.Add(offset + time.Duration(k)*interval)
			if at.Sub(start) >= warmup+window {
				break
			}
			kind := kinds[(k+i)%len(kinds)]
			wg.Add(1)
			time.AfterFunc(time.Until(at), func() {
				defer wg.Done()
				err := call(cs, kind)
				took := time.Since(at) // from the scheduled send time
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if at.Sub(start) >= warmup {
					lat[kind] = append(lat[kind], took)
				}
			})
		}
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	p := map[string]percentiles{}
	for _, k := range kinds {
		p[k] = percentilesOf(lat[k])
	}
	base := p["ping"]
	rows := []row{{name: fmt.Sprintf("MCP ping round trip p95 (%d sessions, %d/s)", sessions, sessions*perSession), db: "-",
		value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(base.p95), ms(base.p50), len(lat["ping"])), budget: "baseline", ok: true}}
	for _, k := range []struct {
		kind, label string
		budget      time.Duration
	}{{"search_catalog", "MCP search_catalog", 50 * time.Millisecond}, {"service_runtime", "MCP service_runtime (20 pods)", 50 * time.Millisecond}, {"tools/list", "MCP tools/list", 10 * time.Millisecond}} {
		x := p[k.kind]
		rows = append(rows, row{name: fmt.Sprintf("%s p95 (%d sessions, open loop)", k.label, sessions), db: "-",
			value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(x.p95), ms(x.p50), len(lat[k.kind])), budget: "≤ " + ms(k.budget),
			ratio: fmt.Sprintf("%.1f× ping", float64(x.p95)/float64(base.p95)), ok: x.p95 <= k.budget})
	}
	return rows, nil
}
