package config

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// problems collects what is wrong, each under the key a user writes.
type problems []string

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

// Validate checks every field and the rules across fields, naming the key of each problem.
// It changes nothing (defaults are filled by Load, in one place: withDefaults).
func (c *Config) Validate() error {
	var p problems
	c.Server.validate(&p)
	c.Database.validate(&p)
	c.Catalog.validate(&p)
	c.Auth.validate(&p, c.Server)
	validateClusters(&p, c.Clusters)
	c.Observability.validate(&p)
	c.Actions.validate(&p)
	c.MCP.validate(&p)
	c.Log.validate(&p)
	c.Telemetry.validate(&p)
	c.HighAvailability.validate(&p, c.Database, c.Clusters)
	if len(p) > 0 {
		return errors.New("invalid configuration: " + strings.Join(p, "; "))
	}
	return nil
}

func (h HighAvailability) validate(p *problems, db Database, clusters []Cluster) {
	if !h.Enabled {
		return
	}
	if db.Driver != "postgres" {
		p.add("highAvailability.enabled", "replicas share one PostgreSQL: set database.driver to postgres (SQLite is one process's)")
	}
	if _, err := h.LeaseCluster(clusters); err != nil {
		p.add("highAvailability.cluster", "%v", err)
	}
	if h.LeaseName == "" || !dnsLabelRE.MatchString(h.LeaseName) {
		p.add("highAvailability.leaseName", "%q is not a Kubernetes object name (lower-case letters, digits and -)", h.LeaseName)
	}
	if h.Namespace != "" && !dnsLabelRE.MatchString(h.Namespace) {
		p.add("highAvailability.namespace", "%q is not a namespace name", h.Namespace)
	}
	// client-go's own rules: the leader must give up before the others may take over.
	if !(h.LeaseDuration.D() > h.RenewDeadline.D() && h.RenewDeadline.D() > h.RetryPeriod.D() && h.RetryPeriod.D() > 0) {
		p.add("highAvailability", "need leaseDuration > renewDeadline > retryPeriod > 0 (have %s, %s, %s)",
			h.LeaseDuration.D(), h.RenewDeadline.D(), h.RetryPeriod.D())
	}
}

// LeaseCluster is the cluster holding the Lease: the one named, else the one in-cluster.
func (h HighAvailability) LeaseCluster(clusters []Cluster) (Cluster, error) {
	var in []Cluster
	for _, c := range clusters {
		if h.Cluster != "" && c.Name == h.Cluster {
			return c, nil
		}
		if c.InCluster {
			in = append(in, c)
		}
	}
	switch {
	case h.Cluster != "":
		return Cluster{}, fmt.Errorf("%q is not a configured cluster", h.Cluster)
	case len(in) == 1:
		return in[0], nil
	default:
		return Cluster{}, errors.New("name the configured cluster that holds the Lease (no single cluster has inCluster: true)")
	}
}

func (t Telemetry) validate(p *problems) {
	if t.OTLPEndpoint != "" && !strings.HasPrefix(t.OTLPEndpoint, "http://") && !strings.HasPrefix(t.OTLPEndpoint, "https://") {
		p.add("telemetry.otlpEndpoint", "%q must be an http:// or https:// URL (OTLP over HTTP, e.g. http://jaeger:4318)", t.OTLPEndpoint)
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		p.add("telemetry.sampleRatio", "must be between 0 and 1")
	}
}

func (m MCP) validate(p *problems) {
	if !m.Enabled {
		return
	}
	if l := m.RateLimit; l.PerSecond <= 0 || l.Burst <= 0 {
		p.add("mcp.rateLimit", "perSecond and burst must be positive: tool calls are always rate limited per user")
	}
	if m.Timeout.D() <= 0 {
		p.add("mcp.timeout", "must be positive, like 20s")
	}
	if m.MaxOutputKB < 1 || m.MaxOutputKB > 4096 {
		p.add("mcp.maxOutputKB", "must be from 1 to 4096")
	}
}

func (s Server) validate(p *problems) {
	if _, port, err := net.SplitHostPort(s.Addr); err != nil {
		p.add("server.addr", "%q is not host:port", s.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add("server.addr", "port %q is not a number from 0 to 65535", port)
	}
	if _, err := s.TrustedNets(); err != nil {
		p.add("server.trustedProxies", "%v", err)
	}
	for name, l := range map[string]RateLimit{"auth": s.RateLimits.Auth, "webhooks": s.RateLimits.Webhooks} {
		if l.PerSecond < 0 || l.Burst < 0 || (l.PerSecond > 0) != (l.Burst > 0) {
			p.add("server.rateLimits."+name, "perSecond and burst must both be positive (or both 0 to turn the limit off)")
		}
	}
}

func (d Database) validate(p *problems) {
	switch d.Driver {
	case "sqlite", "postgres":
		if d.DSN == "" {
			p.add("database.dsn", "required (a file path for sqlite, a connection string for postgres)")
		}
	default:
		p.add("database.driver", "%q is not supported; use sqlite or postgres", d.Driver)
	}
}

func (c Catalog) validate(p *problems) {
	if d := c.RefreshInterval.D(); d < time.Second {
		p.add("catalog.refreshInterval", "%s is too short; use at least 1s", d)
	}
	if c.Orphans != "delete" && c.Orphans != "keep" {
		p.add("catalog.orphans", "%q must be delete or keep", c.Orphans)
	}
	if c.MaxFileSize <= 0 {
		p.add("catalog.maxFileSize", "must be a positive number of bytes")
	}
	names := map[string]bool{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("catalog.sources[%d]", i)
		switch {
		case s.Name == "":
			p.add(key+".name", "required")
		case !sourceNameRE.MatchString(s.Name):
			p.add(key+".name", "%q may hold only letters, digits, - and _", s.Name)
		case names[s.Name]:
			p.add(key+".name", "%q is used by another source", s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case "dir":
			if s.Path == "" {
				p.add(key+".path", "required for a folder source")
			}
		case "git":
			if s.URL == "" {
				p.add(key+".url", "required for a git source")
			}
		default:
			p.add(key+".type", "%q must be dir or git", s.Type)
		}
	}
}

func (a Auth) validate(p *problems, s Server) {
	o := a.OIDC
	if o.Issuer == "" {
		return
	}
	if o.ClientID == "" {
		p.add("auth.oidc.clientID", "required with an issuer")
	}
	if a.SessionKeyEnv == "" {
		p.add("auth.sessionKeyEnv", "required with an issuer: name the environment variable holding a key of at least 32 bytes")
	}
	if o.RedirectURL == "" && s.BaseURL == "" {
		p.add("auth.oidc.redirectURL", "required when server.baseURL is not set")
	}
}

func validateClusters(p *problems, clusters []Cluster) {
	names := map[string]bool{}
	for i, cl := range clusters {
		key := fmt.Sprintf("clusters[%d]", i)
		switch {
		case cl.Name == "" || !sourceNameRE.MatchString(cl.Name):
			p.add(key+".name", "required: letters, digits, - and _")
		case names[cl.Name]:
			p.add(key+".name", "%q is used by another cluster", cl.Name)
		}
		names[cl.Name] = true
		if cl.InCluster == (cl.Kubeconfig != "") {
			p.add(key, "set exactly one of kubeconfig and inCluster")
		}
		for j, g := range cl.ImpersonateGroups {
			if _, err := path.Match(g, ""); err != nil {
				p.add(fmt.Sprintf("%s.impersonateGroups[%d]", key, j), "%q is not a valid pattern", g)
			}
		}
	}
}

func (o Observability) validate(p *problems) {
	for name, b := range map[string]Backend{"prometheus": o.Prometheus, "alertmanager": o.Alertmanager, "jaeger": o.Jaeger} {
		key := "observability." + name
		if b.URL == "" {
			continue
		}
		if name != "jaeger" && !strings.HasPrefix(b.URL, "http://") && !strings.HasPrefix(b.URL, "https://") {
			p.add(key+".url", "%q must be an http:// or https:// URL", b.URL)
		}
		if name == "jaeger" && strings.Contains(b.URL, "://") {
			p.add(key+".url", "%q must be the query service's gRPC host:port, e.g. jaeger-query:16685", b.URL)
		}
		if b.Timeout <= 0 {
			p.add(key+".timeout", "must be positive")
		}
		if b.Username != "" && b.BearerTokenEnv != "" {
			p.add(key, "set either bearerTokenEnv or username/passwordEnv, not both")
		}
	}
	names := map[string]bool{}
	for i, ch := range o.Charts {
		key := fmt.Sprintf("observability.charts[%d]", i)
		if ch.Name == "" || names[ch.Name] {
			p.add(key+".name", "required and unique")
		}
		names[ch.Name] = true
		if len(ch.Queries) == 0 {
			p.add(key+".queries", "give at least one query")
		}
		for j, q := range ch.Queries {
			if _, err := template.New(ch.Name).Parse(q.Query); err != nil || q.Query == "" {
				p.add(fmt.Sprintf("%s.queries[%d].query", key, j), "required, a Go template (%v)", err)
			}
		}
	}
}

func (a Actions) validate(p *problems) {
	if a.MaxReplicas < 1 || a.MaxReplicas > 10000 {
		p.add("actions.maxReplicas", "must be between 1 and 10000, not %d", a.MaxReplicas)
	}
}

func (l Log) validate(p *problems) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q must be debug, info, warn or error", l.Level)
	}
	if l.Format != "json" && l.Format != "text" {
		p.add("log.format", "%q must be json or text", l.Format)
	}
}
