package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/rollout"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleWorkloadShow(c echo.Context) error {
	w, err := s.resolveWorkload(c)
	if err != nil {
		return err
	}
	vm := s.workloadVM(c, w)
	if id, err := strconv.Atoi(c.QueryParam("done")); err == nil && s.Audit != nil {
		if e, err := s.Audit.Get(c.Request().Context(), id); err == nil && e.Name == w.view.Name {
			vm.Flash = doneFlash(e, c.QueryParam("again") != "")
		}
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Deployment " + vm.Name, Nav: "catalog"}, components.WorkloadView(vm))
}

// doneFlash tells the outcome of an action the user just submitted.
func doneFlash(e audit.Entry, again bool) *components.Flash {
	f := &components.Flash{Kind: "ok", Title: strings.ToUpper(e.Action[:1]) + e.Action[1:] + " " + string(e.Result), Message: e.After}
	switch e.Result {
	case audit.Denied:
		f.Kind, f.Message = "error", e.Error
	case audit.Failed:
		f.Kind, f.Message = "error", e.Error
	case audit.Pending:
		f.Kind = "warn"
	}
	if again {
		f.Kind, f.Title = "warn", "This form was already submitted"
		f.Message = fmt.Sprintf("it acted once (audit entry %d: %s); nothing more was done", e.ID, e.Result)
	}
	return f
}

func (s *Server) handleWorkloadProgress(c echo.Context) error {
	w, err := s.resolveWorkload(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.ProgressView(s.progressVM(w)))
}

func (s *Server) workloadVM(c echo.Context, w *workloadRef) components.WorkloadPage {
	d := w.view
	e := w.rec.Entity
	vm := components.WorkloadPage{Entity: components.Link{Label: e.DisplayName(), Href: entityHref(e.Ref())},
		Cluster: w.cl.DisplayName, Environment: w.cl.Environment, Namespace: d.Namespace, Name: d.Name, Production: s.actions.Production(w.Workload),
		Base: w.base, EventsURL: entityHref(e.Ref()) + "/runtime/events", Progress: s.progressVM(w), Generation: d.Generation,
		Replicas: d.Desired, MaxReplicas: s.actions.MaxReplicas(), AuditHref: auditHref("entity", e.Ref().String()), Containers: d.Containers}
	vm.CSRF, _ = c.Get("csrf").(string)
	if h := d.HPA; h != nil {
		vm.HPA = &components.HPABounds{Name: h.Name, Min: h.Min, Max: h.Max}
	}
	ctx := c.Request().Context()
	var entries []audit.Entry
	if s.Audit != nil {
		entries, _ = s.Audit.List(ctx, audit.Filter{Entity: e.Ref().String(), Cluster: w.cl.Name, Namespace: d.Namespace, Name: d.Name, Limit: 200})
	}
	byID := map[string]audit.Entry{}
	for _, en := range entries {
		byID[strconv.Itoa(en.ID)] = en
	}
	// Images from the service's successful CI runs come first, then those it ran before.
	if s.Pipelines != nil {
		if imgs, err := s.Pipelines.SuccessfulImages(ctx, e.ProjectSlugs(), 10); err == nil {
			vm.Images = append(vm.Images, imgs...)
		}
	}
	for _, rs := range d.Revisions {
		for _, i := range rs.Images {
			if !slices.Contains(vm.Images, i) {
				vm.Images = append(vm.Images, i)
			}
		}
		row := components.RevisionRow{Revision: rs.Number, Images: strings.Join(rs.Images, ", "), Cause: rs.ChangeCause,
			Age: age(rs.Created), Created: rs.Created.UTC().Format("2006-01-02 15:04:05 UTC"),
			Current: rs.Current, Who: "outside Portico", Replicas: fmt.Sprintf("%d/%d", rs.Ready, rs.Desired)}
		if en, ok := byID[rs.AuditID]; ok && en.Result == audit.Succeeded {
			row.Who = en.Actor + " (" + en.Action + ")"
		}
		vm.Revisions = append(vm.Revisions, row)
	}
	asked := s.askAccess(ctx, w, policy.Deploy, policy.Rollback, policy.Scale, policy.Restart)
	vm.Deploy, vm.Rollback, vm.Scale, vm.Restart = s.actionState(ctx, w, policy.Deploy, asked), s.actionState(ctx, w, policy.Rollback, asked),
		s.actionState(ctx, w, policy.Scale, asked), s.actionState(ctx, w, policy.Restart, asked)
	for i, en := range entries {
		if i == 10 {
			break
		}
		vm.Audit = append(vm.Audit, auditRowVM(en))
	}
	return vm
}

// kubeAccess is the Kubernetes permission an action needs on a workload.
func kubeAccess(w *workloadRef, a policy.Action) cluster.Access {
	d := w.view
	if a == policy.Scale {
		if d.HPA != nil {
			return cluster.Access{Verb: "update", Group: "autoscaling", Resource: "horizontalpodautoscalers", Namespace: d.Namespace, Name: d.HPA.Name}
		}
		return cluster.Access{Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale", Namespace: d.Namespace, Name: d.Name}
	}
	return cluster.Access{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: d.Namespace, Name: d.Name}
}

// accessAnswers are one page's access reviews, so a permission is asked about once per
// page even when the review fails (a failure is not cached across pages).
type accessAnswers map[cluster.Access]accessAnswer

type accessAnswer struct {
	v   cluster.Verdict
	err error
}

// askAccess reviews the permissions the actions the policy allows need, each once (deploy,
// rollback and restart need the same) and side by side, so a slow cluster costs a page one
// review's timeout, not one per button.
func (s *Server) askAccess(ctx context.Context, w *workloadRef, acts ...policy.Action) accessAnswers {
	asked := accessAnswers{}
	u := userFrom(ctx)
	if u == nil {
		return asked
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[cluster.Access]bool{}
	for _, a := range acts {
		if !s.Policy.Decide(*s.subject(ctx), a, w.Target).Allowed {
			continue // the button is disabled by the policy: nothing to ask the cluster
		}
		need := kubeAccess(w, a)
		if seen[need] {
			continue
		}
		seen[need] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := w.cl.Can(ctx, kubeIdentity(u), need)
			mu.Lock()
			asked[need] = accessAnswer{v, err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return asked
}

// actionState says whether the user may use an action: Portico's policy first, then the
// cluster's RBAC through a (cached) SubjectAccessReview, so a button is only enabled when
// both would allow it, and a disabled one says which said no. asked (may be nil) holds the
// page's earlier answers.
func (s *Server) actionState(ctx context.Context, w *workloadRef, a policy.Action, asked accessAnswers) components.ActionState {
	u := userFrom(ctx)
	if u == nil {
		return components.ActionState{Why: "Sign in to " + string(a) + "."}
	}
	if d := s.Policy.Decide(*s.subject(ctx), a, w.Target); !d.Allowed {
		return components.ActionState{Why: "Portico's policy: " + d.Reason + "."}
	}
	need := kubeAccess(w, a)
	ans, ok := asked[need]
	if !ok {
		ans.v, ans.err = w.cl.Can(ctx, kubeIdentity(u), need)
		if asked != nil {
			asked[need] = ans
		}
	}
	v, err := ans.v, ans.err
	if err != nil {
		return components.ActionState{Why: "Could not check your Kubernetes permissions (" + err.Error() + ")."}
	}
	if !v.Allowed {
		return components.ActionState{Why: "Kubernetes: " + v.Reason + "."}
	}
	return components.ActionState{Allowed: true}
}

// progressVM reads the rollout's state from the caches.
func (s *Server) progressVM(w *workloadRef) components.Progress {
	d := w.view
	p := components.Progress{URL: w.base + "/progress", Desired: d.Desired, Total: d.Total}
	for _, cw := range w.cl.Runtime(w.q).Workloads {
		if cw.Kind != "Deployment" || cw.Namespace != d.Namespace || cw.Name != d.Name {
			continue
		}
		p.State, p.Reason, p.Health = cw.Rollout, cw.RolloutReason, badge(cw.Health)
		p.Updated, p.Ready, p.Available = cw.Updated, cw.Ready, cw.Available
		for _, pod := range cw.Pods {
			p.Pods = append(p.Pods, components.PodRow{Name: pod.Name, Phase: pod.Phase, Ready: pod.Ready, Age: age(pod.Created), Reason: pod.Reason})
		}
	}
	for _, rs := range d.Revisions {
		if !rs.Current && rs.Desired == 0 && rs.StatusReplicas == 0 {
			continue
		}
		p.Sets = append(p.Sets, components.ReplicaSetRow{Revision: rs.Label, Name: rs.Name,
			Image: strings.Join(rs.Images, ", "), Current: rs.Current, Desired: rs.Desired, Ready: rs.Ready})
	}
	return p
}

// handleWorkloadAction is POST …/workloads/:cluster/:wns/:workload/:action from the browser:
// without step=apply it shows the dry-run preview and the confirmation form; with it, it acts.
func (s *Server) handleWorkloadAction(c echo.Context) error {
	a, err := parseAction(c)
	if err != nil {
		return err
	}
	w, err := s.resolveWorkload(c)
	if err != nil {
		return err
	}
	f := parseActionForm(c, a)
	apply := c.FormValue("step") == "apply"
	f.DryRun = !apply
	out, err := s.act(c, w, f)
	if err != nil {
		return s.workloadError(c, w, err)
	}
	if apply {
		to := w.base + "?done=" + strconv.Itoa(out.Entry.ID)
		if out.Duplicate {
			to += "&again=1"
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
	vm := s.confirmVM(c, w, f, out.Result)
	return s.page(c, http.StatusOK, components.Page{Title: vm.Title, Nav: "catalog"}, components.ConfirmView(vm))
}

// workloadError shows a refused or failed action on the workload page, with the status it
// deserves, so the user sees what went wrong next to what still works.
func (s *Server) workloadError(c echo.Context, w *workloadRef, err error) error {
	status, title, msg := classify(err)
	if status == http.StatusInternalServerError {
		return err
	}
	s.Log.Info("action refused", "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "status", status, "err", err)
	vm := s.workloadVM(c, w)
	vm.Flash = &components.Flash{Kind: "error", Title: title, Message: msg}
	return s.page(c, status, components.Page{Title: "Deployment " + vm.Name, Nav: "catalog"}, components.WorkloadView(vm))
}

func (s *Server) confirmVM(c echo.Context, w *workloadRef, f actionForm, res rollout.Result) components.ConfirmAction {
	d := w.view
	vm := components.ConfirmAction{Entity: components.Link{Label: w.rec.Entity.DisplayName(), Href: entityHref(w.rec.Entity.Ref())},
		Workload: d.Namespace + "/" + d.Name, Cluster: w.cl.DisplayName, Environment: w.cl.Environment, Message: res.Message,
		Before: res.Before, After: res.After, Unchanged: res.Unchanged, Name: d.Name, Reason: f.Reason,
		Post: w.base + "/" + string(f.Action), Cancel: w.base, Diff: diffLines(res.Diff)}
	vm.CSRF, _ = c.Get("csrf").(string)
	vm.NeedReason, vm.NeedName, vm.Warning = s.actions.Confirmation(w.Workload, f.Input)
	hidden := func(name, value string) {
		if value != "" {
			vm.Fields = append(vm.Fields, components.Hidden{Name: name, Value: value})
		}
	}
	i32 := func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	}
	hidden("key", newFormKey())
	hidden("generation", strconv.FormatInt(f.Generation, 10))
	hidden("container", f.Container)
	hidden("image", f.Image)
	hidden("replicas", i32(f.Replicas))
	hidden("min", i32(f.Min))
	hidden("max", i32(f.Max))
	switch f.Action {
	case policy.Deploy:
		vm.Title, vm.Verb = "Deploy "+f.Image, "Deploy"
	case policy.Rollback:
		hidden("revision", strconv.Itoa(f.Revision))
		vm.Title, vm.Verb = fmt.Sprintf("Roll back to revision %d", f.Revision), "Roll back"
	case policy.Scale:
		if w.view.HPA != nil {
			vm.Title = fmt.Sprintf("Set the autoscaler to %s–%s replicas", i32(f.Min), i32(f.Max))
		} else {
			vm.Title = "Scale to " + i32(f.Replicas) + " replicas"
		}
		vm.Verb = "Scale"
	case policy.Restart:
		vm.Title, vm.Verb = "Restart every pod", "Restart"
	}
	return vm
}

func diffLines(diff string) []components.DiffLine {
	var out []components.DiffLine
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		kind := "ctx"
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			kind = "hunk"
		case strings.HasPrefix(l, "@@"):
			kind = "hunk"
		case strings.HasPrefix(l, "+"):
			kind = "add"
		case strings.HasPrefix(l, "-"):
			kind = "del"
		}
		out = append(out, components.DiffLine{Kind: kind, Text: l})
	}
	return out
}
