// Package actions is the one write path of the portal: every change to a workload — from a
// form, the JSON API, or any later front end — goes through Service.Do, which authorizes it
// (the policy), checks its input and the rules around it (the production rule, confirmations,
// the security-scan gate), records the intent in the audit log, makes the change as the user
// (Kubernetes impersonation, so the cluster's RBAC judges too), and records the result. It
// returns the domain's error kinds (internal/derrors); front ends map them once.
package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/rollout"
	"github.com/portico-dev/portico/internal/store"
)

// AnnotationAuditID is put on a Deployment with each change; the controller copies it to the
// new revision's ReplicaSet, so the revision history can say who made each revision.
const AnnotationAuditID = "portico.dev/audit-id"

// timeout bounds one action's calls to the API server.
const timeout = 15 * time.Second

// Writes are the actions that change a workload, as front ends name them.
var Writes = []policy.Action{policy.Deploy, policy.Rollback, policy.Scale, policy.Restart}

// Input is what the user asked for: one action's fields.
type Input struct {
	Action     policy.Action `json:"-"`
	Container  string        `json:"container,omitempty"`
	Image      string        `json:"image,omitempty"`
	Revision   int           `json:"revision,omitempty"`
	Replicas   *int32        `json:"replicas,omitempty"`
	Min        *int32        `json:"min,omitempty"`
	Max        *int32        `json:"max,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Confirm    string        `json:"confirm,omitempty"`    // the workload's name, typed, where a confirmation is needed
	Generation int64         `json:"generation,omitempty"` // the spec version the user saw
	Key        string        `json:"-"`                    // one-time key of the form (or Idempotency-Key header)
	DryRun     bool          `json:"dryRun,omitempty"`
}

// params is what the audit log records of the input.
func (in Input) params() string {
	p := in
	p.Reason, p.Confirm, p.DryRun = "", "", false
	b, _ := json.Marshal(p)
	return string(b)
}

// impersonator gives a client acting as someone (internal/cluster's clusters).
type impersonator interface {
	As(id cluster.Identity) (kubernetes.Interface, error)
}

// Workload is the Deployment an action is about, as a front end resolved it against the
// caches: the entity that selects it and where it runs.
type Workload struct {
	Entity      *catalog.Entity
	Cluster     impersonator
	ClusterName string
	Environment string
	Deployment  cluster.Deployment // shared with the cache: read only
	Target      policy.Target
}

// Actor is the signed-in user making the request.
type Actor struct {
	Subject  policy.Subject   // as the policy sees them
	Label    string           // e-mail, else subject: how the audit log names them
	Email    string           // may be empty
	Groups   []string         // from the identity provider
	Identity cluster.Identity // who the portal impersonates in the cluster
}

// Request is one attempt to act.
type Request struct {
	Actor    *Actor // nil: nobody signed in
	Workload *Workload
	Input    Input
	// Invalid is input the front end could not read (a number that is not one, a body that is
	// not JSON): refused after the policy check, and audited, like any bad input.
	Invalid   error
	RequestID string
	SourceIP  string
	// Channel is where the request came from, for the audit log: ui, api or mcp:<client>.
	Channel string
	// Agent marks requests made through the agent interface: the policy's agents section
	// applies on top of the user's roles.
	Agent bool
}

// Outcome is how an attempt ended.
type Outcome struct {
	Entry     audit.Entry    `json:"audit"`
	Result    rollout.Result `json:"result"`
	Duplicate bool           `json:"duplicate,omitempty"` // the key was used before: this is the first attempt's entry
}

// Config bounds the actions.
type Config struct {
	MaxReplicas int32
	// ProductionEnvironments are the cluster environments that count as production (here and
	// for delivery metrics).
	ProductionEnvironments []string
	// RequireSecurityScan refuses deploying to production an image whose CI run did not pass
	// its security-scan stage (or was never reported).
	RequireSecurityScan bool
	// Hook, when set, is called at the write path's crash points: "intent-written" (the audit
	// intent is stored, nothing is changed yet) and "change-made" (the cluster has the change,
	// its result is not recorded). Crash tests kill the process there.
	Hook func(point string)
}

// auditLog is what actions need from the audit log.
type auditLog interface {
	Begin(ctx context.Context, e audit.Entry) (audit.Entry, error)
	Finish(ctx context.Context, id int, result audit.Result, after string, cause error) error
}

// builds tells which CI run built an image, for the scan gate.
type builds interface {
	BuildsOf(ctx context.Context, projects, images []string) (map[string]store.Build, error)
}

// Service performs actions.
type Service struct {
	cfg    Config
	policy *policy.Policy
	audit  auditLog // nil: actions are refused (nothing may change unaudited)
	builds builds   // nil: no CI reports, so the scan gate cannot pass
	log    *slog.Logger
}

// New returns the write path. audit may be nil only in portals that never act.
func New(cfg Config, p *policy.Policy, a auditLog, b builds, log *slog.Logger) *Service {
	if cfg.MaxReplicas == 0 {
		cfg.MaxReplicas = 50
	}
	if cfg.ProductionEnvironments == nil {
		cfg.ProductionEnvironments = []string{"production"} // as the configuration's default
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, policy: p, audit: a, builds: b, log: log}
}

// MaxReplicas is the largest replica count an action may set.
func (s *Service) MaxReplicas() int32 { return s.cfg.MaxReplicas }

// Do is the one path every change takes: policy, then input checks, then an audit intent,
// then the change as the impersonated user, then the audit result. A dry run (the preview) is
// checked the same way but changes nothing and is audited only when refused.
func (s *Service) Do(ctx context.Context, r Request) (Outcome, error) {
	in, w := r.Input, r.Workload
	if r.Actor == nil {
		return Outcome{}, fmt.Errorf("%w: Sign in to %s", derrors.Unauthenticated, in.Action)
	}
	if s.audit == nil {
		return Outcome{}, fmt.Errorf("%w: Actions need the audit log, and this portal keeps none", derrors.Unavailable)
	}
	entry := audit.Entry{RequestID: r.RequestID, IdempotencyKey: in.Key, Actor: r.Actor.Label, ActorEmail: r.Actor.Email, Groups: r.Actor.Groups,
		SourceIP: r.SourceIP, Channel: r.Channel, Action: string(in.Action), Params: in.params(), Reason: in.Reason, Entity: w.Entity.Ref().String(),
		Cluster: w.ClusterName, Namespace: w.Deployment.Object.Namespace, Kind: "Deployment", Name: w.Deployment.Object.Name,
		Before: rollout.Summary(w.Deployment.Object)}
	if in.DryRun {
		entry.IdempotencyKey = ""
	}
	refuse := func(result audit.Result, err error) (Outcome, error) {
		if in.DryRun && result != audit.Denied {
			return Outcome{}, err
		}
		return s.refuse(ctx, entry, result, err)
	}
	pol := s.policy
	if r.Agent {
		pol = pol.ForAgents()
	}
	if d := pol.Decide(r.Actor.Subject, in.Action, w.Target); !d.Allowed {
		return refuse(audit.Denied, fmt.Errorf("%w: %s", derrors.Forbidden, d.Reason))
	}
	if r.Invalid != nil {
		return refuse(audit.Failed, r.Invalid)
	}
	if err := s.validate(w, in); err != nil {
		return refuse(audit.Failed, err)
	}
	if err := s.checkScan(ctx, w, in); err != nil {
		return refuse(audit.Denied, err)
	}
	if !in.DryRun {
		if err := s.checkConfirmation(w, in); err != nil {
			return refuse(audit.Failed, err)
		}
	}
	if in.DryRun {
		res, err := s.run(ctx, w, r.Actor.Identity, in, 0)
		if errors.Is(err, derrors.Forbidden) {
			return refuse(audit.Denied, err)
		}
		return Outcome{Result: res}, err
	}
	e, dup, err := s.begin(ctx, entry)
	if dup || err != nil {
		return Outcome{Entry: e, Duplicate: dup}, err
	}
	s.hook("intent-written")
	res, runErr := s.run(ctx, w, r.Actor.Identity, in, e.ID)
	s.hook("change-made")
	return Outcome{Entry: s.finish(ctx, e, res.After, runErr), Result: res}, runErr
}

// refuse records an attempt refused before anything changed. A refusal does not use up the
// form's key: corrected, the same form may act.
func (s *Service) refuse(ctx context.Context, entry audit.Entry, result audit.Result, why error) (Outcome, error) {
	entry.IdempotencyKey = ""
	e, err := s.audit.Begin(ctx, entry)
	if err == nil {
		err = s.audit.Finish(ctx, e.ID, result, "", why)
	}
	if err != nil && !errors.Is(err, audit.ErrDuplicate) {
		return Outcome{}, derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", err)
	}
	e.Result, e.Error = result, why.Error()
	return Outcome{Entry: e}, why
}

// begin records the intent of a change; dup says the form's key was used before, and e is
// then that first attempt's entry (nothing more is to be done).
func (s *Service) begin(ctx context.Context, entry audit.Entry) (e audit.Entry, dup bool, err error) {
	e, err = s.audit.Begin(ctx, entry)
	switch {
	case errors.Is(err, audit.ErrDuplicate):
		return e, true, nil
	case err != nil:
		return e, false, derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", err)
	}
	return e, false, nil
}

// finish records how a change that was made (or tried) ended: denied when the cluster
// refused the user, failed on any other error. The change is made: it is recorded even if
// the request was cancelled meanwhile.
func (s *Service) finish(ctx context.Context, e audit.Entry, after string, runErr error) audit.Entry {
	result := audit.Succeeded
	switch {
	case errors.Is(runErr, derrors.Forbidden):
		result = audit.Denied
	case runErr != nil:
		result = audit.Failed
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := s.audit.Finish(fctx, e.ID, result, after, runErr); ferr != nil {
		s.log.Error("audit entry not completed", "audit_id", e.ID, "err", ferr)
	}
	e.Result, e.After = result, after
	if runErr != nil {
		e.Error = runErr.Error()
	}
	return e
}

func (s *Service) hook(point string) {
	if s.cfg.Hook != nil {
		s.cfg.Hook(point)
	}
}

// Refuse records an attempt the front end refused before it could name a workload (the
// entity is hidden from the user, say) as denied, so every attempt is audited.
func (s *Service) Refuse(ctx context.Context, a *Actor, e audit.Entry, why error) error {
	if a == nil || s.audit == nil {
		return nil
	}
	e.Actor, e.ActorEmail, e.Groups = a.Label, a.Email, a.Groups
	begun, err := s.audit.Begin(ctx, e)
	if err == nil {
		err = s.audit.Finish(ctx, begun.ID, audit.Denied, "", why)
	}
	return err
}

// run performs (or dry-runs) the action as the user, through Kubernetes impersonation.
func (s *Service) run(ctx context.Context, w *Workload, id cluster.Identity, in Input, auditID int) (rollout.Result, error) {
	cs, err := w.Cluster.As(id)
	if err != nil {
		return rollout.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := rollout.Target{Namespace: w.Deployment.Object.Namespace, Name: w.Deployment.Object.Name, Generation: in.Generation}
	if auditID > 0 {
		t.Annotations = map[string]string{AnnotationAuditID: strconv.Itoa(auditID)}
	}
	switch in.Action {
	case policy.Deploy:
		return rollout.Deploy(ctx, cs, t, in.Container, in.Image, in.Reason, in.DryRun)
	case policy.Rollback:
		return rollout.Rollback(ctx, cs, t, in.Revision, in.Reason, in.DryRun)
	case policy.Restart:
		return rollout.Restart(ctx, cs, t, in.Reason, in.DryRun)
	case policy.Scale:
		if w.Deployment.HPA != nil {
			return rollout.ScaleHPA(ctx, cs, t.Namespace, w.Deployment.HPA.Name, 0, *in.Min, *in.Max, s.cfg.MaxReplicas, in.DryRun)
		}
		return rollout.Scale(ctx, cs, t, *in.Replicas, s.cfg.MaxReplicas, in.DryRun)
	}
	return rollout.Result{}, fmt.Errorf("%w: Unknown action %q", derrors.Invalid, in.Action)
}

// ProductionEnvironment reports whether a cluster environment counts as production.
func (s *Service) ProductionEnvironment(env string) bool {
	return slices.Contains(s.cfg.ProductionEnvironments, env)
}

// Production reports whether a workload is production's: its cluster's environment is, or
// the entity's lifecycle is production.
func (s *Service) Production(w *Workload) bool {
	return s.ProductionEnvironment(w.Environment) || strings.EqualFold(w.Entity.SpecString("lifecycle"), "production")
}
