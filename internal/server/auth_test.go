package server

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestSignInRequired: with an identity provider configured and anonymous access off, pages
// redirect to sign-in, the API answers 401, operations stay open, and after signing in with
// the real provider the user's name shows and sign-out ends the session.
func TestSignInRequired(t *testing.T) {
	prov := testenv.OIDC(t)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: filepath.Join("..", "..", "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	books, _ := runbooks.Open(filepath.Join("..", "..", "runbooks"))
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	defer ts.Close()
	a, err := auth.New(auth.Config{Issuer: prov.Issuer, ClientID: prov.ClientID, ClientSecret: prov.ClientSecret,
		RedirectURL: ts.URL + "/auth/callback", SessionKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", New(Deps{Catalog: r, Runbooks: books, DB: st, Auth: a, BaseURL: ts.URL}))

	jar, _ := cookiejar.New(nil)
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, _ := noFollow.Get(ts.URL + "/catalog?q=pay")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/login?next="+url.QueryEscape("/catalog?q=pay") {
		t.Errorf("page without a session = %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := noFollow.Get(ts.URL + "/api/v1/entities"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without a session = %d, want 401", res.StatusCode)
	}
	if res, _ := noFollow.Get(ts.URL + "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz must stay open: %d", res.StatusCode)
	}

	c := &http.Client{Jar: jar}
	res, err = c.Get(ts.URL + "/catalog?q=pay") // → sign-in → provider login form
	if err != nil {
		t.Fatal(err)
	}
	res, err = prov.Login(c, res, "alice.nguyen", "portico")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != "/catalog" || res.Request.URL.Query().Get("q") != "pay" {
		t.Errorf("after sign-in landed on %s, want back on /catalog?q=pay", res.Request.URL)
	}
	if got := d.Find("[data-testid=user]").Text(); got != "Alice Nguyen" {
		t.Errorf("signed-in user shown = %q", got)
	}
	token, _ := d.Find("form.signout input[name=_csrf]").Attr("value")
	// Sign-out needs the CSRF token; without it nothing happens.
	if res, _ := noFollow.PostForm(ts.URL+"/auth/logout", nil); res.StatusCode == http.StatusFound {
		t.Error("sign-out without a CSRF token must be refused")
	}
	res, _ = noFollow.PostForm(ts.URL+"/auth/logout", url.Values{"_csrf": {token}})
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), prov.Issuer+"/end_session") {
		t.Errorf("sign-out = %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := noFollow.Get(ts.URL + "/catalog"); res.StatusCode != http.StatusFound {
		t.Errorf("after sign-out pages redirect to sign-in again: %d", res.StatusCode)
	}
	// A forged callback is refused with a clear page, not a 500.
	if res, _ := c.Get(ts.URL + "/auth/callback?code=x&state=y"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged callback = %d, want 401", res.StatusCode)
	}
}
