package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
)

// teamCache remembers each user's catalog teams for one catalog snapshot, so authorizing a
// request costs a map lookup rather than a walk over the catalog.
type teamCache struct {
	mu    sync.Mutex
	snap  *catalog.Snapshot
	teams *lru.Cache[string, []string] // user key → team names, for snap only; least recently used out first
}

const maxCachedTeams = 10000

func (tc *teamCache) get(snap *catalog.Snapshot, u *auth.User) []string {
	key := u.Subject + "\x00" + u.Email + "\x00" + strings.Join(u.Groups, ",")
	tc.mu.Lock()
	if tc.teams == nil {
		tc.teams, _ = lru.New[string, []string](maxCachedTeams)
	}
	if tc.snap != snap {
		tc.snap = snap
		tc.teams.Purge()
	} else if t, ok := tc.teams.Get(key); ok {
		tc.mu.Unlock()
		return t
	}
	tc.mu.Unlock()
	var names []string
	for _, r := range teamsOf(snap, u) {
		names = append(names, r.Entity.Metadata.Name)
	}
	tc.mu.Lock()
	if tc.snap == snap {
		tc.teams.Add(key, names)
	}
	tc.mu.Unlock()
	return names
}

// subject is the signed-in user as the policy sees them; nil for anonymous requests.
func (s *Server) subject(ctx context.Context) *policy.Subject {
	u := userFrom(ctx)
	if u == nil {
		return nil
	}
	sub := s.subjectOf(u)
	return &sub
}

// subjectOf is u as the policy sees them: their groups and their catalog teams.
func (s *Server) subjectOf(u *auth.User) policy.Subject {
	return policy.Subject{User: userLabel(u), Groups: u.Groups, Teams: s.teams.get(s.Catalog.Snapshot(), u)}
}

// kubeIdentity is who the portal impersonates for u: the e-mail (as API servers configured
// for the same provider name users), else the subject, with the provider's groups.
func kubeIdentity(u *auth.User) cluster.Identity {
	name := u.Email
	if name == "" {
		name = u.Subject
	}
	return cluster.Identity{User: name, Groups: u.Groups}
}

func userLabel(u *auth.User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.Subject
}

// scope is what the request's user may view in snap, computed once per request.
func (s *Server) scope(c echo.Context, snap *catalog.Snapshot) *access.Scope {
	if sc, ok := c.Get(ctxScope).(*access.Scope); ok && c.Get(ctxScopeSnap) == snap {
		return sc
	}
	sc := s.access.For(snap, s.subject(c.Request().Context()))
	c.Set(ctxScope, sc)
	c.Set(ctxScopeSnap, snap)
	return sc
}

// Context keys of the entity scope.
const (
	ctxScope     = "access.scope"
	ctxScopeSnap = "access.snap"
	ctxEntity    = "access.entity"
)

// entityScope is the one authorization point of every route that names an entity
// (/catalog/:kind/:namespace/:name/… and /api/v1/entities/:kind/:namespace/:name/…): it loads
// the entity once and refuses it unless the user may view it. An entity the user may not view
// answers exactly like one that does not exist (404), so its existence is not revealed.
// Actions check their own right on top, in act.
func (s *Server) entityScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		snap := s.Catalog.Snapshot()
		ref := catalog.Ref{Kind: c.Param("kind"), Namespace: c.Param("namespace"), Name: c.Param("name")}
		rec, ok := snap.Get(ref)
		if !ok || !s.scope(c, snap).Record(rec) {
			if ok && c.Request().Method == http.MethodPost {
				s.auditHiddenAction(c, rec.Entity.Ref())
			}
			return fmt.Errorf("%w: No %s %q in namespace %q that you may view: it does not exist, or your roles do not let you see it",
				derrors.NotFound, strings.ToLower(ref.Kind), ref.Name, ref.Namespace)
		}
		c.Set(ctxEntity, entityInScope{snap: snap, rec: rec})
		return next(c)
	}
}

// entityInScope is what entityScope loaded for the handlers.
type entityInScope struct {
	snap *catalog.Snapshot
	rec  *catalog.Record
}

// scopedEntity returns the snapshot and the entity entityScope loaded and authorized.
func scopedEntity(c echo.Context) (*catalog.Snapshot, *catalog.Record, error) {
	v, ok := c.Get(ctxEntity).(entityInScope)
	if !ok {
		return nil, nil, fmt.Errorf("route %s is not under the entity scope: register it in the entity group", c.Path())
	}
	return v.snap, v.rec, nil
}

// decide asks the policy; anonymous users may only view, and only when that is allowed.
func (s *Server) decide(ctx context.Context, a policy.Action, t policy.Target) policy.Decision {
	sub := s.subject(ctx)
	if sub == nil {
		if a == policy.View && s.Anonymous {
			return policy.Decision{Allowed: true, Reason: "anonymous read-only access is enabled"}
		}
		return policy.Decision{Allowed: false, Reason: "Sign in to " + string(a)}
	}
	return s.Policy.Decide(*sub, a, t)
}

// authorizeView is the policy check every page and API read passes: the user must hold a
// role that may view. Entity-scoped bindings are checked again on the entity's pages.
func (s *Server) authorizeView(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		if s.public(p) || c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			return next(c)
		}
		if s.subject(c.Request().Context()) == nil {
			return next(c) // anonymous: authenticate already decided
		}
		if !s.mayViewSomething(c.Request().Context()) {
			return fmt.Errorf("%w: None of your groups has a role that may view Portico; ask a Portico admin", derrors.Forbidden)
		}
		return next(c)
	}
}

// mayViewSomething reports whether some binding gives the user a role with view, in any
// scope (the entity pages narrow it down).
func (s *Server) mayViewSomething(ctx context.Context) bool {
	return s.Policy.ViewsSomething(*s.subject(ctx))
}
