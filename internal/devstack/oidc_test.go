package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portico-dev/portico/internal/testenv"
)

// TestOIDCDemoUsers signs each demo user in through the provider's real authorization code
// flow with PKCE, verifies the ID token with go-oidc and checks the groups claim.
func TestOIDCDemoUsers(t *testing.T) {
	p := testenv.OIDC(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, password string
		wantGroups     []string
		wantErr        bool
	}{
		{"alice.nguyen", "portico", []string{"team-payments"}, false},
		{"carla.mendes", "portico", []string{"team-identity"}, false},
		{"kemi.adeyemi", "portico", []string{"sre-oncall"}, false},
		{"jonas.berg", "portico", []string{"team-platform", "portico-admins"}, false},
		{"oscar.lind", "portico", []string{"viewers"}, false},
		{"alice.nguyen", "wrong", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.password, func(t *testing.T) {
			claims, err := signIn(ctx, provider, p, tt.user, tt.password)
			if tt.wantErr {
				if err == nil {
					t.Fatal("sign-in with a wrong password succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims.Email != tt.user+"@acme.example" || !slices.Equal(claims.Groups, tt.wantGroups) {
				t.Errorf("claims = %+v, want email %s@acme.example and groups %v", claims, tt.user, tt.wantGroups)
			}
		})
	}
}

type idClaims struct {
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
	Nonce  string   `json:"nonce"`
}

func signIn(ctx context.Context, provider *oidc.Provider, p *testenv.Provider, user, password string) (*idClaims, error) {
	redirect := "http://127.0.0.1:1/auth/callback" // never reached: the client stops at the redirect
	cfg := oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups"}}
	verifier, state, nonce := oauth2.GenerateVerifier(), "state-1234567", "nonce-7654321"
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := client.Get(cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	res, err = p.Login(client, res, user, password)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("sign-in refused (status %d)", res.StatusCode)
	}
	if loc.Query().Get("state") != state {
		return nil, fmt.Errorf("state changed")
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return nil, err
	}
	if c.Nonce != nonce {
		return nil, fmt.Errorf("nonce %q, want %q", c.Nonce, nonce)
	}
	return &c, nil
}
