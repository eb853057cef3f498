package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/policy"
)

// TestAuditSourceIPCannotBeForged: a restart sent with X-Forwarded-For: 6.6.6.6 is recorded
// with the connection's peer address; only when the peer is a configured proxy is the header
// believed.
func TestAuditSourceIPCannotBeForged(t *testing.T) {
	for _, tt := range []struct {
		name    string
		proxies []*net.IPNet
		want    string
	}{
		{"no trusted proxy", nil, "127.0.0.1"},
		{"peer is a trusted proxy", []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}}, "6.6.6.6"},
		{"peer is not the trusted proxy", []*net.IPNet{{IP: net.IPv4(10, 1, 2, 3), Mask: net.CIDRMask(32, 32)}}, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newActionEnv(t, "staging", "experimental", policy.Default(), func(d *Deps) { d.TrustedProxies = tt.proxies })
			status, body := e.api(t, "alice", "ledger", "restart", map[string]any{"reason": "forged address"}, "X-Forwarded-For", "6.6.6.6")
			if status != http.StatusOK {
				t.Fatalf("restart = %d %v", status, body)
			}
			entries, err := e.audit.List(context.Background(), audit.Filter{Action: "restart", Limit: 5})
			if err != nil || len(entries) != 1 {
				t.Fatalf("audit entries = %v (%v), want 1", entries, err)
			}
			if got := entries[0].SourceIP; got != tt.want {
				t.Errorf("sourceIp = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRateLimits: sign-in and webhooks answer 429 with Retry-After past their limit per client
// address, and the limit is logged; other clients (by address) are unaffected.
func TestRateLimits(t *testing.T) {
	var logs strings.Builder
	st, r, _ := catalogEnv(t, t.TempDir())
	srv := New(Deps{Catalog: r, DB: st, Auth: headerAuth{}, WebhookSecrets: []string{"s"}, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		TrustedProxies:   []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}},
		AuthRateLimit:    RateLimit{PerSecond: 0.01, Burst: 3},
		WebhookRateLimit: RateLimit{PerSecond: 0.01, Burst: 5}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, from string) *http.Response {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader("{}"))
		req.Header.Set("X-Forwarded-For", from)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for _, tt := range []struct {
		method, path string
		burst        int
	}{{http.MethodGet, "/auth/login", 3}, {http.MethodPost, "/webhooks/git", 5}} {
		for i := range tt.burst {
			if res := send(tt.method, tt.path, "203.0.113.7"); res.StatusCode == http.StatusTooManyRequests {
				t.Fatalf("%s request %d of the burst refused", tt.path, i+1)
			}
		}
		res := send(tt.method, tt.path, "203.0.113.7")
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s past the burst = %d (Retry-After %q), want 429 with Retry-After", tt.path, res.StatusCode, res.Header.Get("Retry-After"))
		}
		if res := send(tt.method, tt.path, "198.51.100.9"); res.StatusCode == http.StatusTooManyRequests {
			t.Errorf("%s from another address = 429, want it unaffected", tt.path)
		}
	}
	if !strings.Contains(logs.String(), "rate limited") || !strings.Contains(logs.String(), "203.0.113.7") {
		t.Errorf("rate limiting not logged with the client address:\n%s", logs.String())
	}
}
