package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/rollout"
)

// Node actions, as front ends and the audit log name them. Both are the policy's Cordon.
const (
	NodeCordon   = "cordon"
	NodeUncordon = "uncordon"
)

// NodeRequest asks to cordon or uncordon a node.
type NodeRequest struct {
	Actor       *Actor
	Cluster     impersonator
	ClusterName string
	Environment string
	Node        string
	// Unschedulable is the node's state as the caches show it, for the audit log's before.
	Unschedulable bool
	Action        string // NodeCordon or NodeUncordon
	Reason        string
	Confirm       string // the node's name, typed, in production clusters
	Key           string // one-time key of the form (or Idempotency-Key header)
	Invalid       error  // input the front end could not read
	RequestID     string
	SourceIP      string
	Channel       string
	Agent         bool
}

func schedulable(unschedulable bool) string {
	if unschedulable {
		return "cordoned"
	}
	return "schedulable"
}

// NodeConfirmation says what cordoning or uncordoning a node needs beyond the action: in a
// production cluster, a reason and the node's name typed.
func (s *Service) NodeConfirmation(environment string) (needReason, needName bool) {
	prod := s.ProductionEnvironment(environment)
	return prod, prod
}

// Node cordons or uncordons a node on the same terms as every workload action: the policy
// (its cordon action), the input, an audit intent, the change as the user (so the cluster's
// RBAC judges too), and the audit result.
func (s *Service) Node(ctx context.Context, r NodeRequest) (Outcome, error) {
	if r.Actor == nil {
		return Outcome{}, fmt.Errorf("%w: Sign in to %s a node", derrors.Unauthenticated, r.Action)
	}
	if s.audit == nil {
		return Outcome{}, fmt.Errorf("%w: Actions need the audit log, and this portal keeps none", derrors.Unavailable)
	}
	params, _ := json.Marshal(map[string]string{"node": r.Node})
	entry := audit.Entry{RequestID: r.RequestID, IdempotencyKey: r.Key, Actor: r.Actor.Label, ActorEmail: r.Actor.Email, Groups: r.Actor.Groups,
		SourceIP: r.SourceIP, Channel: r.Channel, Action: r.Action, Params: string(params), Reason: r.Reason,
		Cluster: r.ClusterName, Kind: "Node", Name: r.Node, Before: schedulable(r.Unschedulable)}
	refuse := func(result audit.Result, err error) (Outcome, error) { return s.refuse(ctx, entry, result, err) }
	pol := s.policy
	if r.Agent {
		pol = pol.ForAgents()
	}
	target := policy.Target{Service: "node " + r.Node, Cluster: r.ClusterName, Environment: r.Environment}
	if d := pol.Decide(r.Actor.Subject, policy.Cordon, target); !d.Allowed {
		return refuse(audit.Denied, fmt.Errorf("%w: %s", derrors.Forbidden, d.Reason))
	}
	needReason, needName := s.NodeConfirmation(r.Environment)
	switch {
	case r.Invalid != nil:
		return refuse(audit.Failed, r.Invalid)
	case r.Action != NodeCordon && r.Action != NodeUncordon:
		return refuse(audit.Failed, fmt.Errorf("%w: Unknown node action %q (want cordon or uncordon)", derrors.Invalid, r.Action))
	case needReason && strings.TrimSpace(r.Reason) == "":
		return refuse(audit.Failed, fmt.Errorf("%w: A reason is required in a production cluster", derrors.Invalid))
	case needName && r.Confirm != r.Node:
		return refuse(audit.Failed, fmt.Errorf("%w: Type the node's name (%s) to confirm", derrors.Invalid, r.Node))
	}
	e, dup, err := s.begin(ctx, entry)
	if dup || err != nil {
		return Outcome{Entry: e, Duplicate: dup}, err
	}
	after, runErr := s.setUnschedulable(ctx, r, e.ID)
	return Outcome{Entry: s.finish(ctx, e, after, runErr)}, runErr
}

// setUnschedulable patches the node as the user, marking it with the audit entry.
func (s *Service) setUnschedulable(ctx context.Context, r NodeRequest, auditID int) (string, error) {
	cs, err := r.Cluster.As(r.Actor.Identity)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now, err := rollout.SetUnschedulable(ctx, cs, r.Node, r.Action == NodeCordon, map[string]string{cluster.AnnotationCordonAudit: strconv.Itoa(auditID)})
	if err != nil {
		return "", err
	}
	return schedulable(now), nil
}
