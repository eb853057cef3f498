// Command portico-dev runs the local stack for trying Portico: `up` starts two Kubernetes
// control planes with kwok nodes, the OIDC provider and the portal, detached, and reports how
// long each took and its memory; `status` lists each component with its port and health;
// `down` stops everything it started. State and logs live in .dev/ (git-ignored).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "portico-dev:", err)
		os.Exit(1)
	}
}

// The developer stack's fixed addresses (tests use free ports instead).
var clusters = []devstack.ClusterSpec{
	{Name: "production", Environment: "production", Nodes: 3, EtcdPort: 23790, EtcdPeerPort: 23800, APIPort: 16443, ControllerMgr: 16457, SchedulerPort: 16459, KwokPort: 16461},
	{Name: "staging", Environment: "staging", Nodes: 1, EtcdPort: 23791, EtcdPeerPort: 23801, APIPort: 16444, ControllerMgr: 16458, SchedulerPort: 16460, KwokPort: 16462},
}

const (
	oidcAddr   = "127.0.0.1:5556"
	portalAddr = "127.0.0.1:8080"
)

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("portico-dev", flag.ContinueOnError)
	dir := fs.String("dir", ".dev", "state folder (logs, pids, certificates, databases)")
	if len(args) == 0 {
		return errors.New("usage: portico-dev up|down|status [--dir .dev] | token USER")
	}
	cmd := args[0]
	if cmd == "token" {
		// A demo user's ID token from the stack's provider, for the JSON API and MCP clients.
		if len(args) != 2 {
			return errors.New("usage: portico-dev token USER (e.g. alice.nguyen)")
		}
		p := devstack.OIDCProvider{Issuer: "http://" + oidcAddr, ClientID: "portico", ClientSecret: "portico-dev-secret"}
		tok, err := p.Tokens(args[1], "portico")
		if err != nil {
			return fmt.Errorf("no token for %s from the stack's provider (is make dev running?): %w", args[1], err)
		}
		id, _ := tok.Extra("id_token").(string)
		fmt.Fprintln(out, id)
		return nil
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	switch cmd {
	case "up":
		return up(ctx, abs, out)
	case "down":
		return down(abs, out)
	case "status":
		st, err := devstack.LoadState(abs)
		if err != nil {
			return err
		}
		if len(st.Components) == 0 {
			fmt.Fprintln(out, "no stack running (make dev starts one)")
			return nil
		}
		if !devstack.PrintStatus(ctx, out, st) {
			return errors.New("some components are down: see their logs, or make dev-down && make dev")
		}
		return nil
	}
	return fmt.Errorf("unknown command %q: use up, down, status or token", cmd)
}

func down(dir string, out io.Writer) error {
	stopped, err := devstack.StopAll(dir)
	if err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, "state.json"))
	if len(stopped) == 0 {
		fmt.Fprintln(out, "nothing was running")
	} else {
		fmt.Fprintf(out, "stopped %d processes: %v\n", len(stopped), stopped)
	}
	return nil
}

func up(ctx context.Context, dir string, out io.Writer) error {
	start := time.Now()
	st, err := devstack.LoadState(dir)
	if err != nil {
		return err
	}
	if len(st.Components) > 0 {
		alive := 0
		for _, c := range st.Components {
			if c.Alive() {
				alive++
			}
		}
		if alive == len(st.Components) {
			fmt.Fprintln(out, "the stack is already running:")
			devstack.PrintStatus(ctx, out, st)
			return nil
		}
		// A stale state folder from a crashed run: stop what is left and start over.
		fmt.Fprintf(out, "found a stale stack (%d of %d components alive): cleaning up\n", alive, len(st.Components))
		if _, err := devstack.StopAll(dir); err != nil {
			return err
		}
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		return err
	}
	state := &devstack.State{Started: start}
	ok := false
	defer func() {
		if !ok {
			fmt.Fprintln(out, "start-up failed: stopping what was started")
			_, _ = devstack.StopAll(dir)
		}
	}()
	fmt.Fprintln(out, "starting the local stack (all on 127.0.0.1):")
	var demoClusters []devstack.DemoCluster
	for _, spec := range clusters {
		c, err := devstack.StartCluster(ctx, bins, filepath.Join(dir, spec.Name), spec, true, out)
		if err != nil {
			return err
		}
		state.Components = append(state.Components, c.Components(start)...)
		if err := seed(ctx, c, root, out); err != nil {
			return err
		}
		weight := 1.0
		if spec.Environment != "production" {
			weight = 0.1 // staging sees a trickle of test traffic
		}
		scrape, err := c.APIServerScrape()
		if err != nil {
			return err
		}
		demoClusters = append(demoClusters, devstack.DemoCluster{Name: spec.Name, Kubeconfig: c.PortalKubeconfig, Weight: weight, APIServer: scrape})
	}
	obs, err := devstack.Observability(ctx, bins, dir, devstack.DefaultObservabilityPorts, demoClusters, "http://"+portalAddr)
	if err != nil {
		return err
	}
	for _, c := range obs {
		fmt.Fprintf(out, "  %-8s %-26s %6.1fs\n", "", c.Name, c.Ready.Seconds())
		c.Ready = time.Since(start)
		state.Components = append(state.Components, c)
	}
	if bins.OIDC == "" {
		return errors.New("the OIDC provider is not built: run deploy/local/build.sh oidc")
	}
	t0 := time.Now()
	ln, err := devstack.Listen("oidc provider", oidcAddr)
	if err != nil {
		return err
	}
	oidc, err := devstack.StartServing(ctx, dir, "oidc", bins.OIDC, []string{"--addr", oidcAddr}, nil, ln,
		"http://"+oidcAddr+"/.well-known/openid-configuration", 20*time.Second)
	if err != nil {
		return err
	}
	oidc.Ready = time.Since(start)
	fmt.Fprintf(out, "  %-8s %-26s %6.1fs\n", "", "oidc provider", time.Since(t0).Seconds())
	state.Components = append(state.Components, oidc)
	healthyAt := time.Since(start)
	if err := devstack.SaveState(dir, state); err != nil {
		return err
	}

	if err := writePortalConfig(dir, root, demoClusters); err != nil {
		return err
	}
	portal, err := startPortal(ctx, dir, root)
	if err != nil {
		return err
	}
	portal.Ready = time.Since(start)
	state.Components = append(state.Components, portal)
	if err := seedCI(ctx, dir, out); err != nil {
		return err
	}
	if err := devstack.SaveState(dir, state); err != nil {
		return err
	}
	ok = true
	fmt.Fprintln(out)
	devstack.PrintStatus(ctx, out, state)
	fmt.Fprintf(out, "\nall components healthy in %.1fs; portal serving in %.1fs at http://%s\n", healthyAt.Seconds(), portal.Ready.Seconds(), portalAddr)
	for _, c := range state.Components {
		if c.AdminKubeconfig != "" {
			fmt.Fprintf(out, "%s --kubeconfig %s   (%s)\n", bins.Kubectl, c.AdminKubeconfig, c.Name)
		}
	}
	fmt.Fprintln(out, "stop with: make dev-down")
	return nil
}

// seedCI reports the demo's CI history to the portal (idempotent: fixed delivery IDs).
func seedCI(ctx context.Context, dir string, out io.Writer) error {
	t0 := time.Now()
	c, err := devstack.RunningCluster(dir, "production")
	if err != nil {
		return err
	}
	cs, err := c.Admin()
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	n, err := devstack.SeedPipelines(ctx, "http://"+portalAddr, cs, filepath.Join(root, "catalog"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  %-8s %-26s %6.1fs\n", "", fmt.Sprintf("demo CI history (%d events)", n), time.Since(t0).Seconds())
	return nil
}

// startPortal builds the portal and runs it on its embedded default, with its database in the
// state folder.
func startPortal(ctx context.Context, dir, root string) (devstack.Component, error) {
	// Bound before the build, so the port cannot be taken while the portal compiles.
	ln, err := devstack.Listen("portal", portalAddr)
	if err != nil {
		return devstack.Component{}, err
	}
	defer ln.Close()
	bin := filepath.Join(dir, "bin", "portico")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/portico")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return devstack.Component{}, fmt.Errorf("build the portal: %w", err)
	}
	key, err := sessionKey(dir)
	if err != nil {
		return devstack.Component{}, err
	}
	env := []string{
		"PORTICO_OIDC_CLIENT_SECRET=portico-dev-secret", "PORTICO_SESSION_KEY=" + key,
		"PORTICO_DATABASE_DSN=" + filepath.Join(dir, "portico.db"),
		"PORTICO_CATALOG_DIR=" + filepath.Join(root, "catalog"),
		"PORTICO_RUNBOOKS_DIR=" + filepath.Join(root, "runbooks"),
	}
	return devstack.StartServing(ctx, dir, "portal", bin, []string{"serve", "--addr", portalAddr, "--config", filepath.Join(dir, "portico.yaml")}, env, ln,
		"http://"+portalAddr+"/readyz", 30*time.Second)
}

// seed creates the demo services' workloads in a cluster (production: all replicas, autoscalers
// and a release history; staging: one replica, one release ahead).
func seed(ctx context.Context, c *devstack.Cluster, root string, out io.Writer) error {
	t0 := time.Now()
	cs, err := c.Admin()
	if err != nil {
		return err
	}
	seeded, err := devstack.SeedDemo(ctx, cs, filepath.Join(root, "catalog"), devstack.DemoOptions{Staging: c.Spec.Environment == "staging"})
	if err != nil {
		return fmt.Errorf("seed demo workloads in %s: %w", c.Spec.Name, err)
	}
	fmt.Fprintf(out, "  %-8s %-26s %6.1fs\n", c.Spec.Name, fmt.Sprintf("demo workloads (%d)", len(seeded)), time.Since(t0).Seconds())
	if c.Spec.Environment == "production" {
		t0 = time.Now()
		bins, err := devstack.LocateBinaries(root)
		if err != nil {
			return err
		}
		n, err := devstack.SeedMesh(ctx, c, bins, root)
		if err != nil {
			return fmt.Errorf("seed the demo's mesh in %s: %w", c.Spec.Name, err)
		}
		fmt.Fprintf(out, "  %-8s %-26s %6.1fs\n", c.Spec.Name, fmt.Sprintf("mesh CRDs, objects (%d)", n), time.Since(t0).Seconds())
		if err := devstack.SeedAutoscalerStatus(ctx, cs, time.Now()); err != nil {
			return fmt.Errorf("cluster autoscaler status in %s: %w", c.Spec.Name, err)
		}
	}
	return nil
}

// writePortalConfig points the portal at the stack: the demo catalog and runbooks, SQLite in
// the state folder, and both clusters under the portal's own (read-only) identity.
func writePortalConfig(dir, root string, clusters []devstack.DemoCluster) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by portico-dev up for the local stack.\ndatabase: {driver: sqlite, dsn: %q}\n", filepath.Join(dir, "portico.db"))
	fmt.Fprintf(&b, "catalog:\n  sources:\n    - {name: local, type: dir, path: %q, globs: [\"**/*.yaml\"]}\n", filepath.Join(root, "catalog"))
	fmt.Fprintf(&b, "runbooks: {dir: %q}\n", filepath.Join(root, "runbooks"))
	fmt.Fprintf(&b, "scorecards: {file: %q, publicBadges: true}\n", filepath.Join(root, "deploy", "local", "scorecards.yaml"))
	fmt.Fprintf(&b, "server: {baseURL: \"http://%s\"}\n", portalAddr)
	fmt.Fprintf(&b, "auth:\n  oidc: {issuer: \"http://%s\", clientID: portico, clientSecretEnv: PORTICO_OIDC_CLIENT_SECRET}\n  sessionKeyEnv: PORTICO_SESSION_KEY\n", oidcAddr)
	p := devstack.DefaultObservabilityPorts
	fmt.Fprintf(&b, "pipelines:\n  github: {secrets: [%s]}\n  generic: {secrets: [%s]}\n", devstack.DemoPipelineSecret, devstack.DemoPipelineSecret)
	fmt.Fprintf(&b, "observability:\n  prometheus: {url: \"http://127.0.0.1:%d\"}\n  alertmanager: {url: \"http://127.0.0.1:%d\"}\n  jaeger: {url: \"127.0.0.1:%d\", uiURL: \"http://127.0.0.1:%d\"}\n",
		p.Prometheus, p.Alertmanager, p.JaegerQueryGRPC, p.JaegerQueryHTTP)
	// Portico's own traces go to the stack's Jaeger, beside the demo services'.
	fmt.Fprintf(&b, "telemetry: {otlpEndpoint: \"http://127.0.0.1:%d\"}\n", p.OTLPHTTP)
	b.WriteString("clusters:\n")
	for _, c := range clusters {
		env := c.Name
		fmt.Fprintf(&b, "  - {name: %s, environment: %s, kubeconfig: %q, apiServerMetrics: 'job=\"apiserver-%s\"', impersonateGroups: [%s]}\n", c.Name, env, c.Kubeconfig, c.Name,
			strings.Join(devstack.ImpersonableGroups, ", "))
	}
	return os.WriteFile(filepath.Join(dir, "portico.yaml"), []byte(b.String()), 0o644)
}

// sessionKey is the local stack's session sealing key, made once and kept in the state folder
// so sessions survive a restart of the portal.
func sessionKey(dir string) (string, error) {
	path := filepath.Join(dir, "session.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	key := hex.EncodeToString(buf)
	return key, os.WriteFile(path, []byte(key), 0o600)
}
