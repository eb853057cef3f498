package auth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// app is a minimal portal around the Authenticator.
func app(t *testing.T) (*httptest.Server, *Authenticator) {
	t.Helper()
	p := testenv.OIDC(t)
	var a *Authenticator
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a, err := New(Config{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: srv.URL + "/auth/callback",
		SessionKey: []byte(strings.Repeat("s", 32)), IdleTimeout: time.Hour, MaxAge: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		u, err := a.Begin(w, r, r.URL.Query().Get("next"))
		if err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("/auth/callback", func(w http.ResponseWriter, r *http.Request) {
		next, err := a.Finish(w, r)
		if err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		http.Redirect(w, r, next, http.StatusFound)
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		s, err := a.Current(w, r)
		if err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		json.NewEncoder(w).Encode(s.User)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, a.End(w, r, srv.URL+"/"), http.StatusFound)
	})
	return srv, a
}

// signIn drives the provider's login form like a browser and lands on next.
func signIn(t *testing.T, c *http.Client, srv, user, next string) *http.Response {
	t.Helper()
	res, err := c.Get(srv + "/login?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	if res, err = testenv.OIDC(t).Login(c, res, user, "portico"); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSignInFlow(t *testing.T) {
	srv, a := app(t)
	issuer := testenv.OIDC(t).Issuer
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if res, _ := c.Get(srv.URL + "/me"); res.StatusCode != 401 {
		t.Fatalf("/me before sign-in = %d", res.StatusCode)
	}
	res := signIn(t, c, srv.URL, "alice.nguyen", "/me")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var u User
	if res.Request.URL.Path != "/me" || json.Unmarshal(body, &u) != nil {
		t.Fatalf("after sign-in landed on %s: %s", res.Request.URL, body)
	}
	if u.Subject != "alice.nguyen" || u.Email != "alice.nguyen@acme.example" || !slices.Contains(u.Groups, "team-payments") {
		t.Errorf("user = %+v", u)
	}
	// Tampering with the cookie ends the session.
	su, _ := url.Parse(srv.URL)
	for _, ck := range jar.Cookies(su) {
		if ck.Name == sessionCookie {
			jar.SetCookies(su, []*http.Cookie{{Name: sessionCookie, Value: ck.Value[:len(ck.Value)-3] + "abc", Path: "/"}})
		}
	}
	if res, _ := c.Get(srv.URL + "/me"); res.StatusCode != 401 {
		t.Errorf("/me with a tampered cookie = %d, want 401", res.StatusCode)
	}
	// Idle and absolute expiry.
	signIn(t, c, srv.URL, "alice.nguyen", "/me").Body.Close()
	a.now = func() time.Time { return time.Now().Add(90 * time.Minute) }
	if res, _ := c.Get(srv.URL + "/me"); res.StatusCode != 401 {
		t.Errorf("/me after the idle timeout = %d, want 401", res.StatusCode)
	}
	a.now = time.Now
	// Sign-out clears the session and visits the provider's end-session endpoint.
	signIn(t, c, srv.URL, "kemi.adeyemi", "/me").Body.Close()
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, _ = noFollow.Get(srv.URL + "/logout")
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, issuer+"/end_session") || !strings.Contains(loc, "id_token_hint=") {
		t.Errorf("logout redirect = %q, want the provider's end-session endpoint with an id_token_hint", loc)
	}
	if res, _ := c.Get(srv.URL + "/me"); res.StatusCode != 401 {
		t.Errorf("/me after sign-out = %d", res.StatusCode)
	}
}

func TestCallbackRefusesForgery(t *testing.T) {
	srv, _ := app(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, _ := c.Get(srv.URL + "/auth/callback?code=x&state=y")
	if res.StatusCode != 401 {
		t.Errorf("callback without a started sign-in = %d, want 401", res.StatusCode)
	}
	// A started sign-in, then a callback with another state.
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	noFollow.Get(srv.URL + "/login")
	res, _ = c.Get(srv.URL + "/auth/callback?code=x&state=forged")
	if res.StatusCode != 401 {
		t.Errorf("callback with a forged state = %d", res.StatusCode)
	}
	if got := safeNext("https://evil.example/"); got != "/" {
		t.Errorf("safeNext kept an external URL: %q", got)
	}
}
