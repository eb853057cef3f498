package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is how the portal reaches the identity provider and keeps sessions.
type Config struct {
	Issuer, ClientID, ClientSecret string
	RedirectURL                    string // the portal's /auth/callback as the browser reaches it
	Scopes                         []string
	GroupsClaim, EmailClaim        string // claim names (providers differ)
	NameClaim                      string
	SessionKey                     []byte
	IdleTimeout, MaxAge            time.Duration
	SecureCookies                  bool       // set with https
	States                         StateStore // used sign-in states shared by replicas; nil: this process only
	// Now is the clock sessions and tokens are checked against (nil: time.Now); tests set it
	// to see tokens and sessions expire.
	Now func() time.Time
}

// clockSkew is how far the provider's clock may be ahead of ours.
const clockSkew = time.Minute

// Cookie names.
const (
	sessionCookie = "portico_session"
	loginCookie   = "portico_login"
)

// Authenticator runs sign-in, sign-out and session checks.
type Authenticator struct {
	cfg    Config
	sealer *sealer
	now    func() time.Time

	mu         sync.Mutex // guards the discovered provider and the used states
	provider   *oidc.Provider
	endSession string
	// used remembers the states of completed sign-ins while their login cookie could still
	// be valid, so a replayed callback is refused even with a captured cookie (when no shared
	// StateStore is configured).
	used map[string]time.Time
}

// StateStore records used sign-in states where every replica sees them (the database).
type StateStore interface {
	FirstUse(ctx context.Context, state string, keep time.Duration) (bool, error)
}

// New validates cfg. The provider is discovered on first use, so the portal starts (and
// serves what needs no sign-in) while the provider is down.
func New(cfg Config) (*Authenticator, error) {
	s, err := newSealer(cfg.SessionKey)
	if err != nil {
		return nil, err
	}
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("OIDC needs an issuer, a client ID and a redirect URL")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile", "groups"}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.EmailClaim == "" {
		cfg.EmailClaim = "email"
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = "name"
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 8 * time.Hour
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Authenticator{cfg: cfg, sealer: s, now: now}, nil
}

// ErrProviderDown means the identity provider could not be reached.
var ErrProviderDown = errors.New("the identity provider is unreachable")

func (a *Authenticator) discover(ctx context.Context) (*oidc.Provider, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.provider != nil {
		return a.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, a.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderDown, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&extra)
	a.provider, a.endSession = p, extra.EndSession
	return p, nil
}

func (a *Authenticator) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: a.cfg.RedirectURL, Scopes: a.cfg.Scopes}
}

// loginState is what the login cookie remembers between the redirect and the callback.
type loginState struct {
	State, Nonce, Verifier, Next string
	Started                      time.Time
}

// Begin starts a sign-in: it remembers state, nonce and PKCE verifier in a sealed cookie and
// returns the provider's URL to redirect to. next is where to go afterwards (a local path).
func (a *Authenticator) Begin(w http.ResponseWriter, r *http.Request, next string) (string, error) {
	p, err := a.discover(r.Context())
	if err != nil {
		return "", err
	}
	ls := loginState{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(next), Started: a.now()}
	v, err := a.sealer.seal(loginCookie, ls)
	if err != nil {
		return "", err
	}
	a.setCookie(w, loginCookie, v, 10*time.Minute)
	return a.oauth(p).AuthCodeURL(ls.State, oidc.Nonce(ls.Nonce), oauth2.S256ChallengeOption(ls.Verifier)), nil
}

// ErrLogin means the callback did not complete a sign-in started here (wrong or stale state,
// a provider error, a token that does not verify).
var ErrLogin = errors.New("sign-in failed")

// Finish completes a sign-in at the callback and sets the session cookie; it returns where
// the user wanted to go.
func (a *Authenticator) Finish(w http.ResponseWriter, r *http.Request) (string, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("%w: The provider said %s: %s", ErrLogin, e, q.Get("error_description"))
	}
	c, err := r.Cookie(loginCookie)
	var ls loginState
	if err != nil || a.sealer.open(loginCookie, c.Value, &ls) != nil || a.now().Sub(ls.Started) > 10*time.Minute {
		return "", fmt.Errorf("%w: The sign-in expired or was not started here; try again", ErrLogin)
	}
	a.setCookie(w, loginCookie, "", -1)
	if q.Get("state") == "" || q.Get("state") != ls.State {
		return "", fmt.Errorf("%w: State mismatch", ErrLogin)
	}
	first, err := a.firstUse(r.Context(), ls.State)
	if err != nil {
		return "", err
	}
	if !first {
		return "", fmt.Errorf("%w: This sign-in was completed already (replayed callback)", ErrLogin)
	}
	p, err := a.discover(r.Context())
	if err != nil {
		return "", err
	}
	tok, err := a.oauth(p).Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return "", fmt.Errorf("%w: Code exchange: %v", ErrLogin, err)
	}
	user, raw, err := a.verify(r.Context(), p, tok, ls.Nonce)
	if err != nil {
		return "", err
	}
	now := a.now()
	s := Session{User: user, Created: now, Seen: now, RefreshToken: tok.RefreshToken, TokenExpiry: tok.Expiry, IDToken: raw}
	if err := a.saveFor(w, r, s); err != nil {
		return "", err
	}
	return ls.Next, nil
}

// loginStateTTL is how long a login cookie is accepted, and so how long a used state must be
// remembered.
const loginStateTTL = 10 * time.Minute

// firstUse records a state as used and reports whether it was new.
func (a *Authenticator) firstUse(ctx context.Context, state string) (bool, error) {
	if a.cfg.States != nil {
		return a.cfg.States.FirstUse(ctx, state, loginStateTTL+time.Minute)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.used == nil {
		a.used = map[string]time.Time{}
	}
	for s, at := range a.used {
		if now.Sub(at) > loginStateTTL+time.Minute {
			delete(a.used, s)
		}
	}
	if _, seen := a.used[state]; seen {
		return false, nil
	}
	a.used[state] = now
	return true, nil
}

// verify checks the ID token (signature, issuer, audience, expiry; nonce when given) and
// reads the user's claims.
func (a *Authenticator) verify(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, nonce string) (User, string, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return User{}, "", fmt.Errorf("%w: The provider returned no ID token", ErrLogin)
	}
	u, err := a.verifyRaw(ctx, p, raw, nonce)
	return u, raw, err
}

// Bearer verifies a token sent to the JSON API as "Authorization: Bearer …": a JWT signed by
// the provider, for this client (audience), not expired — the provider's ID tokens, or its
// access tokens where they are JWTs issued for the portal's client.
func (a *Authenticator) Bearer(ctx context.Context, raw string) (User, error) {
	p, err := a.discover(ctx)
	if err != nil {
		return User{}, err
	}
	return a.verifyRaw(ctx, p, raw, "")
}

func (a *Authenticator) verifyRaw(ctx context.Context, p *oidc.Provider, raw, nonce string) (User, error) {
	idt, err := p.Verifier(&oidc.Config{ClientID: a.cfg.ClientID, Now: a.now}).Verify(ctx, raw)
	if err != nil {
		return User{}, fmt.Errorf("%w: ID token: %v", ErrLogin, err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return User{}, fmt.Errorf("%w: Nonce mismatch", ErrLogin)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrLogin, err)
	}
	// go-oidc allows five minutes of skew on nbf and does not look at iat: a token issued
	// or valid only in the future is refused here beyond a minute of clock skew.
	now := a.now()
	for _, c := range []string{"iat", "nbf"} {
		if v, ok := claims[c].(float64); ok && time.Unix(int64(v), 0).After(now.Add(clockSkew)) {
			return User{}, fmt.Errorf("%w: ID token: %s is in the future (%s)", ErrLogin, c, time.Unix(int64(v), 0).UTC().Format(time.RFC3339))
		}
	}
	u := User{Subject: idt.Subject, Expiry: idt.Expiry}
	u.Email, _ = claims[a.cfg.EmailClaim].(string)
	u.Name, _ = claims[a.cfg.NameClaim].(string)
	switch g := claims[a.cfg.GroupsClaim].(type) {
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				u.Groups = append(u.Groups, s)
			}
		}
	case string:
		u.Groups = strings.Split(g, ",")
	}
	return u, nil
}

// Current returns the request's session, renewing its idle timer (and its tokens, when they
// have expired and the provider gave a refresh token). ErrInvalidSession means sign in again.
func (a *Authenticator) Current(w http.ResponseWriter, r *http.Request) (*Session, error) {
	value, ok := readChunked(r, sessionCookie)
	if !ok {
		return nil, ErrInvalidSession
	}
	var s Session
	if err := a.sealer.open(sessionCookie, value, &s); err != nil {
		return nil, err
	}
	now := a.now()
	if now.Sub(s.Created) > a.cfg.MaxAge || now.Sub(s.Seen) > a.cfg.IdleTimeout {
		a.clearSession(w, r)
		return nil, ErrInvalidSession
	}
	dirty := now.Sub(s.Seen) > time.Minute
	if !s.TokenExpiry.IsZero() && now.After(s.TokenExpiry) {
		if err := a.refresh(r.Context(), &s); err != nil {
			a.clearSession(w, r)
			return nil, ErrInvalidSession
		}
		dirty = true
	}
	if dirty {
		s.Seen = now
		if err := a.saveFor(w, r, s); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// refresh renews the tokens; without a refresh token the session ends with its ID token.
func (a *Authenticator) refresh(ctx context.Context, s *Session) error {
	if s.RefreshToken == "" {
		return ErrInvalidSession
	}
	p, err := a.discover(ctx)
	if err != nil {
		return err
	}
	tok, err := a.oauth(p).TokenSource(ctx, &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
	if err != nil {
		return err
	}
	if user, raw, err := a.verify(ctx, p, tok, ""); err == nil {
		s.User, s.IDToken = user, raw
	}
	s.RefreshToken, s.TokenExpiry = tok.RefreshToken, tok.Expiry
	return nil
}

// End signs out: it clears the session and returns where to send the browser — the
// provider's end-session endpoint when it has one, else after.
func (a *Authenticator) End(w http.ResponseWriter, r *http.Request, after string) string {
	var s Session
	if value, ok := readChunked(r, sessionCookie); ok {
		_ = a.sealer.open(sessionCookie, value, &s)
	}
	a.clearSession(w, r)
	if _, err := a.discover(r.Context()); err != nil || a.endSession == "" {
		return after
	}
	v := url.Values{"client_id": {a.cfg.ClientID}, "post_logout_redirect_uri": {after}}
	if s.IDToken != "" {
		v.Set("id_token_hint", s.IDToken)
	}
	return a.endSession + "?" + v.Encode()
}

// saveFor seals the session into as many cookies as it needs (a browser keeps at most 4 KB
// per cookie and silently drops a larger one, which would loop the user through sign-in);
// r, when given, tells which chunks an earlier, larger session left to delete.
func (a *Authenticator) saveFor(w http.ResponseWriter, r *http.Request, s Session) error {
	v, err := a.sealer.seal(sessionCookie, s)
	if err != nil {
		return err
	}
	chunks := splitChunks(v)
	if len(chunks) > maxSessionChunks {
		return fmt.Errorf("%w: your sign-in carries too much for a browser to keep (%d groups; %d bytes sealed): ask an administrator to trim the groups claim the provider sends", ErrSessionTooLarge, len(s.User.Groups), len(v))
	}
	for i, c := range chunks {
		if i == 0 && len(chunks) > 1 {
			c = strconv.Itoa(len(chunks)) + chunkMark + c
		}
		a.setCookie(w, chunkName(i), c, a.cfg.MaxAge)
	}
	if r != nil {
		for i := len(chunks); i < maxSessionChunks; i++ {
			if _, err := r.Cookie(chunkName(i)); err == nil {
				a.setCookie(w, chunkName(i), "", -1)
			}
		}
	}
	return nil
}

// clearSession deletes every chunk of the session the request carries.
func (a *Authenticator) clearSession(w http.ResponseWriter, r *http.Request) {
	a.setCookie(w, sessionCookie, "", -1)
	for i := 1; i < maxSessionChunks; i++ {
		if _, err := r.Cookie(chunkName(i)); err == nil {
			a.setCookie(w, chunkName(i), "", -1)
		}
	}
}

// ErrSessionTooLarge means the session would not fit in the cookies a browser keeps.
var ErrSessionTooLarge = errors.New("session too large")

const (
	// chunkSize keeps each cookie, with its name and attributes, under the 4096 bytes every
	// browser keeps.
	chunkSize        = 3800
	maxSessionChunks = 6
	chunkMark        = "~" // "3~<first chunk>": the session spans 3 cookies
)

func chunkName(i int) string {
	if i == 0 {
		return sessionCookie
	}
	return sessionCookie + "_" + strconv.Itoa(i)
}

func splitChunks(v string) []string {
	var out []string
	for len(v) > chunkSize {
		out = append(out, v[:chunkSize])
		v = v[chunkSize:]
	}
	return append(out, v)
}

// readChunked reassembles a value saveFor split over several cookies.
func readChunked(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return "", false
	}
	n, first, split := strings.Cut(c.Value, chunkMark)
	if !split {
		return c.Value, true
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 2 || count > maxSessionChunks {
		return "", false
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i < count; i++ {
		part, err := r.Cookie(chunkName(i))
		if err != nil {
			return "", false
		}
		b.WriteString(part.Value)
	}
	return b.String(), true
}

// setCookie writes an HttpOnly, SameSite=Lax cookie (Lax, so it survives the redirect back
// from the provider); a negative maxAge deletes it.
func (a *Authenticator) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: a.cfg.SecureCookies, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

// safeNext keeps only local paths, so a crafted link cannot send users elsewhere after
// signing in.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
