package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/rollout"
)

// auditLog is what the server needs from the audit log.
type auditLog interface {
	Begin(ctx context.Context, e audit.Entry) (audit.Entry, error)
	Finish(ctx context.Context, id int, result audit.Result, after string, cause error) error
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	Get(ctx context.Context, id int) (audit.Entry, error)
}

// AnnotationAuditID is put on a Deployment with each change; the controller copies it to the
// new revision's ReplicaSet, so the revision history can say who made each revision.
const AnnotationAuditID = "portico.dev/audit-id"

// actionTimeout bounds one action's calls to the API server.
const actionTimeout = 15 * time.Second

// writeActions are the actions that change a workload, as they appear in URLs.
var writeActions = []policy.Action{policy.Deploy, policy.Rollback, policy.Scale, policy.Restart}

// actionForm is one action's input, from a form or a JSON body.
type actionForm struct {
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
	invalid    error         // input that could not be read; refused (and audited) after the policy check
}

// params is what the audit log records of the input.
func (f actionForm) params() string {
	p := f
	p.Reason, p.Confirm, p.DryRun = "", "", false
	b, _ := json.Marshal(p)
	return string(b)
}

func parseAction(c echo.Context) (policy.Action, error) {
	a := policy.Action(c.Param("action"))
	if !slices.Contains(writeActions, a) {
		return "", fmt.Errorf("%w: Unknown action %q (want deploy, rollback, scale or restart)", derrors.NotFound, a)
	}
	return a, nil
}

// parseActionForm reads a browser form; numbers that are not numbers are named.
func parseActionForm(c echo.Context, a policy.Action) actionForm {
	f := actionForm{Action: a, Container: c.FormValue("container"), Image: strings.TrimSpace(c.FormValue("image")),
		Reason: strings.TrimSpace(c.FormValue("reason")), Confirm: strings.TrimSpace(c.FormValue("confirm")), Key: c.FormValue("key")}
	var errs []string
	num := func(field string, bits int) *int64 {
		v := strings.TrimSpace(c.FormValue(field))
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is not a whole number in range", field, v))
			return nil
		}
		return &n
	}
	i32 := func(p *int64) *int32 {
		if p == nil {
			return nil
		}
		v := int32(*p)
		return &v
	}
	f.Replicas, f.Min, f.Max = i32(num("replicas", 32)), i32(num("min", 32)), i32(num("max", 32))
	if r := num("revision", 32); r != nil {
		f.Revision = int(*r)
	}
	if g := num("generation", 64); g != nil {
		f.Generation = *g
	}
	if len(errs) > 0 {
		f.invalid = fmt.Errorf("%w: %s", derrors.Invalid, strings.Join(errs, "; "))
	}
	return f
}

// parseActionJSON reads the API's JSON body.
func parseActionJSON(c echo.Context, a policy.Action) actionForm {
	var f actionForm
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		f = actionForm{invalid: fmt.Errorf("%w: The body must be a JSON object of the action's fields: %v", derrors.Invalid, err)}
	}
	f.Action, f.Key = a, c.Request().Header.Get("Idempotency-Key")
	return f
}

// workloadRef is a workload of an entity, resolved from the URL against the caches.
type workloadRef struct {
	snap       *catalog.Snapshot
	rec        *catalog.Record
	cl         *cluster.Cluster
	q          cluster.Query
	dep        cluster.Deployment
	target     policy.Target
	production bool
	base       string // the workload page's URL
}

// resolveWorkload finds the Deployment named in the URL among those the entity selects.
func (s *Server) resolveWorkload(c echo.Context) (*workloadRef, error) {
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return nil, err
	}
	q, mapped, err := cluster.QueryFor(rec.Entity.Metadata.Annotations)
	if err != nil || !mapped || s.Clusters == nil {
		return nil, fmt.Errorf("%w: %s does not say where it runs", derrors.NotFound, rec.Entity.Ref().Short())
	}
	cl := s.Clusters.Cluster(c.Param("cluster"))
	if cl == nil {
		return nil, fmt.Errorf("%w: There is no cluster %q", derrors.NotFound, c.Param("cluster"))
	}
	ns, name := c.Param("wns"), c.Param("workload")
	if !cl.Synced() {
		return nil, fmt.Errorf("%w: The caches of cluster %s are not synced yet (it may be unreachable); try again shortly", derrors.Unavailable, cl.Name)
	}
	dep, ok := cl.Deployment(q, ns, name)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no Deployment %s/%s in cluster %s", derrors.NotFound, rec.Entity.Ref().Short(), ns, name, cl.Name)
	}
	w := &workloadRef{snap: snap, rec: rec, cl: cl, q: q, dep: dep,
		target: targetOf(snap, rec.Entity, cl.Name, cl.Environment, ns),
		base:   entityHref(rec.Entity.Ref()) + "/workloads/" + cl.Name + "/" + ns + "/" + name}
	w.production = slices.Contains(s.ActionsConfig.ProductionEnvironments, cl.Environment) || strings.EqualFold(rec.Entity.SpecString("lifecycle"), "production")
	return w, nil
}

// confirmation says what an action needs beyond its input: a reason in production, and the
// workload's name typed for production and for scaling to zero.
func (w *workloadRef) confirmation(f actionForm) (needReason, needName bool, why string) {
	switch {
	case f.Action == policy.Scale && f.Replicas != nil && *f.Replicas == 0 && w.dep.HPA == nil:
		needName, why = true, "Scaling to zero stops every pod: the service will not answer."
	}
	if w.production {
		needReason, needName = true, true
		why = strings.TrimSpace("This is a production workload: give a reason and type its name to confirm. " + why)
	}
	return needReason, needName, why
}

func (w *workloadRef) checkConfirmation(f actionForm) error {
	needReason, needName, _ := w.confirmation(f)
	name := w.dep.Object.Name
	switch {
	case needReason && strings.TrimSpace(f.Reason) == "":
		return fmt.Errorf("%w: A reason is required for production workloads", derrors.Invalid)
	case needName && f.Confirm != name:
		return fmt.Errorf("%w: Type the workload's name (%s) to confirm", derrors.Invalid, name)
	}
	return nil
}

// validate checks the input that does not need the cluster, so a bad value never gets as far
// as the API server.
func (s *Server) validate(w *workloadRef, f actionForm) error {
	max := s.ActionsConfig.MaxReplicas
	switch f.Action {
	case policy.Deploy:
		_, err := rollout.ValidateImage(f.Image)
		return err
	case policy.Rollback:
		if f.Revision < 0 {
			return fmt.Errorf("%w: Revision must be a positive number (or 0 for the previous one)", derrors.Invalid)
		}
	case policy.Scale:
		if w.dep.HPA != nil {
			if f.Min == nil || f.Max == nil {
				return fmt.Errorf("%w: %s is managed by the autoscaler %s: give its new min and max", derrors.Invalid, w.dep.Object.Name, w.dep.HPA.Name)
			}
			return nil
		}
		if f.Replicas == nil {
			return fmt.Errorf("%w: Give the number of replicas", derrors.Invalid)
		}
		if *f.Replicas < 0 || *f.Replicas > max {
			return fmt.Errorf("%w: Replicas must be between 0 and %d, not %d", derrors.Invalid, max, *f.Replicas)
		}
	}
	return nil
}

// run performs (or dry-runs) the action as the user, through Kubernetes impersonation.
func (s *Server) run(ctx context.Context, w *workloadRef, id cluster.Identity, f actionForm, auditID int) (rollout.Result, error) {
	cs, err := w.cl.As(id)
	if err != nil {
		return rollout.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	t := rollout.Target{Namespace: w.dep.Object.Namespace, Name: w.dep.Object.Name, Generation: f.Generation}
	if auditID > 0 {
		t.Annotations = map[string]string{AnnotationAuditID: strconv.Itoa(auditID)}
	}
	switch f.Action {
	case policy.Deploy:
		return rollout.Deploy(ctx, cs, t, f.Container, f.Image, f.Reason, f.DryRun)
	case policy.Rollback:
		return rollout.Rollback(ctx, cs, t, f.Revision, f.Reason, f.DryRun)
	case policy.Restart:
		return rollout.Restart(ctx, cs, t, f.Reason, f.DryRun)
	case policy.Scale:
		if w.dep.HPA != nil {
			return rollout.ScaleHPA(ctx, cs, t.Namespace, w.dep.HPA.Name, 0, *f.Min, *f.Max, s.ActionsConfig.MaxReplicas, f.DryRun)
		}
		return rollout.Scale(ctx, cs, t, *f.Replicas, s.ActionsConfig.MaxReplicas, f.DryRun)
	}
	return rollout.Result{}, fmt.Errorf("%w: Unknown action %q", derrors.Invalid, f.Action)
}

// outcome is how an action attempt ended, for the form's redirect and the API's answer.
type outcome struct {
	Entry     audit.Entry    `json:"audit"`
	Result    rollout.Result `json:"result"`
	Duplicate bool           `json:"duplicate,omitempty"`
}

// act is the one path every change takes, from the browser and from the API: policy, then
// input checks, then an audit intent, then the change as the impersonated user, then the
// audit result. A dry run (the preview) is checked the same way but changes nothing and is
// audited only when refused.
func (s *Server) act(c echo.Context, w *workloadRef, f actionForm) (outcome, error) {
	ctx := c.Request().Context()
	u := userFrom(ctx)
	if u == nil {
		return outcome{}, fmt.Errorf("%w: Sign in to %s", derrors.Unauthenticated, f.Action)
	}
	if s.Audit == nil {
		return outcome{}, fmt.Errorf("%w: Actions need the audit log, and this portal keeps none", derrors.Unavailable)
	}
	entry := audit.Entry{RequestID: c.Response().Header().Get(echo.HeaderXRequestID), IdempotencyKey: f.Key, Actor: userLabel(u),
		ActorEmail: u.Email, Groups: u.Groups, SourceIP: c.RealIP(), Action: string(f.Action), Params: f.params(), Reason: f.Reason,
		Entity: w.rec.Entity.Ref().String(), Cluster: w.cl.Name, Namespace: w.dep.Object.Namespace, Kind: "Deployment",
		Name: w.dep.Object.Name, Before: rollout.Summary(w.dep.Object)}
	if f.DryRun {
		entry.IdempotencyKey = ""
	}
	refuse := func(result audit.Result, err error) (outcome, error) {
		if f.DryRun && result != audit.Denied {
			return outcome{}, err
		}
		// A refusal does not use up the form's key: corrected, the same form may act.
		refused := entry
		refused.IdempotencyKey = ""
		e, berr := s.Audit.Begin(ctx, refused)
		if berr == nil {
			berr = s.Audit.Finish(ctx, e.ID, result, "", err)
		}
		if berr != nil && !errors.Is(berr, audit.ErrDuplicate) {
			return outcome{}, derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", berr)
		}
		return outcome{Entry: e}, err
	}
	if d := s.Policy.Decide(*s.subject(ctx), f.Action, w.target); !d.Allowed {
		return refuse(audit.Denied, fmt.Errorf("%w: %s", derrors.Forbidden, d.Reason))
	}
	if f.invalid != nil {
		return refuse(audit.Failed, f.invalid)
	}
	if err := s.validate(w, f); err != nil {
		return refuse(audit.Failed, err)
	}
	if err := s.checkScan(ctx, w, f); err != nil {
		return refuse(audit.Denied, err)
	}
	if !f.DryRun {
		if err := w.checkConfirmation(f); err != nil {
			return refuse(audit.Failed, err)
		}
	}
	if f.DryRun {
		res, err := s.run(ctx, w, kubeIdentity(u), f, 0)
		if errors.Is(err, derrors.Forbidden) {
			return refuse(audit.Denied, err)
		}
		return outcome{Result: res}, err
	}
	e, err := s.Audit.Begin(ctx, entry)
	if errors.Is(err, audit.ErrDuplicate) {
		return outcome{Entry: e, Duplicate: true}, nil
	}
	if err != nil {
		return outcome{}, derrors.E(derrors.Unavailable, "The audit log cannot be written, so nothing was changed", err)
	}
	res, runErr := s.run(ctx, w, kubeIdentity(u), f, e.ID)
	result := audit.Succeeded
	switch {
	case errors.Is(runErr, derrors.Forbidden):
		result = audit.Denied
	case runErr != nil:
		result = audit.Failed
	}
	// The change is made: record it even if the request was cancelled meanwhile.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := s.Audit.Finish(fctx, e.ID, result, res.After, runErr); ferr != nil {
		s.Log.Error("audit entry not completed", "audit_id", e.ID, "err", ferr)
	}
	e.Result, e.After = result, res.After
	if runErr != nil {
		e.Error = runErr.Error()
	}
	return outcome{Entry: e, Result: res}, runErr
}

// checkScan applies the optional rule that production only runs images whose CI run passed
// its security-scan stage.
func (s *Server) checkScan(ctx context.Context, w *workloadRef, f actionForm) error {
	if f.Action != policy.Deploy || !w.production || s.Pipelines == nil || !s.PipelineSecrets.RequireSecurityScan {
		return nil
	}
	builds, err := s.Pipelines.BuildsOf(ctx, projectsOf(w.rec.Entity), []string{f.Image})
	if err != nil {
		return derrors.E(derrors.Unavailable, "Could not check the image's security scan, so production deploys are held; try again in a moment", err)
	}
	b, ok := builds[f.Image]
	switch {
	case !ok:
		return fmt.Errorf("%w: Production only runs images built by a reported CI run that passed its security scan, and no run reported building %s", derrors.Forbidden, f.Image)
	case !b.ScanPassed:
		return fmt.Errorf("%w: %s was built by run %s, which did not pass its security-scan stage; production only runs scanned images", derrors.Forbidden, f.Image, b.RunID)
	}
	return nil
}

// newFormKey is a one-time key for a confirmation form: submitting it twice acts once.
func newFormKey() string { return rand.Text() }

// handleAPIAction is POST /api/v1/…/workloads/:cluster/:wns/:workload/:action.
func (s *Server) handleAPIAction(c echo.Context) error {
	a, err := parseAction(c)
	if err != nil {
		return err
	}
	w, err := s.resolveWorkload(c)
	if err != nil {
		return err
	}
	out, err := s.act(c, w, parseActionJSON(c, a))
	if err != nil {
		return err
	}
	// A repeated Idempotency-Key answers with the first attempt's entry and acts no more.
	return c.JSON(http.StatusOK, out)
}

// auditHiddenAction records an action attempted on an entity the user may not view: it is
// refused like a missing one (404), and audited as denied like every refused action.
func (s *Server) auditHiddenAction(c echo.Context, ref catalog.Ref) {
	ctx := c.Request().Context()
	u := userFrom(ctx)
	if u == nil || s.Audit == nil {
		return
	}
	entry := audit.Entry{RequestID: c.Response().Header().Get(echo.HeaderXRequestID), Actor: userLabel(u), ActorEmail: u.Email,
		Groups: u.Groups, SourceIP: c.RealIP(), Action: c.Param("action"), Entity: ref.String(), Cluster: c.Param("cluster"),
		Namespace: c.Param("wns"), Kind: "Deployment", Name: c.Param("workload")}
	e, err := s.Audit.Begin(ctx, entry)
	if err == nil {
		err = s.Audit.Finish(ctx, e.ID, audit.Denied, "", fmt.Errorf("%w: %s may not view %s", derrors.Forbidden, userLabel(u), ref.Short()))
	}
	if err != nil {
		s.Log.Error("audit of a refused action failed", "err", err, "entity", ref.String())
	}
}
