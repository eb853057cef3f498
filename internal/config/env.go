package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// EnvVar is one environment override: its name, the key it sets (for the README and
// --help), and how it sets it. One table, so a name cannot be documented and not applied.
type EnvVar struct {
	Name, Key string
	set       func(c *Config, v string) error
}

func list(v string) []string { return strings.Split(v, ",") }

// Env lists the environment overrides, applied after the file.
var Env = []EnvVar{
	{"PORTICO_ADDR", "server.addr", func(c *Config, v string) error { c.Server.Addr = v; return nil }},
	{"PORTICO_ADMIN_ADDR", "server.adminAddr", func(c *Config, v string) error { c.Server.AdminAddr = v; return nil }},
	{"PORTICO_OTLP_ENDPOINT", "telemetry.otlpEndpoint", func(c *Config, v string) error { c.Telemetry.OTLPEndpoint = v; return nil }},
	{"PORTICO_BASE_URL", "server.baseURL", func(c *Config, v string) error { c.Server.BaseURL = v; return nil }},
	{"PORTICO_TRUSTED_PROXIES", "server.trustedProxies (comma-separated)", func(c *Config, v string) error { c.Server.TrustedProxies = list(v); return nil }},
	{"PORTICO_DATABASE_DRIVER", "database.driver", func(c *Config, v string) error { c.Database.Driver = v; return nil }},
	{"PORTICO_DATABASE_DSN", "database.dsn", func(c *Config, v string) error { c.Database.DSN = v; return nil }},
	{"PORTICO_CATALOG_DIR", "catalog.sources[0].path (when that source is a folder)", func(c *Config, v string) error {
		if len(c.Catalog.Sources) == 0 || c.Catalog.Sources[0].Type != "dir" {
			return errors.New("the first catalog source is not a folder")
		}
		c.Catalog.Sources[0].Path = v
		return nil
	}},
	{"PORTICO_CATALOG_REFRESH_INTERVAL", "catalog.refreshInterval", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Catalog.RefreshInterval = Duration(d)
		return err
	}},
	{"PORTICO_WEBHOOK_SECRETS", "catalog.webhookSecrets (comma-separated)", func(c *Config, v string) error { c.Catalog.WebhookSecrets = list(v); return nil }},
	{"PORTICO_GITHUB_WEBHOOK_SECRETS", "pipelines.github.secrets (comma-separated)", func(c *Config, v string) error { c.Pipelines.GitHub.Secrets = list(v); return nil }},
	{"PORTICO_GITLAB_WEBHOOK_SECRETS", "pipelines.gitlab.secrets (comma-separated)", func(c *Config, v string) error { c.Pipelines.GitLab.Secrets = list(v); return nil }},
	{"PORTICO_PIPELINE_WEBHOOK_SECRETS", "pipelines.generic.secrets (comma-separated)", func(c *Config, v string) error { c.Pipelines.Generic.Secrets = list(v); return nil }},
	{"PORTICO_RUNBOOKS_DIR", "runbooks.dir", func(c *Config, v string) error { c.Runbooks.Dir = v; return nil }},
	{"PORTICO_HA_IDENTITY", "highAvailability.identity", func(c *Config, v string) error { c.HighAvailability.Identity = v; return nil }},
	{"PORTICO_LOG_LEVEL", "log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"PORTICO_LOG_FORMAT", "log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
}

func (c *Config) applyEnv(getenv func(string) string) error {
	for _, e := range Env {
		if v := getenv(e.Name); v != "" {
			if err := e.set(c, v); err != nil {
				return fmt.Errorf("%s=%q: %v", e.Name, v, err)
			}
		}
	}
	return nil
}
