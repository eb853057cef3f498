package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/testenv"
)

// bearerCall sends a request to the API with an Authorization header and no cookie or CSRF
// token, as a script would.
func bearerCall(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, u, r)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestAPIWithProviderBearerTokens: the JSON API accepts the real provider's ID token for reads
// and for writes without a CSRF token (no ambient credential), and refuses it once expired or
// when the portal is another client; the refusal names no verifier detail.
func TestAPIWithProviderBearerTokens(t *testing.T) {
	prov := testenv.OIDC(t)
	tok, err := prov.Tokens("alice.nguyen", "portico")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	var offset time.Duration
	clock := func() time.Time { return time.Now().Add(offset) }
	newAuth := func(clientID string) *auth.Authenticator {
		a, err := auth.New(auth.Config{Issuer: prov.Issuer, ClientID: clientID, ClientSecret: prov.ClientSecret,
			RedirectURL: "http://127.0.0.1:9/auth/callback", SessionKey: []byte(strings.Repeat("k", 32)), Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	e := newActionEnv(t, "staging", "experimental", policy.Default(), func(d *Deps) { d.Auth = newAuth(prov.ClientID) })
	entity := e.URL + "/api/v1/entities/component/default/ledger"
	if status, body := bearerCall(t, http.MethodGet, entity, raw, nil); status != http.StatusOK || body["metadata"] == nil {
		t.Fatalf("read with the provider's token = %d %v", status, body)
	}
	action := entity + "/workloads/east/" + e.ns + "/ledger/restart"
	if status, body := bearerCall(t, http.MethodPost, action, raw, map[string]any{"reason": "bearer write"}); status != http.StatusOK {
		t.Fatalf("write with the provider's token and no CSRF token = %d %v", status, body)
	}
	entries, _ := e.audit.List(context.Background(), audit.Filter{Action: "restart", Limit: 5})
	if len(entries) != 1 || entries[0].Actor != "alice.nguyen@acme.example" || entries[0].Result != audit.Succeeded {
		t.Errorf("audit after the bearer write: %+v", entries)
	}
	offset = 2 * time.Hour // past the ID token's expiry
	status, body := bearerCall(t, http.MethodGet, entity, raw, nil)
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != http.StatusUnauthorized || strings.Contains(msg, "oidc:") || strings.Contains(msg, "Token Expiry") {
		t.Errorf("expired token = %d %q, want 401 with a message for people", status, msg)
	}
	if status, _ := bearerCall(t, http.MethodPost, action, raw, map[string]any{"reason": "expired"}); status != http.StatusUnauthorized {
		t.Errorf("write with an expired token = %d, want 401", status)
	}
	offset = 0
	other := httptest.NewServer(New(Deps{Catalog: e.srv.Catalog, DB: e.srv.DB, Auth: newAuth("another-app"), Policy: policy.Default()}))
	defer other.Close()
	if status, _ := bearerCall(t, http.MethodGet, other.URL+"/api/v1/entities", raw, nil); status != http.StatusUnauthorized {
		t.Errorf("a token for another client ID = %d, want 401", status)
	}
	if n, _ := e.audit.List(context.Background(), audit.Filter{Action: "restart", Limit: 5}); len(n) != 1 {
		t.Errorf("%d restart entries, want only the one allowed write", len(n))
	}
}

// TestCookieSessionWithBogusBearer: a request carrying both a valid session cookie and a
// bearer token that does not verify is refused — the bad token is never ignored in favour of
// the cookie — for reads and for writes.
func TestCookieSessionWithBogusBearer(t *testing.T) {
	prov := testenv.OIDC(t)
	ctx := context.Background()
	st, r, books := catalogEnv(t, "")
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	defer ts.Close()
	a, err := auth.New(auth.Config{Issuer: prov.Issuer, ClientID: prov.ClientID, ClientSecret: prov.ClientSecret,
		RedirectURL: ts.URL + "/auth/callback", SessionKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", New(Deps{Catalog: r, Runbooks: books, DB: st, Auth: a, BaseURL: ts.URL, Audit: audit.New(st.Client, nil)}))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(ts.URL + "/me")
	if err != nil {
		t.Fatal(err)
	}
	if res, err = prov.Login(c, res, "alice.nguyen", "portico"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %v %v", err, res)
	}
	res.Body.Close()
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/entities"},
		{http.MethodPost, "/api/v1/entities/component/default/payment/workloads/production/payments/payment/restart"},
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(`{"reason":"x"}`))
		req.Header.Set("Authorization", "Bearer not-a-real-token")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s with a session cookie and a bogus bearer token = %d, want 401", tt.method, tt.path, res.StatusCode)
		}
	}
	// The cookie alone still works.
	if res, _ := c.Get(ts.URL + "/api/v1/entities"); res.StatusCode != http.StatusOK {
		t.Errorf("the session cookie alone = %d, want 200", res.StatusCode)
	}
	if n, _ := st.Client.AuditEntry.Query().Count(ctx); n != 0 {
		t.Errorf("%d audit entries: the refused write reached an action", n)
	}
}
