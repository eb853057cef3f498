package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// stack is everything the soak runs and breaks: two clusters, the observability backends with
// the demo traffic, the OIDC provider, PostgreSQL and the portal, each on a reserved
// loopback port, each a process the soak may kill, hang and start again.
type stack struct {
	dir, root string
	prod, stg *devstack.Cluster
	backends  map[string]devstack.Component // jaeger, alertmanager, prometheus, demo-traffic
	oidc      devstack.Component
	prov      *devstack.OIDCProvider
	pg        *testenv.PostgresServer
	portal    *testenv.Portal
	signalled time.Time // when the portal was last stopped
}

const sessionKey = "soak-session-key-0123456789abcdef"

func startStack(ctx context.Context, dir string, progress io.Writer) (*stack, error) {
	s := &stack{dir: dir, backends: map[string]devstack.Component{}}
	var err error
	if s.root, err = testenv.RepoRoot(); err != nil {
		return s, err
	}
	bins, err := devstack.LocateBinaries(s.root)
	if err != nil {
		return s, err
	}
	step := func(what string, t0 time.Time) {
		fmt.Fprintf(progress, "  %-44s %5.1fs\n", what, time.Since(t0).Seconds())
	}

	// Two clusters: production (three kwok nodes, the demo's replicas and autoscalers) and
	// staging (one node, one replica each, a release ahead).
	var demo []devstack.DemoCluster
	for _, env := range []string{"production", "staging"} {
		t0 := time.Now()
		ports, err := testenv.ReservePorts(6)
		if err != nil {
			return s, err
		}
		nodes := 3
		if env == "staging" {
			nodes = 1
		}
		spec := devstack.ClusterSpec{Name: env, Environment: env, Nodes: nodes, EtcdPort: ports[0], EtcdPeerPort: ports[1],
			APIPort: ports[2], ControllerMgr: ports[3], SchedulerPort: ports[4], KwokPort: ports[5]}
		c, err := devstack.StartCluster(ctx, bins, filepath.Join(dir, env), spec, false, io.Discard)
		if err != nil {
			return s, fmt.Errorf("%s cluster: %w", env, err)
		}
		if env == "production" {
			s.prod = c
		} else {
			s.stg = c
		}
		cs, err := c.Admin()
		if err != nil {
			return s, err
		}
		if _, err := devstack.SeedDemo(ctx, cs, filepath.Join(s.root, "catalog"), devstack.DemoOptions{Staging: env == "staging"}); err != nil {
			return s, fmt.Errorf("seed %s: %w", env, err)
		}
		weight := 1.0
		if env == "staging" {
			weight = 0.1
		}
		demo = append(demo, devstack.DemoCluster{Name: env, Kubeconfig: c.PortalKubeconfig, Weight: weight})
		step(env+" cluster, demo workloads", t0)
	}

	t0 := time.Now()
	var p devstack.ObservabilityPorts
	targets := []*int{&p.JaegerQueryHTTP, &p.JaegerQueryGRPC, &p.OTLPGRPC, &p.OTLPHTTP, &p.JaegerHealth, &p.JaegerMetrics, &p.Prometheus, &p.Alertmanager, &p.Demo}
	ports, err := testenv.ReservePorts(len(targets) + 1)
	if err != nil {
		return s, err
	}
	for i, t := range targets {
		*t = ports[i]
	}
	comps, err := devstack.Observability(ctx, bins, dir, p, demo, "http://127.0.0.1")
	for _, c := range comps {
		s.backends[c.Name] = c
	}
	if err != nil {
		return s, fmt.Errorf("observability: %w", err)
	}
	step("Jaeger, Prometheus, Alertmanager, demo traffic", t0)

	t0 = time.Now()
	addr := fmt.Sprintf("127.0.0.1:%d", ports[len(targets)])
	ln, err := devstack.Listen("oidc", addr)
	if err != nil {
		return s, err
	}
	s.prov = &devstack.OIDCProvider{Issuer: "http://" + addr, ClientID: "portico", ClientSecret: "portico-dev-secret"}
	if s.oidc, err = devstack.StartServing(ctx, dir, "oidc", bins.OIDC, []string{"--addr", addr, "--client-id", s.prov.ClientID, "--client-secret", s.prov.ClientSecret},
		nil, ln, s.prov.Issuer+"/.well-known/openid-configuration", 20*time.Second); err != nil {
		return s, fmt.Errorf("OIDC provider: %w", err)
	}
	step("OIDC provider", t0)

	t0 = time.Now()
	if s.pg, err = testenv.StartPostgresServer(); err != nil {
		return s, fmt.Errorf("PostgreSQL: %w", err)
	}
	step("PostgreSQL", t0)

	t0 = time.Now()
	bin := filepath.Join(dir, "portico")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/portico")
	build.Dir = s.root
	if out, err := build.CombinedOutput(); err != nil {
		return s, fmt.Errorf("build the portal: %v\n%s", err, out)
	}
	local := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "database: {driver: postgres}\n")
	// Every client comes from 127.0.0.1: one address stands for twenty people signing in.
	fmt.Fprintf(&cfg, "server:\n  rateLimits: {auth: {perSecond: 50, burst: 200}}\n")
	fmt.Fprintf(&cfg, "catalog:\n  sources:\n    - {name: local, type: dir, path: %q, globs: [\"**/*.yaml\"]}\n", filepath.Join(s.root, "catalog"))
	fmt.Fprintf(&cfg, "runbooks: {dir: %q}\n", filepath.Join(s.root, "runbooks"))
	fmt.Fprintf(&cfg, "scorecards: {file: %q}\n", filepath.Join(s.root, "deploy", "local", "scorecards.yaml"))
	fmt.Fprintf(&cfg, "auth:\n  oidc: {issuer: %q, clientID: portico, clientSecretEnv: SOAK_OIDC_SECRET}\n  sessionKeyEnv: SOAK_SESSION_KEY\n", s.prov.Issuer)
	fmt.Fprintf(&cfg, "pipelines:\n  github: {secrets: [%s]}\n  generic: {secrets: [%s]}\n", devstack.DemoPipelineSecret, devstack.DemoPipelineSecret)
	fmt.Fprintf(&cfg, "observability:\n  prometheus: {url: \"http://%s\"}\n  alertmanager: {url: \"http://%s\"}\n  jaeger: {url: %q, uiURL: \"http://%s\"}\n",
		local(p.Prometheus), local(p.Alertmanager), local(p.JaegerQueryGRPC), local(p.JaegerQueryHTTP))
	cfg.WriteString("clusters:\n")
	for _, c := range demo {
		fmt.Fprintf(&cfg, "  - {name: %s, environment: %s, kubeconfig: %q, impersonateGroups: [%s]}\n", c.Name, c.Name, c.Kubeconfig,
			strings.Join(devstack.ImpersonableGroups, ", "))
	}
	if s.portal, err = testenv.LaunchPortal(bin, dir, cfg.String(), "PORTICO_DATABASE_DSN="+s.pg.DSN,
		"SOAK_OIDC_SECRET="+s.prov.ClientSecret, "SOAK_SESSION_KEY="+sessionKey); err != nil {
		return s, fmt.Errorf("portal: %w", err)
	}
	step("portal on PostgreSQL", t0)

	t0 = time.Now()
	cs, _ := s.prod.Admin()
	n, err := devstack.SeedPipelines(ctx, s.portal.URL, cs, filepath.Join(s.root, "catalog"))
	if err != nil {
		return s, fmt.Errorf("demo CI history: %w", err)
	}
	step(fmt.Sprintf("demo CI history (%d events)", n), t0)
	return s, nil
}

// stop ends everything started, whatever state a phase left it in.
func (s *stack) stop() {
	if s.portal != nil {
		s.portal.Stop()
	}
	for _, c := range []*devstack.Cluster{s.prod, s.stg} {
		if c != nil {
			_ = c.Signal("kube-apiserver", syscall.SIGCONT) // a hung process must run to stop
			c.Stop()
		}
	}
	for _, c := range s.backends {
		_ = c.Kill(5 * time.Second)
	}
	if s.oidc.PID > 0 {
		_ = s.oidc.Kill(5 * time.Second)
	}
	if s.pg != nil {
		s.pg.Stop()
	}
	os.RemoveAll(s.dir)
}
