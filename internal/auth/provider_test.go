package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portico-dev/portico/internal/testenv"
)

// clock is a settable clock for an Authenticator.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) set(d time.Duration) {
	c.mu.Lock()
	c.off = d
	c.mu.Unlock()
}

// realToken is an ID token the stack's real provider issued to alice for the portal.
func realToken(t *testing.T, scopes ...string) (idToken, refresh string) {
	t.Helper()
	tok, err := testenv.OIDC(t).Tokens("alice.nguyen", "portico", scopes...)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("the provider returned no ID token")
	}
	return raw, tok.RefreshToken
}

func realAuthenticator(t *testing.T, clientID string) *Authenticator {
	t.Helper()
	p := testenv.OIDC(t)
	a, err := New(Config{Issuer: p.Issuer, ClientID: clientID, ClientSecret: p.ClientSecret, RedirectURL: "http://127.0.0.1:9/auth/callback",
		SessionKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// claimsOf decodes a JWT's payload.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRealProviderTokens: the stack's provider's own ID token is accepted as a bearer token,
// and refused when it has expired, when it is another client's, when it is used before it
// was issued or became valid, when its claims are re-signed with a key the provider never
// published, and when re-signed with HS256 using the provider's public key as the secret.
func TestRealProviderTokens(t *testing.T) {
	raw, _ := realToken(t)
	a := realAuthenticator(t, testenv.OIDC(t).ClientID)
	var clk clock
	a.now = clk.now
	u, err := a.Bearer(t.Context(), raw)
	if err != nil || u.Email != "alice.nguyen@acme.example" || len(u.Groups) == 0 {
		t.Fatalf("the provider's own token: %+v %v", u, err)
	}
	claims := claimsOf(t, raw)
	iat := time.Unix(int64(claims["iat"].(float64)), 0)
	exp := time.Unix(int64(claims["exp"].(float64)), 0)

	refused := func(name string, a *Authenticator, tok string) {
		t.Helper()
		_, err := a.Bearer(t.Context(), tok)
		t.Logf("%s: refused: %v", name, err)
		if !errors.Is(err, ErrLogin) {
			t.Errorf("%s: err = %v, want it refused", name, err)
		}
	}
	clk.set(time.Until(exp) + time.Minute)
	refused("expired", a, raw)
	clk.set(-time.Since(iat) - 10*time.Minute) // the verifier's now is ten minutes before iat
	refused("iat in the future", a, raw)
	clk.set(0)
	refused("another client ID", realAuthenticator(t, "another-app"), raw)

	// Re-signed with a key the provider never published, under an unknown kid.
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: stranger, KeyID: "unknown-kid"}}, nil)
	payload, _ := json.Marshal(claims)
	obj, _ := sig.Sign(payload)
	unknownKid, _ := obj.CompactSerialize()
	refused("unknown kid", a, unknownKid)

	// Key confusion: HS256 with the provider's public key (as PEM, and as its JWK's n) as the
	// HMAC secret.
	jwks, err := testenv.OIDC(t).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("provider JWKS: %v", err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(set.Keys[0].Key)
	for name, secret := range map[string][]byte{
		"HS256 with the public key as PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"HS256 with the public key as DER": pub,
	} {
		header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": set.Keys[0].KeyID})
		signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signing))
		refused(name, a, signing+"."+base64.RawURLEncoding.EncodeToString(mac.Sum(nil)))
	}
}

// TestSessionLifetimeAndRefresh on the real provider: a session that stays busy still ends
// at its absolute maximum age; an expired access token is renewed with the refresh token;
// after the provider revokes that refresh token, the session ends.
func TestSessionLifetimeAndRefresh(t *testing.T) {
	p := testenv.OIDC(t)
	srv, a := app(t)
	var clk clock
	a.now = clk.now
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	me := func() int {
		res, err := c.Get(srv.URL + "/me")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// A portal asking for offline_access gets a refresh token (without one, a session ends
	// with the provider's tokens).
	a.cfg.Scopes = append(a.cfg.Scopes, "offline_access")
	if res := signIn(t, c, srv.URL, "alice.nguyen", "/me"); res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in with offline_access: %d", res.StatusCode)
	}
	session := func() Session {
		var s Session
		for _, ck := range jar.Cookies(mustURL(t, srv.URL)) {
			if ck.Name == sessionCookie {
				if err := a.sealer.open(sessionCookie, ck.Value, &s); err != nil {
					t.Fatal(err)
				}
			}
		}
		return s
	}
	first := session()
	if first.RefreshToken == "" || first.TokenExpiry.IsZero() {
		t.Fatalf("no refresh token from the provider: %+v", first)
	}
	t.Run("refresh renews", func(t *testing.T) {
		clk.set(time.Until(first.TokenExpiry) + time.Minute)
		if got := me(); got != http.StatusOK {
			t.Fatalf("after the access token expired = %d, want the session renewed", got)
		}
		if again := session(); again.RefreshToken == first.RefreshToken || again.TokenExpiry.Equal(first.TokenExpiry) {
			t.Errorf("tokens not renewed: refresh token changed %v, expiry %s → %s", again.RefreshToken != first.RefreshToken, first.TokenExpiry, again.TokenExpiry)
		}
	})
	t.Run("absolute max age", func(t *testing.T) {
		// Idle timeout 1 h, max age 2 h (see app): a request every 50 minutes keeps the
		// session from idling out (renewing its tokens each time), but not past two hours.
		for _, at := range []time.Duration{50 * time.Minute, 100 * time.Minute} {
			clk.set(at)
			if got := me(); got != http.StatusOK {
				t.Fatalf("busy session at %s = %d, want 200", at, got)
			}
		}
		clk.set(2*time.Hour + time.Minute)
		if got := me(); got != http.StatusUnauthorized {
			t.Errorf("session past its absolute max age = %d, want 401", got)
		}
	})
	clk.set(0)
	if res := signIn(t, c, srv.URL, "alice.nguyen", "/me"); res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in again: %d", res.StatusCode)
	}
	t.Run("revoked refresh token ends the session", func(t *testing.T) {
		s := session()
		if err := p.Revoke(s.RefreshToken, "refresh_token"); err != nil {
			t.Fatal(err)
		}
		clk.set(time.Until(s.TokenExpiry) + 2*time.Minute)
		if got := me(); got != http.StatusUnauthorized {
			t.Errorf("after the refresh token was revoked = %d, want 401", got)
		}
	})
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
