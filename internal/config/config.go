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
	"regexp"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/portico-dev/portico/internal/limits"
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
	Scorecards    Scorecards    `yaml:"scorecards"`
	MCP           MCP           `yaml:"mcp"`
	Log           Log           `yaml:"log"`
	Telemetry     Telemetry     `yaml:"telemetry"`
	// HighAvailability runs several replicas on one PostgreSQL, one of them (elected with a
	// Kubernetes Lease) doing the background work.
	HighAvailability HighAvailability `yaml:"highAvailability"`
}

// HighAvailability elects the replica that refreshes the catalog's sources, saves the
// scorecards' snapshots and completes interrupted actions; the others serve, and hear each
// other's changes through PostgreSQL.
type HighAvailability struct {
	Enabled bool `yaml:"enabled"`
	// Cluster names the configured cluster holding the Lease, reached as Portico itself
	// (never as a user); default: the one with inCluster.
	Cluster string `yaml:"cluster"`
	// Namespace and LeaseName say which Lease (default: $POD_NAMESPACE, else default; portico).
	Namespace string `yaml:"namespace"`
	LeaseName string `yaml:"leaseName"`
	// Identity is this replica's name in the Lease, unique among them (default: $POD_NAME,
	// else the host name and process id).
	Identity string `yaml:"identity"`
	// LeaseDuration is how long the others wait for a silent leader before taking over; the
	// leader gives up the work when it has not renewed for RenewDeadline; candidates try every
	// RetryPeriod (client-go waits up to 2.2× that between tries, and a candidate sees the
	// Lease expire up to two tries late: 400ms keeps a takeover within LeaseDuration + 2 s).
	LeaseDuration Duration `yaml:"leaseDuration"`
	RenewDeadline Duration `yaml:"renewDeadline"`
	RetryPeriod   Duration `yaml:"retryPeriod"`
}

// Telemetry sends Portico's own traces over OTLP/HTTP.
type Telemetry struct {
	// OTLPEndpoint is the collector's base URL (http://jaeger:4318); empty: the standard
	// OTEL_EXPORTER_OTLP_ENDPOINT variable, and without it no traces.
	OTLPEndpoint string  `yaml:"otlpEndpoint"`
	SampleRatio  float64 `yaml:"sampleRatio"` // of new traces, 0 to 1
}

// MCP is the agent interface: Portico as an MCP server at /mcp for AI assistants, acting as
// the user whose token they send. Which actions agents may take is the policy file's
// agents section.
type MCP struct {
	Enabled bool `yaml:"enabled"`
	// RateLimit bounds tool calls per user.
	RateLimit RateLimit `yaml:"rateLimit"`
	// Timeout bounds one tool call; MaxOutputKB one answer.
	Timeout     Duration `yaml:"timeout"`
	MaxOutputKB int      `yaml:"maxOutputKB"`
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
	// AdminAddr serves Go's profiler (/debug/pprof/) on a listener of its own, never the
	// public one; empty turns it off. Keep it on loopback (kubectl port-forward reaches it).
	AdminAddr string `yaml:"adminAddr"`
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
	// WatchSecrets dates changes to the Secrets workloads read, for triage (metadata only;
	// needs list and watch on secrets for the portal's identity).
	WatchSecrets bool `yaml:"watchSecrets"`
	// APIServerMetrics are the PromQL label matchers that select this cluster's API server
	// series in Prometheus, for the cluster page's latency and error charts; default
	// job="apiserver" (right when each cluster has its own Prometheus).
	APIServerMetrics string `yaml:"apiServerMetrics"`
}

// Runbooks configures the runbook folder.
type Runbooks struct {
	Dir string `yaml:"dir"`
}

// Scorecards configures the production-readiness checks.
type Scorecards struct {
	// File adds checks (CEL) to the built-in ones; a bad expression stops the start.
	File string `yaml:"file"`
	// Levels is the ladder, lowest first (default bronze, silver, gold); every check's
	// level must be one of them.
	Levels []string `yaml:"levels"`
	// Disable leaves built-in checks out, by id.
	Disable []string `yaml:"disable"`
	// PublicBadges serves each service's badge (level and score) without sign-in, for READMEs.
	PublicBadges bool `yaml:"publicBadges"`
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
		MCP:       MCP{Enabled: true, RateLimit: RateLimit{PerSecond: 5, Burst: 30}, Timeout: Duration(20 * time.Second), MaxOutputKB: 256},
		Log:       Log{Level: "info", Format: "json"},
		Telemetry: Telemetry{SampleRatio: 1},
		HighAvailability: HighAvailability{LeaseName: "portico", LeaseDuration: Duration(15 * time.Second),
			RenewDeadline: Duration(10 * time.Second), RetryPeriod: Duration(400 * time.Millisecond)},
	}
}

// withDefaults fills what a file may leave out inside lists, which Default cannot: a source's
// globs, a cluster's display name. Together with Default, the one place defaults come from.
func (c *Config) withDefaults() {
	for i := range c.Catalog.Sources {
		if len(c.Catalog.Sources[i].Globs) == 0 {
			c.Catalog.Sources[i].Globs = []string{"**/catalog-info.yaml"}
		}
	}
	for i := range c.Clusters {
		if c.Clusters[i].DisplayName == "" {
			c.Clusters[i].DisplayName = c.Clusters[i].Name
		}
		if c.Clusters[i].APIServerMetrics == "" {
			c.Clusters[i].APIServerMetrics = `job="apiserver"`
		}
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
	c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

var sourceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// dnsLabelRE is a Kubernetes name (RFC 1123 label).
var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

var unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)

// sectionOf maps Go type names to the YAML path a user writes.
var sectionOf = map[string]string{"Config": "", "Server": "server.", "Database": "database.", "Catalog": "catalog.",
	"Source": "catalog.sources[].", "Runbooks": "runbooks.", "Scorecards": "scorecards.", "Log": "log.", "Cluster": "clusters[].", "Auth": "auth.", "OIDC": "auth.oidc.", "Actions": "actions.",
	"Observability": "observability.", "Backend": "observability.<backend>.", "TLS": "observability.<backend>.tls.", "Chart": "observability.charts[].", "ChartQuery": "observability.charts[].queries[].", "Pipelines": "pipelines.", "WebhookSecrets": "pipelines.<provider>.", "MCP": "mcp."}

func (c *Config) decode(path string, data []byte) error {
	if err := limits.Size(path, len(data), 1<<20); err != nil {
		return err
	}
	var tree yaml.Node
	if err := yaml.Unmarshal(data, &tree); err == nil {
		if err := limits.YAMLDepth(path, &tree, limits.MaxDepth, 100000); err != nil {
			return err
		}
	}
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
