package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
)

// auditLog is what the server needs from the audit log.
type auditLog interface {
	Begin(ctx context.Context, e audit.Entry) (audit.Entry, error)
	Finish(ctx context.Context, id int, result audit.Result, after string, cause error) error
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	Get(ctx context.Context, id int) (audit.Entry, error)
}

// AnnotationAuditID is the annotation the write path puts on each change (see actions).
const AnnotationAuditID = actions.AnnotationAuditID

// actionForm is one action's input as the browser or the API sent it: the domain's input,
// plus what could not be read (refused, and audited, after the policy check).
type actionForm struct {
	actions.Input
	invalid error
}

func parseAction(c echo.Context) (policy.Action, error) {
	a := policy.Action(c.Param("action"))
	if !slices.Contains(actions.Writes, a) {
		return "", fmt.Errorf("%w: Unknown action %q (want deploy, rollback, scale or restart)", derrors.NotFound, a)
	}
	return a, nil
}

// parseActionForm reads a browser form; numbers that are not numbers are named.
func parseActionForm(c echo.Context, a policy.Action) actionForm {
	f := actionForm{Input: actions.Input{Action: a, Container: c.FormValue("container"), Image: strings.TrimSpace(c.FormValue("image")),
		Reason: strings.TrimSpace(c.FormValue("reason")), Confirm: strings.TrimSpace(c.FormValue("confirm")), Key: c.FormValue("key")}}
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
	if err := dec.Decode(&f.Input); err != nil {
		f = actionForm{invalid: fmt.Errorf("%w: The body must be a JSON object of the action's fields: %v", derrors.Invalid, err)}
	}
	f.Action, f.Key = a, c.Request().Header.Get("Idempotency-Key")
	return f
}

// workloadRef is a workload of an entity, resolved from the URL against the caches.
type workloadRef struct {
	*actions.Workload
	snap *catalog.Snapshot
	rec  *catalog.Record
	cl   *cluster.Cluster
	q    cluster.Query
	view cluster.DeploymentView
	base string // the workload page's URL
}

// resolveWorkload finds the Deployment named in the URL among those the entity selects.
func (s *Server) resolveWorkload(c echo.Context) (*workloadRef, error) {
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return nil, err
	}
	return s.workloadAt(c.Request().Context(), snap, rec, c.Param("cluster"), c.Param("wns"), c.Param("workload"))
}

// syncWait is how long a request waits for a cluster's caches still filling (a portal just
// started), rather than answer "not synced yet" a moment before they are.
const syncWait = 5 * time.Second

// workloadAt resolves the entity's Deployment ns/name in the named cluster against the caches.
func (s *Server) workloadAt(ctx context.Context, snap *catalog.Snapshot, rec *catalog.Record, clusterName, ns, name string) (*workloadRef, error) {
	q, mapped, err := cluster.QueryFor(rec.Entity.Metadata.Annotations)
	if err != nil || !mapped || s.Clusters == nil {
		return nil, fmt.Errorf("%w: %s does not say where it runs", derrors.NotFound, rec.Entity.Ref().Short())
	}
	cl := s.Clusters.Cluster(clusterName)
	if cl == nil {
		return nil, fmt.Errorf("%w: There is no cluster %q", derrors.NotFound, clusterName)
	}
	if !cl.Synced() {
		if r := cl.Reachability(); !r.Probed || r.Reachable {
			wctx, cancel := context.WithTimeout(ctx, syncWait)
			cl.WaitSynced(wctx)
			cancel()
		}
	}
	if !cl.Synced() {
		return nil, fmt.Errorf("%w: The caches of cluster %s are not synced yet (it may be unreachable); try again shortly", derrors.Unavailable, cl.Name)
	}
	dep, ok := cl.Deployment(q, ns, name)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no Deployment %s/%s in cluster %s", derrors.NotFound, rec.Entity.Ref().Short(), ns, name, cl.Name)
	}
	w := &actions.Workload{Entity: rec.Entity, Cluster: cl, ClusterName: cl.Name, Environment: cl.Environment, Deployment: dep,
		Target: access.Target(snap, rec.Entity, cl.Name, cl.Environment, ns)}
	return &workloadRef{Workload: w, snap: snap, rec: rec, cl: cl, q: q, view: dep.View(actions.AnnotationAuditID),
		base: workloadHref(rec.Entity.Ref(), cl.Name, ns, name)}, nil
}

// act hands the attempt to the write path with who is asking.
func (s *Server) act(c echo.Context, w *workloadRef, f actionForm) (actions.Outcome, error) {
	ch, viaAgent := channel(c)
	out, err := s.actions.Do(c.Request().Context(), actions.Request{Actor: s.actor(c.Request().Context()), Workload: w.Workload, Input: f.Input,
		Invalid: f.invalid, RequestID: c.Response().Header().Get(echo.HeaderXRequestID), SourceIP: c.RealIP(), Channel: ch, Agent: viaAgent})
	if !f.Input.DryRun {
		result := string(out.Entry.Result)
		if result == "" {
			result = "not recorded" // refused before the audit log could be written
		}
		s.actionsDone.WithLabelValues(string(f.Input.Action), result).Inc()
	}
	return out, err
}

// actor is the signed-in user as the write path sees them; nil when nobody is.
func (s *Server) actor(ctx context.Context) *actions.Actor {
	u := userFrom(ctx)
	if u == nil {
		return nil
	}
	return &actions.Actor{Subject: *s.subject(ctx), Label: userLabel(u), Email: u.Email, Groups: u.Groups, Identity: kubeIdentity(u)}
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
	a := s.actor(ctx)
	if a == nil {
		return
	}
	ch, _ := channel(c)
	e := audit.Entry{RequestID: c.Response().Header().Get(echo.HeaderXRequestID), SourceIP: c.RealIP(), Channel: ch, Action: c.Param("action"),
		Entity: ref.String(), Cluster: c.Param("cluster"), Namespace: c.Param("wns"), Kind: "Deployment", Name: c.Param("workload")}
	if strings.HasSuffix(c.Path(), "/scorecard/exemptions") {
		e.Action, e.Kind, e.Name, e.Cluster, e.Namespace = string(policy.Exempt), "ScorecardCheck", c.FormValue("check"), "", ""
	}
	if err := s.actions.Refuse(ctx, a, e, fmt.Errorf("%w: %s may not view %s", derrors.Forbidden, a.Label, ref.Short())); err != nil {
		s.Log.Error("audit of a refused action failed", "err", err, "entity", ref.String())
	}
}
