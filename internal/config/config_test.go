package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		wantErr string
		check   func(*Config) string
	}{
		{name: "embedded default", check: func(c *Config) string {
			if c.Server.Addr != "127.0.0.1:8080" || c.Database.DSN != "./data/portico.db" || c.Catalog.Sources[0].Path != "./catalog" {
				return "defaults wrong"
			}
			return ""
		}},
		{name: "env overrides", env: map[string]string{"PORTICO_ADDR": "127.0.0.1:9999", "PORTICO_DATABASE_DRIVER": "postgres", "PORTICO_DATABASE_DSN": "host=x"},
			check: func(c *Config) string {
				if c.Server.Addr != "127.0.0.1:9999" || c.Database.Driver != "postgres" {
					return "env not applied"
				}
				return ""
			}},
		{name: "file with git source", file: "catalog:\n  sources:\n    - {name: repo, type: git, url: https://github.com/acme/catalog}\n  refreshInterval: 30s\n",
			check: func(c *Config) string {
				if len(c.Catalog.Sources) != 1 || c.Catalog.Sources[0].Globs[0] != "**/catalog-info.yaml" || c.Catalog.RefreshInterval.D().Seconds() != 30 {
					return "file not applied"
				}
				return ""
			}},
		{name: "unknown key named", file: "server:\n  adr: x\n", wantErr: "2: unknown key server.adr"},
		{name: "bad driver named", file: "database: {driver: mysql}\n", wantErr: "database.driver: \"mysql\" is not supported"},
		{name: "git source without url", file: "catalog:\n  sources: [{name: a, type: git}]\n", wantErr: "catalog.sources[0].url: required"},
		{name: "bad duration", file: "catalog: {refreshInterval: soon}\n", wantErr: "not a duration"},
		{name: "bad addr env", env: map[string]string{"PORTICO_ADDR": "nope"}, wantErr: "server.addr"},
		{name: "replicas need postgres", file: "highAvailability: {enabled: true}\nclusters: [{name: home, inCluster: true}]\n",
			wantErr: "highAvailability.enabled: replicas share one PostgreSQL"},
		{name: "lease cluster must be configured", file: "database: {driver: postgres, dsn: postgres://db/portico}\nhighAvailability: {enabled: true, cluster: nowhere}\n",
			wantErr: `highAvailability.cluster: "nowhere" is not a configured cluster`},
		{name: "lease cluster needed", file: "database: {driver: postgres, dsn: postgres://db/portico}\nhighAvailability: {enabled: true}\nclusters: [{name: a, kubeconfig: a.yaml}]\n",
			wantErr: "highAvailability.cluster: name the configured cluster"},
		{name: "lease timings", file: "database: {driver: postgres, dsn: postgres://db/portico}\nclusters: [{name: home, inCluster: true}]\nhighAvailability: {enabled: true, leaseDuration: 5s, renewDeadline: 10s}\n",
			wantErr: "need leaseDuration > renewDeadline > retryPeriod > 0"},
		{name: "lease name", file: "database: {driver: postgres, dsn: postgres://db/portico}\nclusters: [{name: home, inCluster: true}]\nhighAvailability: {enabled: true, leaseName: Portico_Lease}\n",
			wantErr: "highAvailability.leaseName"},
		{name: "replicas on the in-cluster cluster", file: "database: {driver: postgres, dsn: postgres://db/portico}\nclusters: [{name: a, kubeconfig: a.yaml}, {name: home, inCluster: true}]\nhighAvailability: {enabled: true}\n",
			check: func(c *Config) string {
				if lc, err := c.HighAvailability.LeaseCluster(c.Clusters); err != nil || lc.Name != "home" || c.HighAvailability.LeaseDuration.D() != 15*time.Second {
					return fmt.Sprintf("lease cluster %v %v, duration %s", lc.Name, err, c.HighAvailability.LeaseDuration.D())
				}
				return ""
			}},
		{name: "oidc without session key", file: "auth: {oidc: {issuer: http://idp, clientID: portico}}\nserver: {baseURL: http://x}\n", wantErr: "auth.sessionKeyEnv: required"},
		{name: "anonymous defaults", check: func(c *Config) string {
			if !c.Auth.AnonymousAllowed() {
				return "without a provider, anonymous read-only browsing is the default"
			}
			c.Auth.OIDC.Issuer = "http://idp"
			if c.Auth.AnonymousAllowed() {
				return "with a provider, anonymous access must be off unless configured"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), "portico.yaml")
				os.WriteFile(path, []byte(tt.file), 0o600)
			}
			c, err := Load(path, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// TestEnvTable: every documented variable is applied (one table holds both), and Validate
// changes nothing while Load fills the list defaults.
func TestEnvTable(t *testing.T) {
	for _, e := range Env {
		c := Default()
		value := "x1,x2"
		switch e.Name {
		case "PORTICO_CATALOG_REFRESH_INTERVAL":
			value = "42s"
		}
		before := fmt.Sprintf("%+v", *c)
		if err := c.applyEnv(func(k string) string {
			if k == e.Name {
				return value
			}
			return ""
		}); err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		if fmt.Sprintf("%+v", *c) == before {
			t.Errorf("%s (%s) changed nothing", e.Name, e.Key)
		}
	}
	c := Default()
	c.Catalog.Sources = []Source{{Name: "a", Type: "dir", Path: "x"}}
	c.Clusters = []Cluster{{Name: "east", Kubeconfig: "k"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Catalog.Sources[0].Globs != nil || c.Clusters[0].DisplayName != "" {
		t.Errorf("Validate filled defaults: %+v %+v", c.Catalog.Sources[0], c.Clusters[0])
	}
	c.withDefaults()
	if len(c.Catalog.Sources[0].Globs) != 1 || c.Clusters[0].DisplayName != "east" {
		t.Errorf("withDefaults: %+v %+v", c.Catalog.Sources[0], c.Clusters[0])
	}
}
