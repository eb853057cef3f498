package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
)

// Provider is the stack's OIDC provider as tests reach it.
type Provider = devstack.OIDCProvider

var (
	oidcOnce sync.Once
	oidcProv *Provider
	oidcErr  error
)

// OIDC starts the local stack's OpenID Connect provider (demo users, password "portico") once
// per test binary on a free port. Its portico client accepts any 127.0.0.1 redirect URI.
func OIDC(tb testing.TB) *Provider {
	tb.Helper()
	oidcOnce.Do(func() { oidcProv, oidcErr = startOIDC() })
	if oidcErr != nil {
		tb.Fatalf("the OIDC provider is required and could not start: %v", oidcErr)
	}
	return oidcProv
}

// StartOIDC is OIDC for programs that are not tests (the benchmarks); StopAll stops it.
func StartOIDC() (*Provider, error) {
	oidcOnce.Do(func() { oidcProv, oidcErr = startOIDC() })
	return oidcProv, oidcErr
}

func startOIDC() (*Provider, error) {
	if reuseStack() != "" {
		return &Provider{Issuer: "http://127.0.0.1:5556", ClientID: "portico", ClientSecret: "portico-dev-secret"}, nil
	}
	bins, dir, err := stackWorkspace("portico-oidc-")
	if err != nil {
		return nil, err
	}
	if bins.OIDC == "" {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("not built: run deploy/local/build.sh oidc")
	}
	onStop(func() {
		_, _ = devstack.StopAll(dir)
		os.RemoveAll(dir)
	})
	port, err := ReservePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ln, err := devstack.Listen("oidc provider", addr)
	if err != nil {
		return nil, err
	}
	p := &Provider{Issuer: "http://" + addr, ClientID: "portico", ClientSecret: "portico-dev-secret"}
	_, err = devstack.StartServing(context.Background(), dir, "oidc", bins.OIDC, []string{"--addr", addr, "--client-id", p.ClientID, "--client-secret", p.ClientSecret},
		nil, ln, p.Issuer+"/.well-known/openid-configuration", 20*time.Second)
	return p, err
}
