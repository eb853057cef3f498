package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/store"
)

// MaxExemption is the longest an exemption may last: it must be looked at again.
const MaxExemption = 366 * 24 * time.Hour

// exemptionStore keeps the exemptions.
type exemptionStore interface {
	GrantExemption(ctx context.Context, e store.Exemption) (store.Exemption, error)
	RevokeExemption(ctx context.Context, entity, check, by string, at time.Time) (bool, error)
}

// Exemptions grants and revokes scorecard exemptions, on the same terms as every other
// action: the policy's "exempt" action decides, the input is checked, and each attempt is
// audited whether it succeeds or not.
type Exemptions struct {
	policy *policy.Policy
	audit  auditLog
	store  exemptionStore
	now    func() time.Time
}

// NewExemptions returns the exemptions' write path.
func NewExemptions(p *policy.Policy, a auditLog, st exemptionStore) *Exemptions {
	return &Exemptions{policy: p, audit: a, store: st, now: time.Now}
}

// ExemptRequest asks to exempt a service from a check until a time, or (Revoke) to end its
// exemption.
type ExemptRequest struct {
	Actor  *Actor
	Entity *catalog.Entity
	Target policy.Target
	Check  string
	Known  bool // the check exists
	Reason string
	Until  time.Time
	Revoke bool
	// Invalid is input the front end could not read: refused after the policy, audited.
	Invalid   error
	RequestID string
	SourceIP  string
	Channel   string // ui, api or mcp:<client>
}

// Do grants or revokes, and returns the audit entry.
func (x *Exemptions) Do(ctx context.Context, r ExemptRequest) (audit.Entry, error) {
	if r.Actor == nil {
		return audit.Entry{}, fmt.Errorf("%w: Sign in to exempt a service from a check", derrors.Unauthenticated)
	}
	if x.audit == nil || x.store == nil {
		return audit.Entry{}, fmt.Errorf("%w: Exemptions need the database and the audit log", derrors.Unavailable)
	}
	params := map[string]any{"check": r.Check}
	if r.Revoke {
		params["revoke"] = true
	} else {
		params["until"] = r.Until.UTC().Format(time.RFC3339)
	}
	p, _ := json.Marshal(params)
	entry := audit.Entry{RequestID: r.RequestID, Actor: r.Actor.Label, ActorEmail: r.Actor.Email, Groups: r.Actor.Groups, SourceIP: r.SourceIP,
		Channel: r.Channel, Action: string(policy.Exempt), Params: string(p), Reason: r.Reason, Entity: r.Entity.Ref().String(), Kind: "ScorecardCheck", Name: r.Check}
	finish := func(e audit.Entry, result audit.Result, err error) (audit.Entry, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ferr := x.audit.Finish(fctx, e.ID, result, "", err); ferr != nil && err == nil {
			return e, derrors.E(derrors.Unavailable, "The audit log cannot be written", ferr)
		}
		e.Result = result
		if err != nil {
			e.Error = err.Error()
		}
		return e, err
	}
	e, err := x.audit.Begin(ctx, entry)
	if err != nil && !errors.Is(err, audit.ErrDuplicate) {
		return audit.Entry{}, derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", err)
	}
	if d := x.policy.Decide(r.Actor.Subject, policy.Exempt, r.Target); !d.Allowed {
		return finish(e, audit.Denied, fmt.Errorf("%w: %s", derrors.Forbidden, d.Reason))
	}
	now := x.now()
	switch {
	case r.Invalid != nil:
		return finish(e, audit.Failed, r.Invalid)
	case !r.Known:
		return finish(e, audit.Failed, fmt.Errorf("%w: There is no check %q", derrors.Invalid, r.Check))
	case r.Revoke:
		ok, err := x.store.RevokeExemption(ctx, entry.Entity, r.Check, r.Actor.Label, now)
		if err != nil {
			return finish(e, audit.Failed, derrors.E(derrors.Unavailable, "The exemption could not be revoked", err))
		}
		if !ok {
			return finish(e, audit.Failed, fmt.Errorf("%w: %s has no exemption from %s in force", derrors.Invalid, r.Entity.Metadata.Name, r.Check))
		}
		return finish(e, audit.Succeeded, nil)
	case len(strings.TrimSpace(r.Reason)) < 3:
		return finish(e, audit.Failed, fmt.Errorf("%w: Say why the service is exempt (a reason is required)", derrors.Invalid))
	case !r.Until.After(now):
		return finish(e, audit.Failed, fmt.Errorf("%w: The exemption must end in the future", derrors.Invalid))
	case r.Until.Sub(now) > MaxExemption:
		return finish(e, audit.Failed, fmt.Errorf("%w: An exemption lasts at most a year; choose an earlier end", derrors.Invalid))
	}
	if _, err := x.store.GrantExemption(ctx, store.Exemption{Entity: entry.Entity, Check: r.Check, Reason: r.Reason, GrantedBy: r.Actor.Label,
		GrantedAt: now, ExpiresAt: r.Until, AuditID: e.ID}); err != nil {
		return finish(e, audit.Failed, derrors.E(derrors.Unavailable, "The exemption could not be saved", err))
	}
	return finish(e, audit.Succeeded, nil)
}
