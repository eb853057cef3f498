package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/rollout"
	"github.com/portico-dev/portico/internal/store"
)

// InterruptedAfter is how old a pending entry must be before recovery judges it: an action
// still running (here or on another replica) ends within its timeout and the audit write's.
const InterruptedAfter = timeout + 10*time.Second

// pendingLog is what recovery needs from the audit log.
type pendingLog interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	Finish(ctx context.Context, id int, result audit.Result, after string, cause error) error
}

// Observer shows a Deployment as its cluster shows it now (found false: it is gone); an error
// means the cluster cannot be read yet, so the entry waits for the next pass.
type Observer interface {
	Observe(ctx context.Context, clusterName, namespace, name string) (cluster.Deployment, bool, error)
}

// exemptionsNow lists the exemptions in force, for interrupted grants and revocations.
type exemptionsNow interface {
	ActiveExemptions(ctx context.Context, now time.Time) ([]store.Exemption, error)
}

// Recover completes every audit entry that a portal left pending when it stopped between
// recording an action's intent and its result: from what the cluster shows (the audit ID
// the write path stamps on the Deployment and its ReplicaSets, or the replicas and the
// autoscaler's bounds a scale asked for) or, for exemptions, what the database holds. The
// entry then says it was interrupted and whether the change was applied; none stays pending.
// Only entries begun before the process started (before) are looked at; those younger than
// InterruptedAfter may still be in flight (on another replica) and are left for later. It
// returns how many entries it completed and how many it could not judge yet.
func Recover(ctx context.Context, log pendingLog, obs Observer, exemptions exemptionsNow, before, now time.Time, l *slog.Logger) (done, waiting int, err error) {
	pending, err := log.List(ctx, audit.Filter{Result: audit.Pending, Until: before, Limit: audit.MaxLimit})
	if err != nil {
		return 0, 0, err
	}
	for _, e := range pending {
		if now.Sub(e.StartedAt) < InterruptedAfter {
			waiting++
			continue
		}
		result, after, why, judged := judge(ctx, e, obs, exemptions, now)
		if !judged {
			waiting++
			continue
		}
		if err := log.Finish(ctx, e.ID, result, after, errors.New(why)); err != nil && !errors.Is(err, audit.ErrFinished) {
			return done, waiting, fmt.Errorf("complete interrupted entry %d: %w", e.ID, err)
		}
		l.Warn("interrupted action completed from what the cluster shows", "audit_id", e.ID, "action", e.Action, "result", string(result), "why", why)
		done++
	}
	return done, waiting, nil
}

const interrupted = "interrupted: the portal stopped before recording the result; "

// judge decides an interrupted entry's result; judged is false when what it is about cannot
// be read now.
func judge(ctx context.Context, e audit.Entry, obs Observer, exemptions exemptionsNow, now time.Time) (result audit.Result, after, why string, judged bool) {
	if e.Kind == "ScorecardCheck" {
		if exemptions == nil {
			return audit.Failed, "", interrupted + "no exemption store to tell whether it was applied", true
		}
		active, err := exemptions.ActiveExemptions(ctx, now)
		if err != nil {
			return "", "", "", false
		}
		return exemptionOutcome(e, active)
	}
	if e.Kind != "Deployment" || obs == nil {
		return audit.Failed, "", interrupted + "what it acted on cannot be looked at, so it is not known whether it was applied", true
	}
	d, found, err := obs.Observe(ctx, e.Cluster, e.Namespace, e.Name)
	if err != nil {
		return "", "", "", false
	}
	if !found {
		return audit.Failed, "", interrupted + "the Deployment no longer exists, so it cannot be told whether the change was applied", true
	}
	if Applied(e, d) {
		return audit.Succeeded, rollout.Summary(d.Object), interrupted + "the Deployment shows the change was applied", true
	}
	return audit.Failed, "", interrupted + "the Deployment shows the change was not applied", true
}

// Applied reports whether the Deployment shows the entry's change: deploys, rollbacks and
// restarts stamp their audit ID on the Deployment, and the controller copies it to the
// revision's ReplicaSet (which keeps it even after a later change); a scale shows as the
// replicas or autoscaler bounds it asked for.
func Applied(e audit.Entry, d cluster.Deployment) bool {
	id := strconv.Itoa(e.ID)
	switch policy.Action(e.Action) {
	case policy.Deploy, policy.Rollback, policy.Restart:
		if d.Object.Annotations[AnnotationAuditID] == id {
			return true
		}
		for _, rs := range d.ReplicaSets {
			if rs.Annotations[AnnotationAuditID] == id {
				return true
			}
		}
		return false
	case policy.Scale:
		var p struct{ Replicas, Min, Max *int32 }
		if json.Unmarshal([]byte(e.Params), &p) != nil {
			return false
		}
		if p.Min != nil && p.Max != nil {
			h := d.HPA
			return h != nil && h.Spec.MinReplicas != nil && *h.Spec.MinReplicas == *p.Min && h.Spec.MaxReplicas == *p.Max
		}
		return p.Replicas != nil && d.Object.Spec.Replicas != nil && *d.Object.Spec.Replicas == *p.Replicas
	}
	return false
}

// exemptionOutcome judges an interrupted grant (an exemption with its audit ID is in force)
// or revocation (none for the check is).
func exemptionOutcome(e audit.Entry, active []store.Exemption) (audit.Result, string, string, bool) {
	var p struct {
		Revoke bool `json:"revoke"`
	}
	_ = json.Unmarshal([]byte(e.Params), &p)
	for _, x := range active {
		switch {
		case !p.Revoke && x.AuditID == e.ID:
			return audit.Succeeded, "", interrupted + "the exemption is in force, so it was granted", true
		case p.Revoke && x.Entity == e.Entity && x.Check == e.Name:
			return audit.Failed, "", interrupted + "the exemption is still in force, so it was not revoked", true
		}
	}
	if p.Revoke {
		return audit.Succeeded, "", interrupted + "no exemption from the check is in force, so it was revoked", true
	}
	return audit.Failed, "", interrupted + "no exemption with this entry is in force, so it was not granted", true
}
