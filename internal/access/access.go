// Package access answers, in one place, what a signed-in user may see of the catalog: it turns
// the policy's view bindings into per-entity answers for one catalog snapshot, cached, so every
// page, list, graph and API of the portal asks the same question the same way and lists stay
// fast at any catalog size.
//
// Rules beyond the policy's own:
//   - a System counts as part of itself, so a binding scoped to system checkout shows the
//     checkout System page as well as its components, APIs and resources;
//   - the organisation's directory (Group and User entities) is visible to anyone who may view
//     something, so owners and teams can be named; what a team owns is filtered like any list.
package access

import (
	"fmt"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/policy"
)

// Authorizer decides view access for subjects over catalog snapshots.
type Authorizer struct {
	policy    *policy.Policy
	anonymous bool // anonymous read-only access is enabled

	mu     sync.Mutex
	snap   *catalog.Snapshot
	scopes *lru.Cache[string, *Scope] // subject key → scope, for snap only; least recently used out first
}

// New returns an Authorizer for p. With anonymous, requests without a subject may view
// everything (read-only access is enforced elsewhere).
func New(p *policy.Policy, anonymous bool) *Authorizer {
	scopes, _ := lru.New[string, *Scope](maxCachedScopes) // errors only for a size under 1
	return &Authorizer{policy: p, anonymous: anonymous, scopes: scopes}
}

// Scope is what one subject may view in one snapshot. Its methods are safe for concurrent use.
type Scope struct {
	all     bool
	some    bool                     // some binding lets the subject view (the directory is visible)
	visible map[string]bool          // ref key → may view; nil when all
	records map[*catalog.Record]bool // every record of the snapshot → may view, so lists filter without building keys
}

// maxCachedScopes bounds the cache per snapshot (one entry per distinct user and groups).
const maxCachedScopes = 10000

// For returns sub's scope in snap; sub nil is an anonymous request.
func (a *Authorizer) For(snap *catalog.Snapshot, sub *policy.Subject) *Scope {
	if sub == nil {
		return &Scope{all: a.anonymous, some: a.anonymous}
	}
	if a.policy.ViewsEverything(*sub) {
		return &Scope{all: true, some: true}
	}
	key := sub.User + "\x00" + strings.Join(sub.Groups, ",") + "\x00" + strings.Join(sub.Teams, ",")
	a.mu.Lock()
	if a.snap != snap {
		a.snap = snap
		a.scopes.Purge()
	} else if sc, ok := a.scopes.Get(key); ok {
		a.mu.Unlock()
		return sc
	}
	a.mu.Unlock()
	sc := a.compute(snap, *sub)
	a.mu.Lock()
	if a.snap == snap {
		a.scopes.Add(key, sc)
	}
	a.mu.Unlock()
	return sc
}

func (a *Authorizer) compute(snap *catalog.Snapshot, sub policy.Subject) *Scope {
	sc := &Scope{some: a.policy.ViewsSomething(sub), visible: map[string]bool{}, records: map[*catalog.Record]bool{}}
	if !sc.some {
		return sc
	}
	for _, r := range snap.Records() {
		ok := directory(r.Entity) || a.policy.Allows(sub, policy.View, Target(snap, r.Entity, "", "", ""))
		sc.records[r] = ok
		if ok {
			sc.visible[r.Entity.Ref().Key()] = true
		}
	}
	return sc
}

func directory(e *catalog.Entity) bool {
	return strings.EqualFold(e.Kind, catalog.KindGroup) || strings.EqualFold(e.Kind, catalog.KindUser)
}

// All reports whether the subject may view every entity (no filtering needed).
func (sc *Scope) All() bool { return sc.all }

// Any reports whether the subject may view anything at all.
func (sc *Scope) Any() bool { return sc.all || sc.some }

// Ref reports whether the subject may view the entity ref refers to.
func (sc *Scope) Ref(ref catalog.Ref) bool { return sc.all || sc.visible[ref.Key()] }

// Record reports whether the subject may view the record's entity (a record of the snapshot
// the scope was made for; others are looked up by reference).
func (sc *Scope) Record(r *catalog.Record) bool {
	if sc.all {
		return true
	}
	if ok, known := sc.records[r]; known {
		return ok
	}
	return sc.visible[r.Entity.Ref().Key()]
}

// RefString is Ref for a reference in its string form ("component:default/payment"); a string
// that is not a reference is not viewable.
func (sc *Scope) RefString(s string) bool {
	if sc.all {
		return true
	}
	ref, err := catalog.ParseRef(s, "", catalog.DefaultNamespace)
	return err == nil && sc.visible[ref.Key()]
}

// Filter is the predicate for catalog queries: nil when everything is visible.
func (sc *Scope) Filter() func(*catalog.Record) bool {
	if sc.all {
		return nil
	}
	return sc.Record
}

// Target describes an entity (and where it runs, when acting on a workload) for the policy:
// its name, owning group, system, and the cluster, environment and namespace of the workload.
func Target(snap *catalog.Snapshot, e *catalog.Entity, clusterName, environment, namespace string) policy.Target {
	t := policy.Target{Service: e.Metadata.Name, Cluster: clusterName, Environment: environment, Namespace: namespace}
	for _, o := range snap.Related(e, catalog.RelOwnedBy) {
		t.Owner = o.Entity.Metadata.Name
	}
	if t.Owner == "" {
		if r, err := catalog.ParseRef(e.SpecString("owner"), catalog.KindGroup, e.Metadata.Namespace); err == nil {
			t.Owner = r.Name
		}
	}
	if strings.EqualFold(e.Kind, catalog.KindSystem) {
		t.System = e.Metadata.Name
	}
	for _, p := range snap.Related(e, catalog.RelPartOf) {
		if strings.EqualFold(p.Entity.Kind, catalog.KindSystem) {
			t.System = p.Entity.Metadata.Name
		}
	}
	return t
}

// Key identifies what the scope lets its user view, for caching answers that depend on it:
// scopes that view everything share one key; others are one per user and groups for the
// snapshot (the Authorizer hands out the same Scope for both).
func (sc *Scope) Key() string {
	switch {
	case sc.all:
		return "all"
	case !sc.some:
		return "none"
	}
	return fmt.Sprintf("%p", sc)
}
