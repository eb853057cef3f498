package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

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
	teams map[string][]string // user key → team names
}

func (tc *teamCache) get(snap *catalog.Snapshot, u *auth.User) []string {
	key := u.Subject + "\x00" + u.Email + "\x00" + strings.Join(u.Groups, ",")
	tc.mu.Lock()
	if tc.snap == snap {
		if t, ok := tc.teams[key]; ok {
			tc.mu.Unlock()
			return t
		}
	}
	tc.mu.Unlock()
	var names []string
	for _, r := range teamsOf(snap, u) {
		names = append(names, r.Entity.Metadata.Name)
	}
	tc.mu.Lock()
	if tc.snap != snap || len(tc.teams) > 10000 {
		tc.snap, tc.teams = snap, map[string][]string{}
	}
	tc.teams[key] = names
	tc.mu.Unlock()
	return names
}

// subject is the signed-in user as the policy sees them; nil for anonymous requests.
func (s *Server) subject(ctx context.Context) *policy.Subject {
	u := userFrom(ctx)
	if u == nil {
		return nil
	}
	return &policy.Subject{User: userLabel(u), Groups: u.Groups, Teams: s.teams.get(s.Catalog.Snapshot(), u)}
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

// targetOf describes an entity (and where it runs, when acting on a workload) for the policy.
func targetOf(snap *catalog.Snapshot, e *catalog.Entity, clusterName, environment, namespace string) policy.Target {
	t := policy.Target{Service: e.Metadata.Name, Cluster: clusterName, Environment: environment, Namespace: namespace}
	for _, o := range snap.Related(e, catalog.RelOwnedBy) {
		t.Owner = o.Entity.Metadata.Name
	}
	if t.Owner == "" {
		if r, err := catalog.ParseRef(e.SpecString("owner"), catalog.KindGroup, e.Metadata.Namespace); err == nil {
			t.Owner = r.Name
		}
	}
	for _, p := range snap.Related(e, catalog.RelPartOf) {
		if strings.EqualFold(p.Entity.Kind, catalog.KindSystem) {
			t.System = p.Entity.Metadata.Name
		}
	}
	return t
}

// decide asks the policy; anonymous users may only view, and only when that is allowed.
func (s *Server) decide(ctx context.Context, a policy.Action, t policy.Target) policy.Decision {
	sub := s.subject(ctx)
	if sub == nil {
		if a == policy.View && s.Anonymous {
			return policy.Decision{Allowed: true, Reason: "anonymous read-only access is enabled"}
		}
		return policy.Decision{Allowed: false, Reason: "sign in to " + string(a)}
	}
	return s.Policy.Decide(*sub, a, t)
}

// authorizeView is the policy check every page and API read passes: the user must hold a
// role that may view. Entity-scoped bindings are checked again on the entity's pages.
func (s *Server) authorizeView(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		if publicPath(p) || c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			return next(c)
		}
		if s.subject(c.Request().Context()) == nil {
			return next(c) // anonymous: authenticate already decided
		}
		if !s.mayViewSomething(c.Request().Context()) {
			return fmt.Errorf("%w: none of your groups has a role that may view Portico; ask a Portico admin", derrors.Forbidden)
		}
		return next(c)
	}
}

// mayViewSomething reports whether some binding gives the user a role with view, in any
// scope (the entity pages narrow it down).
func (s *Server) mayViewSomething(ctx context.Context) bool {
	sub := s.subject(ctx)
	for _, b := range s.Policy.Bindings {
		if !slices.Contains(s.Policy.Roles[b.Role], policy.View) {
			continue
		}
		if b.Covers(*sub) {
			return true
		}
	}
	return false
}

// authorizeEntity checks the view right on one entity.
func (s *Server) authorizeEntity(c echo.Context, snap *catalog.Snapshot, e *catalog.Entity) error {
	d := s.decide(c.Request().Context(), policy.View, targetOf(snap, e, "", "", ""))
	if !d.Allowed {
		return fmt.Errorf("%w: %s", derrors.Forbidden, d.Reason)
	}
	return nil
}
