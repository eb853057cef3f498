// Package config loads Portico's configuration: a YAML file, then PORTICO_* environment
// overrides, then validation with messages that name the bad key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Config is the whole configuration. The zero value is not valid; start from Default.
type Config struct {
	Server   Server    `yaml:"server"`
	Auth     Auth      `yaml:"auth"`
	Clusters []Cluster `yaml:"clusters"`
	Actions  Actions   `yaml:"actions"`
	// Observability: each backend is optional; a missing URL hides its panel.
	Observability Observability `yaml:"observability"`
	Pipelines     Pipelines     `yaml:"pipelines"`
	Database      Database      `yaml:"database"`
	Catalog       Catalog       `yaml:"catalog"`
	Runbooks      Runbooks      `yaml:"runbooks"`
	Log           Log           `yaml:"log"`
}

// Server configures the HTTP listener.
type Server struct {
	Addr            string   `yaml:"addr"`
	BaseURL         string   `yaml:"baseURL"`
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies whose
	// X-Forwarded-For is believed; without any, the client is the connection's peer.
	TrustedProxies []string `yaml:"trustedProxies"`
	// RateLimits bound requests per client address to sign-in and to the webhooks.
	RateLimits RateLimits `yaml:"rateLimits"`
}

// RateLimits are per-client-address limits: a steady rate per second and a burst.
type RateLimits struct {
	Auth     RateLimit `yaml:"auth"`     // /auth/*
	Webhooks RateLimit `yaml:"webhooks"` // /webhooks/*
}

// RateLimit is a token bucket: PerSecond tokens a second, up to Burst at once (0 turns the
// limit off).
type RateLimit struct {
	PerSecond float64 `yaml:"perSecond"`
	Burst     int     `yaml:"burst"`
}

// Database selects the store: sqlite (a file) or postgres (a DSN).
type Database struct {
	Driver string `yaml:"driver"`
	DSN    string `yaml:"dsn"`
}

// Catalog configures where entities come from and how they are kept.
type Catalog struct {
	Sources         []Source `yaml:"sources"`
	RefreshInterval Duration `yaml:"refreshInterval"`
	// Orphans is "delete" (after OrphanGrace) or "keep".
	Orphans     string   `yaml:"orphans"`
	OrphanGrace Duration `yaml:"orphanGrace"`
	MaxFileSize int64    `yaml:"maxFileSize"`
	CacheDir    string   `yaml:"cacheDir"`
	// WebhookSecrets verify push webhooks; two may be valid at once while rotating.
	WebhookSecrets []string `yaml:"webhookSecrets"`
}

// Source is one catalog source: a local folder or a git repository.
type Source struct {
	Name   string   `yaml:"name"`
	Type   string   `yaml:"type"` // dir or git
	Path   string   `yaml:"path"`
	URL    string   `yaml:"url"`
	Branch string   `yaml:"branch"`
	Globs  []string `yaml:"globs"`
	// TokenEnv names the environment variable holding an https token (never the token itself).
	TokenEnv   string `yaml:"tokenEnv"`
	SSHKeyFile string `yaml:"sshKeyFile"`
}

// Auth configures sign-in.
type Auth struct {
	OIDC OIDC `yaml:"oidc"`
	// Anonymous lets people browse read-only without signing in. Unset, it is on only when no
	// OIDC provider is configured (the embedded default, which has no write path).
	Anonymous *bool `yaml:"anonymous"`
	// SessionKeyEnv names the environment variable holding the session sealing key (≥ 32
	// bytes); every replica needs the same key.
	SessionKeyEnv string   `yaml:"sessionKeyEnv"`
	SessionIdle   Duration `yaml:"sessionIdle"`
	SessionMaxAge Duration `yaml:"sessionMaxAge"`
	// PolicyFile is a YAML file of roles and bindings (see README, "Access control"); empty
	// means the built-in default policy.
	PolicyFile string `yaml:"policyFile"`
}

// Pipelines configures the CI/CD webhooks. A provider without secrets refuses every delivery.
type Pipelines struct {
	GitHub  WebhookSecrets `yaml:"github"`  // X-Hub-Signature-256 (HMAC-SHA256)
	GitLab  WebhookSecrets `yaml:"gitlab"`  // X-Gitlab-Token
	Generic WebhookSecrets `yaml:"generic"` // X-Portico-Signature-256 (HMAC-SHA256)
	// Stages maps job names to delivery stages: stage → regular expressions (case-insensitive).
	// Empty: the defaults (see README).
	Stages map[string][]string `yaml:"stages"`
	// RequireSecurityScan refuses deploying to production an image whose CI run did not pass
	// its security-scan stage (or that no run reported building).
	RequireSecurityScan bool `yaml:"requireSecurityScan"`
}

// WebhookSecrets are a provider's secrets; two while rotating.
type WebhookSecrets struct {
	Secrets []string `yaml:"secrets"`
}

// Observability configures the metrics, alerts and traces backends and the charts.
type Observability struct {
	Prometheus   Backend `yaml:"prometheus"`
	Alertmanager Backend `yaml:"alertmanager"`
	// Jaeger's URL is its query service's gRPC address (host:port, api_v2); UIURL its web UI,
	// for "open in Jaeger" links.
	Jaeger Backend `yaml:"jaeger"`
	// Charts replace the default metric charts (see README); each query is a Go template.
	Charts []Chart `yaml:"charts"`
	// CacheTTL is how long a query's answer is shared by every viewer.
	CacheTTL Duration `yaml:"cacheTTL"`
}

// Backend is one observability backend.
type Backend struct {
	URL     string   `yaml:"url"`
	UIURL   string   `yaml:"uiURL"`
	Timeout Duration `yaml:"timeout"` // each panel's budget; default 2s
	TLS     TLS      `yaml:"tls"`
	// BearerTokenEnv names the variable holding a bearer token; Username and PasswordEnv
	// give basic auth instead.
	BearerTokenEnv string `yaml:"bearerTokenEnv"`
	Username       string `yaml:"username"`
	PasswordEnv    string `yaml:"passwordEnv"`
}

// TLS configures a client connection.
type TLS struct {
	CAFile             string `yaml:"caFile"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
}

// Chart is one metric chart: PromQL templates with the service's placeholders.
type Chart struct {
	Name    string       `yaml:"name"`
	Title   string       `yaml:"title"`
	Unit    string       `yaml:"unit"` // reqps, ratio, seconds, cores, bytes, count
	Queries []ChartQuery `yaml:"queries"`
}

// ChartQuery is one query of a chart. Query is a Go template over {{.Name}}, {{.Namespace}},
// {{.Labels}}, {{.Pods}}, {{.Window}}; Legend names each series, a template over its labels
// (e.g. "{{.pod}}") or a fixed word ("p95"; "request" and "limit" are drawn as dashed lines).
type ChartQuery struct {
	Query  string `yaml:"query"`
	Legend string `yaml:"legend"`
}

// Actions configures deploy, rollback, scale and restart.
type Actions struct {
	// MaxReplicas is the most replicas a scale (or an autoscaler's maximum) may ask for.
	MaxReplicas int32 `yaml:"maxReplicas"`
	// ProductionEnvironments are the cluster environments where every action needs a reason
	// and a typed confirmation; components with lifecycle "production" need them anywhere.
	ProductionEnvironments []string `yaml:"productionEnvironments"`
}

// OIDC is the identity provider.
type OIDC struct {
	Issuer          string   `yaml:"issuer"`
	ClientID        string   `yaml:"clientID"`
	ClientSecretEnv string   `yaml:"clientSecretEnv"` // the variable holding the secret, never the secret
	RedirectURL     string   `yaml:"redirectURL"`     // default: server.baseURL + /auth/callback
	Scopes          []string `yaml:"scopes"`
	GroupsClaim     string   `yaml:"groupsClaim"`
	EmailClaim      string   `yaml:"emailClaim"`
	NameClaim       string   `yaml:"nameClaim"`
}

// AnonymousAllowed resolves Auth.Anonymous's default.
func (a Auth) AnonymousAllowed() bool {
	if a.Anonymous != nil {
		return *a.Anonymous
	}
	return a.OIDC.Issuer == ""
}

// Cluster is a Kubernetes cluster whose state the portal shows.
type Cluster struct {
	Name        string `yaml:"name"`        // as catalog annotations name it (backstage.io/kubernetes-cluster)
	DisplayName string `yaml:"displayName"` // shown in the UI; defaults to Name
	Environment string `yaml:"environment"` // e.g. production, staging
	Kubeconfig  string `yaml:"kubeconfig"`  // path; empty with inCluster
	Context     string `yaml:"context"`     // kubeconfig context; empty: its current context
	InCluster   bool   `yaml:"inCluster"`
	// ImpersonateGroups are the identity provider's groups passed on when acting as a user
	// (shell patterns, e.g. team-*); the cluster's RBAC must let the portal impersonate them.
	// Empty passes every group.
	ImpersonateGroups []string `yaml:"impersonateGroups"`
}

// Runbooks configures the runbook folder.
type Runbooks struct {
	Dir string `yaml:"dir"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Default is the embedded default: SQLite under ./data, the catalog from ./catalog, runbooks
// from ./runbooks, listening on 127.0.0.1:8080.
func Default() *Config {
	return &Config{
		Server: Server{Addr: "127.0.0.1:8080", ShutdownTimeout: Duration(15 * time.Second),
			RateLimits: RateLimits{Auth: RateLimit{PerSecond: 5, Burst: 30}, Webhooks: RateLimit{PerSecond: 200, Burst: 1000}}},
		Database: Database{Driver: "sqlite", DSN: "./data/portico.db"},
		Catalog: Catalog{
			Sources:         []Source{{Name: "local", Type: "dir", Path: "./catalog", Globs: []string{"**/*.yaml"}}},
			RefreshInterval: Duration(5 * time.Minute),
			Orphans:         "delete",
			OrphanGrace:     Duration(time.Hour),
			MaxFileSize:     1 << 20,
			CacheDir:        "./data/cache",
		},
		Runbooks: Runbooks{Dir: "./runbooks"},
		Actions:  Actions{MaxReplicas: 50, ProductionEnvironments: []string{"production"}},
		Observability: Observability{CacheTTL: Duration(15 * time.Second),
			Prometheus: Backend{Timeout: Duration(2 * time.Second)}, Alertmanager: Backend{Timeout: Duration(2 * time.Second)},
			Jaeger: Backend{Timeout: Duration(2 * time.Second)}},
		Log: Log{Level: "info", Format: "json"},
	}
}

// DefaultFile is read when no --config is given and it exists.
const DefaultFile = "portico.yaml"

// Load reads the file at path (when path is empty, portico.yaml if present), applies PORTICO_*
// overrides from getenv and validates the result.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := c.decode(path, data); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist) && !explicit:
		// no file: the embedded default
	default:
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

var sourceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

var unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)

// sectionOf maps Go type names to the YAML path a user writes.
var sectionOf = map[string]string{"Config": "", "Server": "server.", "Database": "database.", "Catalog": "catalog.",
	"Source": "catalog.sources[].", "Runbooks": "runbooks.", "Log": "log.", "Cluster": "clusters[].", "Auth": "auth.", "OIDC": "auth.oidc.", "Actions": "actions.",
	"Observability": "observability.", "Backend": "observability.<backend>.", "TLS": "observability.<backend>.tls.", "Chart": "observability.charts[].", "ChartQuery": "observability.charts[].queries[].", "Pipelines": "pipelines.", "WebhookSecrets": "pipelines.<provider>."}

func (c *Config) decode(path string, data []byte) error {
	// Sources in the file replace the default source rather than adding to it.
	c.Catalog.Sources = nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		if m := unknownFieldRE.FindAllStringSubmatch(err.Error(), -1); m != nil {
			var msgs []string
			for _, x := range m {
				msgs = append(msgs, fmt.Sprintf("%s:%s: unknown key %s%s", path, x[1], sectionOf[x[3]], x[2]))
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if c.Catalog.Sources == nil {
		c.Catalog.Sources = Default().Catalog.Sources
	}
	return nil
}

// Env lists the environment overrides and the keys they set, for the README and --help.
var Env = []struct{ Name, Key string }{
	{"PORTICO_ADDR", "server.addr"},
	{"PORTICO_BASE_URL", "server.baseURL"},
	{"PORTICO_TRUSTED_PROXIES", "server.trustedProxies (comma-separated)"},
	{"PORTICO_DATABASE_DRIVER", "database.driver"},
	{"PORTICO_DATABASE_DSN", "database.dsn"},
	{"PORTICO_CATALOG_DIR", "catalog.sources[0].path (when that source is a folder)"},
	{"PORTICO_CATALOG_REFRESH_INTERVAL", "catalog.refreshInterval"},
	{"PORTICO_WEBHOOK_SECRETS", "catalog.webhookSecrets (comma-separated)"},
	{"PORTICO_GITHUB_WEBHOOK_SECRETS", "pipelines.github.secrets (comma-separated)"},
	{"PORTICO_GITLAB_WEBHOOK_SECRETS", "pipelines.gitlab.secrets (comma-separated)"},
	{"PORTICO_PIPELINE_WEBHOOK_SECRETS", "pipelines.generic.secrets (comma-separated)"},
	{"PORTICO_RUNBOOKS_DIR", "runbooks.dir"},
	{"PORTICO_LOG_LEVEL", "log.level"},
	{"PORTICO_LOG_FORMAT", "log.format"},
}

func (c *Config) applyEnv(getenv func(string) string) error {
	set := map[string]func(string) error{
		"PORTICO_ADDR":                     func(v string) error { c.Server.Addr = v; return nil },
		"PORTICO_BASE_URL":                 func(v string) error { c.Server.BaseURL = v; return nil },
		"PORTICO_TRUSTED_PROXIES":          func(v string) error { c.Server.TrustedProxies = strings.Split(v, ","); return nil },
		"PORTICO_DATABASE_DRIVER":          func(v string) error { c.Database.Driver = v; return nil },
		"PORTICO_DATABASE_DSN":             func(v string) error { c.Database.DSN = v; return nil },
		"PORTICO_RUNBOOKS_DIR":             func(v string) error { c.Runbooks.Dir = v; return nil },
		"PORTICO_LOG_LEVEL":                func(v string) error { c.Log.Level = v; return nil },
		"PORTICO_LOG_FORMAT":               func(v string) error { c.Log.Format = v; return nil },
		"PORTICO_WEBHOOK_SECRETS":          func(v string) error { c.Catalog.WebhookSecrets = strings.Split(v, ","); return nil },
		"PORTICO_GITHUB_WEBHOOK_SECRETS":   func(v string) error { c.Pipelines.GitHub.Secrets = strings.Split(v, ","); return nil },
		"PORTICO_GITLAB_WEBHOOK_SECRETS":   func(v string) error { c.Pipelines.GitLab.Secrets = strings.Split(v, ","); return nil },
		"PORTICO_PIPELINE_WEBHOOK_SECRETS": func(v string) error { c.Pipelines.Generic.Secrets = strings.Split(v, ","); return nil },
		"PORTICO_CATALOG_REFRESH_INTERVAL": func(v string) error {
			d, err := time.ParseDuration(v)
			c.Catalog.RefreshInterval = Duration(d)
			return err
		},
		"PORTICO_CATALOG_DIR": func(v string) error {
			if len(c.Catalog.Sources) == 0 || c.Catalog.Sources[0].Type != "dir" {
				return errors.New("the first catalog source is not a folder")
			}
			c.Catalog.Sources[0].Path = v
			return nil
		},
	}
	for _, e := range Env {
		if v := getenv(e.Name); v != "" {
			if err := set[e.Name](v); err != nil {
				return fmt.Errorf("%s=%q: %v", e.Name, v, err)
			}
		}
	}
	return nil
}

// Validate checks every field and the rules across fields, naming the key of each problem.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	if _, port, err := net.SplitHostPort(c.Server.Addr); err != nil {
		bad("server.addr", "%q is not host:port", c.Server.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("server.addr", "port %q is not a number from 0 to 65535", port)
	}
	if _, err := c.Server.TrustedNets(); err != nil {
		bad("server.trustedProxies", "%v", err)
	}
	for name, l := range map[string]RateLimit{"auth": c.Server.RateLimits.Auth, "webhooks": c.Server.RateLimits.Webhooks} {
		if l.PerSecond < 0 || l.Burst < 0 || (l.PerSecond > 0) != (l.Burst > 0) {
			bad("server.rateLimits."+name, "perSecond and burst must both be positive (or both 0 to turn the limit off)")
		}
	}
	switch c.Database.Driver {
	case "sqlite", "postgres":
		if c.Database.DSN == "" {
			bad("database.dsn", "required (a file path for sqlite, a connection string for postgres)")
		}
	default:
		bad("database.driver", "%q is not supported; use sqlite or postgres", c.Database.Driver)
	}
	if d := c.Catalog.RefreshInterval.D(); d < time.Second {
		bad("catalog.refreshInterval", "%s is too short; use at least 1s", d)
	}
	if c.Catalog.Orphans != "delete" && c.Catalog.Orphans != "keep" {
		bad("catalog.orphans", "%q must be delete or keep", c.Catalog.Orphans)
	}
	if c.Catalog.MaxFileSize <= 0 {
		bad("catalog.maxFileSize", "must be a positive number of bytes")
	}
	names := map[string]bool{}
	for i, s := range c.Catalog.Sources {
		key := fmt.Sprintf("catalog.sources[%d]", i)
		if s.Name == "" {
			bad(key+".name", "required")
		} else if !sourceNameRE.MatchString(s.Name) {
			bad(key+".name", "%q may hold only letters, digits, - and _", s.Name)
		} else if names[s.Name] {
			bad(key+".name", "%q is used by another source", s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case "dir":
			if s.Path == "" {
				bad(key+".path", "required for a folder source")
			}
		case "git":
			if s.URL == "" {
				bad(key+".url", "required for a git source")
			}
		default:
			bad(key+".type", "%q must be dir or git", s.Type)
		}
		if len(s.Globs) == 0 {
			c.Catalog.Sources[i].Globs = []string{"**/catalog-info.yaml"}
		}
	}
	if o := c.Auth.OIDC; o.Issuer != "" {
		if o.ClientID == "" {
			bad("auth.oidc.clientID", "required with an issuer")
		}
		if c.Auth.SessionKeyEnv == "" {
			bad("auth.sessionKeyEnv", "required with an issuer: name the environment variable holding a key of at least 32 bytes")
		}
		if o.RedirectURL == "" && c.Server.BaseURL == "" {
			bad("auth.oidc.redirectURL", "required when server.baseURL is not set")
		}
	}
	clusterNames := map[string]bool{}
	for i, cl := range c.Clusters {
		key := fmt.Sprintf("clusters[%d]", i)
		switch {
		case cl.Name == "" || !sourceNameRE.MatchString(cl.Name):
			bad(key+".name", "required: letters, digits, - and _")
		case clusterNames[cl.Name]:
			bad(key+".name", "%q is used by another cluster", cl.Name)
		}
		clusterNames[cl.Name] = true
		if cl.InCluster == (cl.Kubeconfig != "") {
			bad(key, "set exactly one of kubeconfig and inCluster")
		}
		if cl.DisplayName == "" {
			c.Clusters[i].DisplayName = cl.Name
		}
		for j, g := range cl.ImpersonateGroups {
			if _, err := path.Match(g, ""); err != nil {
				bad(fmt.Sprintf("%s.impersonateGroups[%d]", key, j), "%q is not a valid pattern", g)
			}
		}
	}
	for name, b := range map[string]Backend{"prometheus": c.Observability.Prometheus, "alertmanager": c.Observability.Alertmanager, "jaeger": c.Observability.Jaeger} {
		key := "observability." + name
		if b.URL == "" {
			continue
		}
		if name != "jaeger" && !strings.HasPrefix(b.URL, "http://") && !strings.HasPrefix(b.URL, "https://") {
			bad(key+".url", "%q must be an http:// or https:// URL", b.URL)
		}
		if name == "jaeger" && strings.Contains(b.URL, "://") {
			bad(key+".url", "%q must be the query service's gRPC host:port, e.g. jaeger-query:16685", b.URL)
		}
		if b.Timeout <= 0 {
			bad(key+".timeout", "must be positive")
		}
		if b.Username != "" && b.BearerTokenEnv != "" {
			bad(key, "set either bearerTokenEnv or username/passwordEnv, not both")
		}
	}
	chartNames := map[string]bool{}
	for i, ch := range c.Observability.Charts {
		key := fmt.Sprintf("observability.charts[%d]", i)
		if ch.Name == "" || chartNames[ch.Name] {
			bad(key+".name", "required and unique")
		}
		chartNames[ch.Name] = true
		if len(ch.Queries) == 0 {
			bad(key+".queries", "give at least one query")
		}
		for j, q := range ch.Queries {
			if _, err := template.New(ch.Name).Parse(q.Query); err != nil || q.Query == "" {
				bad(fmt.Sprintf("%s.queries[%d].query", key, j), "required, a Go template (%v)", err)
			}
		}
	}
	if c.Actions.MaxReplicas < 1 || c.Actions.MaxReplicas > 10000 {
		bad("actions.maxReplicas", "must be between 1 and 10000, not %d", c.Actions.MaxReplicas)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q must be debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "%q must be json or text", c.Log.Format)
	}
	if len(errs) > 0 {
		return errors.New("invalid configuration: " + strings.Join(errs, "; "))
	}
	return nil
}

// Duration is a time.Duration written as "30s" or "5m" in YAML.
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// TrustedNets parses TrustedProxies: each an IP address or a CIDR range.
func (s Server) TrustedNets() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, p := range s.TrustedProxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			ip := net.ParseIP(p)
			if ip == nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR range", p)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range", p)
		}
		out = append(out, n)
	}
	return out, nil
}
