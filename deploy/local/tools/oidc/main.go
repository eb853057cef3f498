// Command oidc is the local stack's OpenID Connect provider: zitadel/oidc's certified OP
// library with its example login form, bound to 127.0.0.1, holding Acme's demo users and
// adding a "groups" claim that maps them to the catalog's teams.
//
// Why zitadel/oidc rather than Ory Hydra: one small Go program of ours with no replace
// directives and no separate login/consent app, yet a real provider (discovery, JWKS, code
// flow with PKCE, refresh tokens, end-session) that go-oidc talks to exactly as to Keycloak.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// demoUser is a person who can sign in to the local stack. Password for all: "portico".
type demoUser struct {
	username, first, last string
	groups                []string
}

// The people of the demo catalog (catalog/users.yaml), with the groups Portico's policy uses.
var demoUsers = []demoUser{
	{"alice.nguyen", "Alice", "Nguyen", []string{"team-payments"}},               // owns payment, pricing
	{"carla.mendes", "Carla", "Mendes", []string{"team-identity"}},               // owns another team's services
	{"kemi.adeyemi", "Kemi", "Adeyemi", []string{"sre-oncall"}},                  // on-call SRE
	{"jonas.berg", "Jonas", "Berg", []string{"team-platform", "portico-admins"}}, // platform admin
	{"oscar.lind", "Oscar", "Lind", []string{"viewers"}},                         // read-only viewer
}

const demoPassword = "portico"

func main() {
	addr := flag.String("addr", "127.0.0.1:5556", "listen address")
	clientID := flag.String("client-id", "portico", "OAuth client ID of the portal")
	secret := flag.String("client-secret", "portico-dev-secret", "OAuth client secret of the portal")
	redirects := flag.String("redirect-globs", "http://127.0.0.1:*/auth/callback,http://localhost:*/auth/callback",
		"comma-separated redirect URI patterns the portal may use")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(*addr, *clientID, *secret, strings.Split(*redirects, ","), log); err != nil {
		log.Error("oidc provider failed", "err", err)
		os.Exit(1)
	}
}

func run(addr, clientID, secret string, redirectGlobs []string, log *slog.Logger) error {
	ln, err := listen(addr)
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String()
	users := newUsers(issuer)
	web := storage.WebClient(clientID, secret, "http://127.0.0.1:8080/auth/callback")
	st := &groupStorage{Storage: storage.NewStorageWithClients(users, map[string]*storage.Client{clientID: web}),
		users: users, globs: redirectGlobs}
	router := exampleop.SetupServer(issuer, st, log, false)
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("oidc provider serving", "issuer", issuer, "client", clientID, "users", len(demoUsers))
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// users implements the example storage's UserStore over the demo users.
type users struct {
	byID   map[string]*storage.User
	groups map[string][]string // by user ID
}

func newUsers(issuer string) *users {
	u := &users{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, d := range demoUsers {
		u.byID[d.username] = &storage.User{ID: d.username, Username: d.username, Password: demoPassword,
			FirstName: d.first, LastName: d.last, Email: d.username + "@acme.example", EmailVerified: true,
			PreferredLanguage: language.English, IsAdmin: slices.Contains(d.groups, "portico-admins")}
		u.groups[d.username] = d.groups
	}
	return u
}

func (u *users) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u *users) GetUserByUsername(name string) *storage.User {
	return u.byID[strings.TrimSpace(strings.ToLower(name))]
}

func (u *users) ExampleClientID() string { return "" }

// groupStorage adds the "groups" claim to ID tokens and userinfo, and lets the portal's client
// redirect to any local port (tests run portals on random ports).
type groupStorage struct {
	*storage.Storage
	users *users
	globs []string
}

const scopeGroups = "groups"

func (s *groupStorage) SetUserinfoFromScopes(ctx context.Context, info *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, info, userID, clientID, scopes); err != nil {
		return err
	}
	s.addGroups(info, userID, scopes)
	return nil
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.addGroups(info, req.GetSubject(), scopes)
	return nil
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(info, info.Subject, []string{scopeGroups})
	return nil
}

func (s *groupStorage) addGroups(info *oidc.UserInfo, userID string, scopes []string) {
	if slices.Contains(scopes, scopeGroups) {
		info.AppendClaims(scopeGroups, s.users.groups[userID])
	}
}

func (s *groupStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return portalClient{Client: c, globs: s.globs}, nil
}

// portalClient puts the userinfo claims (email, name, groups) into the ID token, as most
// providers do for web apps, and accepts redirects to the allowed patterns.
type portalClient struct {
	op.Client
	globs []string
}

func (portalClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c portalClient) RedirectURIGlobs() []string         { return c.globs }
func (c portalClient) PostLogoutRedirectURIGlobs() []string {
	return []string{"http://127.0.0.1:*/**", "http://localhost:*/**"}
}

func (c portalClient) IsScopeAllowed(scope string) bool {
	return scope == scopeGroups || c.Client.IsScopeAllowed(scope)
}

// listen binds addr, or takes the listener the stack handed over as file descriptor 3
// (LISTEN_FDS=1), which no other program could take between choosing the port and serving.
func listen(addr string) (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "1" {
		return net.FileListener(os.NewFile(3, "LISTEN_FDS"))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}
