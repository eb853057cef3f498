package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portico-dev/portico/internal/store"
)

// tokenIssuer is a minimal OpenID provider that issues whatever ID token a test crafts. The
// real provider is used for the real flows (auth_test.go, e2e); this one exists because only
// a provider under the test's control can issue the malformed tokens a verifier must refuse.
type tokenIssuer struct {
	*httptest.Server
	key, other *rsa.PrivateKey
	mu         sync.Mutex
	next       string // the id_token the token endpoint answers with
}

func newTokenIssuer(t *testing.T) *tokenIssuer {
	t.Helper()
	ti := &tokenIssuer{}
	ti.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	ti.other, _ = rsa.GenerateKey(rand.Reader, 2048)
	mux := http.NewServeMux()
	ti.Server = httptest.NewServer(mux)
	t.Cleanup(ti.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": ti.URL, "authorization_endpoint": ti.URL + "/auth", "token_endpoint": ti.URL + "/token",
			"jwks_uri": ti.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ti.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque", "token_type": "Bearer", "expires_in": 300, "id_token": ti.next})
	})
	return ti
}

// claims are a valid ID token's claims for the portal's client; tests spoil one at a time.
func (ti *tokenIssuer) claims(nonce string) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": ti.URL, "aud": "portico", "sub": "alice.nguyen", "email": "alice.nguyen@acme.example",
		"groups": []string{"team-payments"}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

func (ti *tokenIssuer) sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// unsigned is a token with "alg": "none".
func unsigned(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

func newTestAuthenticator(t *testing.T, issuer string) *Authenticator {
	t.Helper()
	a, err := New(Config{Issuer: issuer, ClientID: "portico", ClientSecret: "s", RedirectURL: "http://127.0.0.1/auth/callback",
		SessionKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTokenVerificationRefuses: the ID tokens (and API bearer tokens) a verifier must refuse.
func TestTokenVerificationRefuses(t *testing.T) {
	ti := newTokenIssuer(t)
	a := newTestAuthenticator(t, ti.URL)
	if u, err := a.Bearer(t.Context(), ti.sign(t, ti.key, ti.claims(""))); err != nil || u.Email != "alice.nguyen@acme.example" || u.Groups[0] != "team-payments" {
		t.Fatalf("a valid token: %+v %v", u, err)
	}
	spoil := func(k string, v any) map[string]any {
		c := ti.claims("")
		c[k] = v
		return c
	}
	for name, tok := range map[string]string{
		"expired":           ti.sign(t, ti.key, spoil("exp", time.Now().Add(-time.Minute).Unix())),
		"wrong audience":    ti.sign(t, ti.key, spoil("aud", "another-app")),
		"wrong issuer":      ti.sign(t, ti.key, spoil("iss", "https://evil.example")),
		"nbf in the future": ti.sign(t, ti.key, spoil("nbf", time.Now().Add(3*time.Minute).Unix())),
		"iat in the future": ti.sign(t, ti.key, spoil("iat", time.Now().Add(3*time.Minute).Unix())),
		"bad signature":     ti.sign(t, ti.other, ti.claims("")),
		"alg none":          unsigned(ti.claims("")),
		"not a JWT":         "opaque-token",
	} {
		if _, err := a.Bearer(t.Context(), tok); !errors.Is(err, ErrLogin) {
			t.Errorf("%s: %v, want it refused", name, err)
		}
	}
}

// TestCallbackRefusesBadNonceAndReplay drives Begin and Finish with crafted ID tokens.
func TestCallbackRefusesBadNonceAndReplay(t *testing.T) {
	ti := newTokenIssuer(t)
	a := newTestAuthenticator(t, ti.URL)
	begin := func() (*http.Cookie, url.Values) {
		rec := httptest.NewRecorder()
		to, err := a.Begin(rec, httptest.NewRequest(http.MethodGet, "/auth/login", nil), "/me")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(to)
		return rec.Result().Cookies()[0], u.Query()
	}
	finish := func(cookie *http.Cookie, state string) error {
		req := httptest.NewRequest(http.MethodGet, "/auth/callback?code=c&state="+url.QueryEscape(state), nil)
		req.AddCookie(cookie)
		_, err := a.Finish(httptest.NewRecorder(), req)
		return err
	}
	setToken := func(tok string) {
		ti.mu.Lock()
		ti.next = tok
		ti.mu.Unlock()
	}

	cookie, q := begin()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization request lacks PKCE, nonce or state: %v", q)
	}
	setToken(ti.sign(t, ti.key, ti.claims("")))
	if err := finish(cookie, q.Get("state")); !errors.Is(err, ErrLogin) || !strings.Contains(strings.ToLower(err.Error()), "nonce") {
		t.Errorf("missing nonce: %v", err)
	}
	cookie, q = begin()
	setToken(ti.sign(t, ti.key, ti.claims("another-nonce")))
	if err := finish(cookie, q.Get("state")); !errors.Is(err, ErrLogin) || !strings.Contains(strings.ToLower(err.Error()), "nonce") {
		t.Errorf("wrong nonce: %v", err)
	}
	cookie, q = begin()
	setToken(ti.sign(t, ti.key, ti.claims(q.Get("nonce"))))
	if err := finish(cookie, ""); !errors.Is(err, ErrLogin) {
		t.Errorf("missing state: %v", err)
	}
	cookie, q = begin()
	setToken(ti.sign(t, ti.key, ti.claims(q.Get("nonce"))))
	if err := finish(cookie, q.Get("state")); err != nil {
		t.Fatalf("a valid callback: %v", err)
	}
	if err := finish(cookie, q.Get("state")); !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replayed callback (captured cookie, same state): %v", err)
	}
}

// TestReplayRefusedByAnotherReplica completes a sign-in at one replica and replays the
// callback (with the captured login cookie) at another: the shared store refuses it.
func TestReplayRefusedByAnotherReplica(t *testing.T) {
	ti := newTokenIssuer(t)
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	replica := func() *Authenticator {
		a, err := New(Config{Issuer: ti.URL, ClientID: "portico", ClientSecret: "s", RedirectURL: "http://127.0.0.1/auth/callback",
			SessionKey: []byte(strings.Repeat("k", 32)), States: st})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := replica(), replica()
	rec := httptest.NewRecorder()
	to, err := a.Begin(rec, httptest.NewRequest(http.MethodGet, "/auth/login", nil), "/")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	ti.mu.Lock()
	ti.next = ti.sign(t, ti.key, ti.claims(u.Query().Get("nonce")))
	ti.mu.Unlock()
	callback := func(at *Authenticator) error {
		req := httptest.NewRequest(http.MethodGet, "/auth/callback?code=c&state="+url.QueryEscape(u.Query().Get("state")), nil)
		req.AddCookie(rec.Result().Cookies()[0])
		_, err := at.Finish(httptest.NewRecorder(), req)
		return err
	}
	if err := callback(a); err != nil {
		t.Fatalf("sign-in at replica A: %v", err)
	}
	if err := callback(b); !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replay at replica B: %v, want refused", err)
	}
}
