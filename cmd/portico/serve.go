package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"k8s.io/klog/v2"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/config"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/internal/server"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/telemetry"
	"github.com/portico-dev/portico/internal/traces"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (default: portico.yaml when present)")
	addr := fs.String("addr", "", "listen address, overriding server.addr and PORTICO_ADDR")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	log := newLogger(cfg.Log, stdout)
	// client-go logs through klog (reflector errors, throttling): into the same log.
	klog.SetSlogLogger(log.With("component", "client-go"))

	tcfg := telemetry.Config{Endpoint: cfg.Telemetry.OTLPEndpoint, SampleRatio: cfg.Telemetry.SampleRatio, Service: "portico", Version: version}
	stopTracing, err := telemetry.Setup(ctx, tcfg)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		fctx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = stopTracing(fctx) // the last spans, flushed
	}()
	if tcfg.Enabled() {
		log.Info("traces of Portico itself go over OTLP", "endpoint", tcfg.Endpoint, "sampleRatio", tcfg.SampleRatio)
	}

	st, err := store.Open(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	books, err := runbooks.Open(cfg.Runbooks.Dir)
	if err != nil {
		return err
	}
	rep, err := replicate(cfg, st, getenv, log)
	if err != nil {
		return err
	}
	refresher := ingest.NewRefresher(st, buildSources(cfg, getenv), ingest.Options{
		Policy:      catalog.OrphanPolicy{Keep: cfg.Catalog.Orphans == "keep", Grace: cfg.Catalog.OrphanGrace.D()},
		MaxFileSize: cfg.Catalog.MaxFileSize, Log: log, Stored: rep.announced(log),
	})
	load := refresher.Load
	if rep.ha {
		load = refresher.Reload // ready at once when the leader has read every source
	}
	if err := load(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	pol, err := loadPolicy(cfg.Auth.PolicyFile)
	if err != nil {
		return err
	}
	auditLog := audit.New(st.Client, log)
	deps := server.Deps{Catalog: replicatedCatalog{refresher, rep.bus, log}, Bus: rep.bus, Leading: rep.elect.Leading, Runbooks: books, DB: st, ScoreStore: st, Log: log, WebhookSecrets: cfg.Catalog.WebhookSecrets, Version: version,
		Anonymous: cfg.Auth.AnonymousAllowed(), BaseURL: baseURL(cfg), Policy: pol, Audit: auditLog,
		ActionsConfig:    server.ActionsConfig{MaxReplicas: cfg.Actions.MaxReplicas, ProductionEnvironments: cfg.Actions.ProductionEnvironments},
		AuthRateLimit:    server.RateLimit{PerSecond: cfg.Server.RateLimits.Auth.PerSecond, Burst: cfg.Server.RateLimits.Auth.Burst},
		WebhookRateLimit: server.RateLimit{PerSecond: cfg.Server.RateLimits.Webhooks.PerSecond, Burst: cfg.Server.RateLimits.Webhooks.Burst},
		MCP: server.MCPConfig{Enabled: cfg.MCP.Enabled, Issuer: cfg.Auth.OIDC.Issuer, PerSecond: cfg.MCP.RateLimit.PerSecond, Burst: cfg.MCP.RateLimit.Burst,
			Timeout: cfg.MCP.Timeout.D(), MaxOutput: cfg.MCP.MaxOutputKB << 10}}
	if deps.TrustedProxies, err = cfg.Server.TrustedNets(); err != nil {
		return err
	}
	if cfg.Auth.OIDC.Issuer != "" {
		a, err := newAuthenticator(cfg, getenv, st)
		if err != nil {
			return err
		}
		deps.Auth = a
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(rep.elect) // portico_leader
	deps.Registry = reg
	var observer actions.Observer // nil without clusters: interrupted actions cannot be looked at
	if len(cfg.Clusters) > 0 {
		clusters, err := cluster.NewManager(clusterConfigs(cfg), log)
		if err != nil {
			return err
		}
		clusters.Start(runCtx)
		reg.MustRegister(clusters) // cache sync and reachability per cluster
		deps.Clusters, observer = clusters, clusters
	}
	if err := observability(cfg, getenv, backend.NewMetrics(reg), &deps); err != nil {
		return err
	}
	if err := pipelines(cfg, st, &deps); err != nil {
		return err
	}
	// The one write path, for the forms and the JSON API alike.
	deps.Actions = actions.New(actions.Config{MaxReplicas: cfg.Actions.MaxReplicas, ProductionEnvironments: cfg.Actions.ProductionEnvironments,
		RequireSecurityScan: cfg.Pipelines.RequireSecurityScan, Hook: crashHook(getenv("PORTICO_TEST_CRASH_AT"), log)}, pol, deps.Audit, st, log)
	if deps.Scorecards, err = scorecards(cfg.Scorecards); err != nil {
		return err
	}
	deps.PublicBadges = cfg.Scorecards.PublicBadges
	srv := server.New(deps)

	ln, err := listen(cfg.Server.Addr, getenv)
	if err != nil {
		return err
	}
	// Each request a server span (probes, metrics and static files excepted), continuing a
	// caller's trace context.
	traced := otelhttp.NewHandler(srv, "portico", otelhttp.WithFilter(func(r *http.Request) bool { return !server.Operational(r.URL.Path) }))
	httpSrv := &http.Server{Handler: traced, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	if rep.listen != nil {
		go rep.listen(runCtx)
	}
	rep.followCatalog(runCtx, refresher, log)
	// The background work: on this process alone, or on the replica holding the Lease.
	background := func(ctx context.Context) {
		if rep.ha {
			if err := refresher.Reload(ctx); err != nil { // where the last leader left the catalog
				log.Error("reloading the stored catalog failed", "err", err)
			}
		}
		go recoverInterrupted(ctx, auditLog, observer, st, rep.ha, log)
		refresher.Run(ctx, cfg.Catalog.RefreshInterval.D())
	}
	elected := make(chan struct{}) // closed when the election is over (the Lease released)
	go func() {
		defer close(elected)
		rep.elect.Run(runCtx, background)
	}()
	go srv.RunScorecards(runCtx)
	go func() {
		reloadRunbooks(runCtx, books, cfg.Catalog.RefreshInterval.D(), log)
	}()
	log.Info("portico serving", "url", "http://"+ln.Addr().String(), "database", st.Driver(), "version", version)

	if cfg.Server.AdminAddr != "" {
		admin, err := serveAdmin(runCtx, cfg.Server.AdminAddr)
		if err != nil {
			return err
		}
		log.Info("admin listener: Go's profiler at /debug/pprof/", "addr", admin)
	}
	httpSrv.RegisterOnShutdown(srv.EndStreams) // live streams would hold the shutdown to its timeout
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "timeout", cfg.Server.ShutdownTimeout.D().String())
	shutCtx, done := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.D())
	defer done()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	cancel()
	select { // a leader hands its Lease over, so another replica takes over at once
	case <-elected:
	case <-shutCtx.Done():
		log.Warn("the background work did not stop before the shutdown timeout")
	}
	return nil
}

// recoverInterrupted completes the audit entries an earlier process left pending (it stopped
// between an action's intent and its result), judging each from what the cluster shows once
// it is old enough not to be in flight. Alone, it ends when none from before this start is
// left; with replicas (keep) it goes on, since any of them may die mid-action.
func recoverInterrupted(ctx context.Context, log *audit.Log, obs actions.Observer, st *store.Store, keep bool, l *slog.Logger) {
	started := time.Now()
	for {
		before := started
		if keep {
			before = time.Now()
		}
		done, waiting, err := actions.Recover(ctx, log, obs, st, before, time.Now(), l)
		if err != nil {
			l.Error("recovering interrupted actions", "err", err)
		} else if done > 0 {
			l.Info("interrupted actions completed", "completed", done, "waiting", waiting)
		}
		if err == nil && waiting == 0 && !keep {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// crashHook kills the process at the write path's named crash point: the crash tests' way of
// stopping the portal between an action's audit intent and its result. Empty: no hook.
func crashHook(point string, l *slog.Logger) func(string) {
	if point == "" {
		return nil
	}
	l.Warn("PORTICO_TEST_CRASH_AT is set: the portal kills itself at this crash point (tests only)", "point", point)
	return func(p string) {
		if p == point {
			l.Warn("crash point reached: SIGKILL", "point", p)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}

func clusterConfigs(cfg *config.Config) []cluster.Config {
	out := make([]cluster.Config, 0, len(cfg.Clusters))
	for _, c := range cfg.Clusters {
		out = append(out, cluster.Config{Name: c.Name, DisplayName: c.DisplayName, Environment: c.Environment,
			Kubeconfig: c.Kubeconfig, Context: c.Context, InCluster: c.InCluster, ImpersonateGroups: c.ImpersonateGroups, WatchSecrets: c.WatchSecrets,
			APIServerMetrics: c.APIServerMetrics})
	}
	return out
}

// backendConfig reads a backend's settings and its secrets from the environment; its calls
// are timed into m under name.
func backendConfig(name string, b config.Backend, getenv func(string) string, m *backend.Metrics) backend.Config {
	c := backend.Config{URL: b.URL, UIURL: b.UIURL, Timeout: b.Timeout.D(), CAFile: b.TLS.CAFile, InsecureSkipVerify: b.TLS.InsecureSkipVerify,
		Username: b.Username, Name: name, Metrics: m}
	if b.BearerTokenEnv != "" {
		c.BearerToken = getenv(b.BearerTokenEnv)
	}
	if b.PasswordEnv != "" {
		c.Password = getenv(b.PasswordEnv)
	}
	return c
}

// observability builds the clients of the configured backends; each is optional.
func observability(cfg *config.Config, getenv func(string) string, bm *backend.Metrics, deps *server.Deps) error {
	o := cfg.Observability
	var promAPI v1.API
	if o.Prometheus.URL != "" {
		var charts []metrics.ChartDef
		for _, ch := range o.Charts {
			d := metrics.ChartDef{Name: ch.Name, Title: ch.Title, Unit: ch.Unit}
			for _, q := range ch.Queries {
				d.Queries = append(d.Queries, metrics.Query{Query: q.Query, Legend: q.Legend})
			}
			charts = append(charts, d)
		}
		m, err := metrics.New(backendConfig("prometheus", o.Prometheus, getenv, bm), charts, o.CacheTTL.D())
		if err != nil {
			return fmt.Errorf("observability.prometheus: %w", err)
		}
		deps.Metrics, promAPI = m, m.API()
	}
	if promAPI != nil || o.Alertmanager.URL != "" {
		src := alerts.Source{Prometheus: promAPI, Budget: max(o.Prometheus.Timeout.D(), o.Alertmanager.Timeout.D())}
		if o.Alertmanager.URL != "" {
			am := backendConfig("alertmanager", o.Alertmanager, getenv, bm)
			src.Alertmanager = &am
		}
		a, err := alerts.New(src)
		if err != nil {
			return fmt.Errorf("observability.alertmanager: %w", err)
		}
		deps.Alerts = a
		if promAPI != nil {
			deps.AlertRules = a
		}
	}
	if o.Jaeger.URL != "" {
		t, err := traces.New(backendConfig("jaeger", o.Jaeger, getenv, bm))
		if err != nil {
			return fmt.Errorf("observability.jaeger: %w", err)
		}
		deps.Traces = t
	}
	return nil
}

// scorecards compiles the built-in checks, less those disabled, and the checks file.
func scorecards(c config.Scorecards) (*scorecard.Set, error) {
	var checks []scorecard.Check
	builtin := scorecard.Builtin()
	for _, ch := range builtin {
		if !slices.Contains(c.Disable, ch.ID) {
			checks = append(checks, ch)
		}
	}
	for _, id := range c.Disable {
		if !slices.ContainsFunc(builtin, func(ch scorecard.Check) bool { return ch.ID == id }) {
			return nil, fmt.Errorf("scorecards.disable: %q is not a built-in check", id)
		}
	}
	var file scorecard.File
	if c.File != "" {
		var err error
		if file, err = scorecard.LoadFile(c.File); err != nil {
			return nil, err
		}
		checks = append(checks, file.Checks...)
	}
	set, err := scorecard.Compile(checks, c.Levels)
	if err != nil {
		return nil, fmt.Errorf("scorecards: %w", err)
	}
	if err := set.WithInitiatives(file.Initiatives); err != nil {
		return nil, fmt.Errorf("scorecards: %s: %w", c.File, err)
	}
	return set, nil
}

// pipelines enables the CI/CD webhooks, stored in the portal's database.
func pipelines(cfg *config.Config, st *store.Store, deps *server.Deps) error {
	p := cfg.Pipelines
	deps.Pipelines = st
	deps.PipelineSecrets = server.PipelineSecrets{GitHub: p.GitHub.Secrets, GitLab: p.GitLab.Secrets, Generic: p.Generic.Secrets,
		RequireSecurityScan: p.RequireSecurityScan}
	if len(p.Stages) > 0 {
		patterns := map[pipeline.Stage][]string{}
		for stage, ps := range p.Stages {
			patterns[pipeline.Stage(stage)] = ps
		}
		m, err := pipeline.NewMapper(patterns)
		if err != nil {
			return fmt.Errorf("pipelines.stages: %w", err)
		}
		deps.StageMapper = m
	}
	return nil
}

// loadPolicy reads the access policy file, or returns the default policy without one.
func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read auth.policyFile: %w", err)
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func buildSources(cfg *config.Config, getenv func(string) string) []ingest.Source {
	var out []ingest.Source
	for _, s := range cfg.Catalog.Sources {
		switch s.Type {
		case "dir":
			out = append(out, &ingest.DirSource{SourceName: s.Name, Dir: s.Path, Globs: s.Globs})
		case "git":
			g := &ingest.GitSource{SourceName: s.Name, URL: s.URL, Branch: s.Branch, Globs: s.Globs,
				CacheDir: cfg.Catalog.CacheDir, SSHKeyFile: s.SSHKeyFile}
			if s.TokenEnv != "" {
				g.Token = getenv(s.TokenEnv)
			}
			out = append(out, g)
		}
	}
	return out
}

// reloadRunbooks re-reads the runbook folder on the catalog's interval.
func reloadRunbooks(ctx context.Context, books *runbooks.Library, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := books.Reload(); err != nil {
				log.Error("runbooks reload failed", "err", err)
			}
		}
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func baseURL(cfg *config.Config) string {
	if cfg.Server.BaseURL != "" {
		return strings.TrimSuffix(cfg.Server.BaseURL, "/")
	}
	return "http://" + cfg.Server.Addr
}

// newAuthenticator builds sign-in from the configuration; secrets come from the environment.
func newAuthenticator(cfg *config.Config, getenv func(string) string, states auth.StateStore) (*auth.Authenticator, error) {
	o := cfg.Auth.OIDC
	key := getenv(cfg.Auth.SessionKeyEnv)
	if len(key) < 32 {
		return nil, fmt.Errorf("auth.sessionKeyEnv: %s must hold a key of at least 32 bytes (e.g. openssl rand -hex 32)", cfg.Auth.SessionKeyEnv)
	}
	redirect := o.RedirectURL
	if redirect == "" {
		redirect = baseURL(cfg) + "/auth/callback"
	}
	secret := ""
	if o.ClientSecretEnv != "" {
		secret = getenv(o.ClientSecretEnv)
	}
	return auth.New(auth.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: redirect, Scopes: o.Scopes,
		GroupsClaim: o.GroupsClaim, EmailClaim: o.EmailClaim, NameClaim: o.NameClaim, SessionKey: []byte(key),
		IdleTimeout: cfg.Auth.SessionIdle.D(), MaxAge: cfg.Auth.SessionMaxAge.D(), SecureCookies: strings.HasPrefix(baseURL(cfg), "https://"), States: states})
}

// listen binds the server's address, or takes the listener it was handed as file descriptor 3
// when LISTEN_FDS=1 (systemd socket activation, and how the test and developer stacks start
// the portal on a port no other program can take first).
// serveAdmin serves Go's profiler on addr, a listener apart from the public one, until ctx
// ends; it returns the address it listens on.
func serveAdmin(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("admin listener (server.adminAddr) on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return ln.Addr().String(), nil
}

func listen(addr string, getenv func(string) string) (net.Listener, error) {
	if getenv("LISTEN_FDS") == "1" && (getenv("LISTEN_PID") == "" || getenv("LISTEN_PID") == strconv.Itoa(os.Getpid())) {
		ln, err := net.FileListener(os.NewFile(3, "LISTEN_FDS"))
		if err != nil {
			return nil, fmt.Errorf("LISTEN_FDS=1 but file descriptor 3 is not a listening socket: %w", err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another portal running? choose another with --addr)", addr, err)
	}
	return ln, nil
}
