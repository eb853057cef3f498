// Package rollout changes Deployments for a user: deploy an image, roll back to a revision,
// scale, restart. Every change is made with the user's own (impersonated) client, carries a
// resourceVersion precondition so a concurrent edit is a conflict rather than an overwrite,
// is applied with Portico's field manager, and can be run as a server-side dry run that
// returns the diff of what would change. Nodes are cordoned and uncordoned here too.
package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/pmezard/go-difflib/difflib"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/internal/derrors"
)

// FieldManager names Portico's changes in managedFields.
const FieldManager = "portico"

// Annotations Portico reads or writes.
const (
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	revisionAnnotation    = "deployment.kubernetes.io/revision"
)

// Target is the Deployment a change is for.
type Target struct {
	Namespace, Name string
	// Generation is the spec version the user saw (metadata.generation); the change is
	// refused as a conflict if the spec changed since. Zero means "as read just now". The
	// write itself carries the resourceVersion just read as its precondition, so an edit
	// between that read and the write is a conflict too. (Not the resourceVersion the user
	// saw: status updates bump it every few seconds during a rollout, which would make every
	// form on a live page stale.)
	Generation int64
	// Annotations are added to the Deployment with the change (deploy, rollback, restart);
	// the controller copies them to the ReplicaSet of the new revision. Portico records the
	// audit entry's ID this way, so a revision's author can be looked up.
	Annotations map[string]string
}

// Result is what a change did or, in a dry run, would do.
type Result struct {
	Before, After string // short summaries for the audit log, e.g. "image payment:1.4 replicas 3"
	Diff          string // unified diff of the changed spec
	Generation    int64  // of the spec after the change
	Message       string // what happened, in words
	Unchanged     bool   // nothing to do: the Deployment already is as asked
}

// ValidateImage checks an image reference (a tag or a digest) with the same grammar the
// container runtimes use, and returns it in full ("docker.io/library/nginx:1.27").
func ValidateImage(image string) (string, error) {
	image = strings.TrimSpace(image)
	if image == "" {
		return "", fmt.Errorf("%w: Give an image, e.g. registry.example.com/payment:1.4.3", derrors.Invalid)
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not a valid image reference: %v", derrors.Invalid, image, err)
	}
	if reference.IsNameOnly(named) {
		return "", fmt.Errorf("%w: %q names no tag or digest; give one so the deploy is reproducible", derrors.Invalid, image)
	}
	return image, nil
}

// Deploy sets the image of one container.
func Deploy(ctx context.Context, cs kubernetes.Interface, t Target, container, image, reason string, dryRun bool) (Result, error) {
	return retrying(func() (Result, error) {
		image, err := ValidateImage(image)
		if err != nil {
			return Result{}, err
		}
		d, err := current(ctx, cs, t)
		if err != nil {
			return Result{}, err
		}
		c, err := pickContainer(d, container)
		if err != nil {
			return Result{}, err
		}
		if c.Image == image {
			return Result{Unchanged: true, Before: Summary(d), After: Summary(d), Generation: d.Generation,
				Message: fmt.Sprintf("container %s already runs %s", c.Name, image)}, nil
		}
		patch := map[string]any{
			"metadata": map[string]any{"resourceVersion": d.ResourceVersion, "annotations": t.with(ChangeCauseAnnotation, cause("deploy "+image, reason))},
			"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []map[string]string{{"name": c.Name, "image": image}}}}},
		}
		return apply(ctx, cs, d, types.StrategicMergePatchType, patch, dryRun, fmt.Sprintf("deployed %s to container %s", image, c.Name))
	})
}

// Restart rolls every pod by stamping the pod template, as kubectl rollout restart does.
func Restart(ctx context.Context, cs kubernetes.Interface, t Target, reason string, dryRun bool) (Result, error) {
	return retrying(func() (Result, error) {
		d, err := current(ctx, cs, t)
		if err != nil {
			return Result{}, err
		}
		if d.Spec.Paused {
			// As kubectl: a paused Deployment would take the stamp and roll nothing.
			return Result{}, fmt.Errorf("%w: %s is paused, so a restart would replace no pod; resume it first", derrors.Invalid, d.Name)
		}
		patch := map[string]any{
			"metadata": map[string]any{"resourceVersion": d.ResourceVersion, "annotations": t.with(ChangeCauseAnnotation, cause("restart", reason))},
			"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
				"annotations": map[string]string{RestartedAtAnnotation: time.Now().UTC().Format(time.RFC3339)}}}},
		}
		return apply(ctx, cs, d, types.StrategicMergePatchType, patch, dryRun, "restarted: every pod is being replaced")
	})
}

// Rollback restores the whole pod template of an earlier revision, with kubectl rollout
// undo's semantics: the template is copied without its pod-template-hash label so the
// controller adopts the old ReplicaSet again, and the revision's annotations come back
// (except the controller's own bookkeeping). Revision 0 means the previous one.
func Rollback(ctx context.Context, cs kubernetes.Interface, t Target, revision int, reason string, dryRun bool) (Result, error) {
	return retrying(func() (Result, error) {
		d, err := current(ctx, cs, t)
		if err != nil {
			return Result{}, err
		}
		if d.Spec.Paused {
			return Result{}, fmt.Errorf("%w: %s is paused; resume it before rolling back", derrors.Invalid, d.Name)
		}
		rs, err := revisionOf(ctx, cs, d, revision)
		if err != nil {
			return Result{}, err
		}
		rev := rs.Annotations[revisionAnnotation]
		tmpl := rs.Spec.Template.DeepCopy()
		delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		if apiequality.Semantic.DeepEqual(tmpl, stripHash(&d.Spec.Template)) {
			return Result{Unchanged: true, Before: Summary(d), After: Summary(d), Generation: d.Generation,
				Message: "the current template already matches revision " + rev}, nil
		}
		ann := map[string]string{}
		for k, v := range d.Annotations {
			if keepOnRollback[k] {
				ann[k] = v
			}
		}
		for k, v := range rs.Annotations {
			if !keepOnRollback[k] {
				ann[k] = v
			}
		}
		for k, v := range t.with(ChangeCauseAnnotation, cause("rollback to revision "+rev, reason)) {
			ann[k] = v
		}
		patch := []map[string]any{
			{"op": "replace", "path": "/metadata/resourceVersion", "value": d.ResourceVersion},
			{"op": "replace", "path": "/spec/template", "value": tmpl},
			{"op": "replace", "path": "/metadata/annotations", "value": ann},
		}
		return apply(ctx, cs, d, types.JSONPatchType, patch, dryRun, "rolled back to revision "+rev)
	})
}

// keepOnRollback are the Deployment's own annotations that stay when a revision's come back
// (kubectl's annotationsToSkip).
var keepOnRollback = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	revisionAnnotation:                          true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	appsv1.DeprecatedRollbackTo:                 true,
}

// Scale sets the replica count through the scale subresource, within 0..max.
func Scale(ctx context.Context, cs kubernetes.Interface, t Target, replicas, max int32, dryRun bool) (Result, error) {
	return retrying(func() (Result, error) {
		if replicas < 0 || replicas > max {
			return Result{}, fmt.Errorf("%w: Replicas must be between 0 and %d, not %d", derrors.Invalid, max, replicas)
		}
		if _, err := current(ctx, cs, t); err != nil {
			return Result{}, err
		}
		sc, err := cs.AppsV1().Deployments(t.Namespace).GetScale(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return Result{}, kubeError(err, "read the scale of "+t.Name)
		}
		before := fmt.Sprintf("replicas %d", sc.Spec.Replicas)
		res := Result{Before: before, After: fmt.Sprintf("replicas %d", replicas), Diff: lineDiff("replicas", before, fmt.Sprintf("replicas %d", replicas))}
		if sc.Spec.Replicas == replicas {
			res.Unchanged, res.Diff, res.Message = true, "", fmt.Sprintf("already at %d replicas", replicas)
			return res, nil
		}
		sc.Spec.Replicas = replicas
		opts := metav1.UpdateOptions{FieldManager: FieldManager}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err = cs.AppsV1().Deployments(t.Namespace).UpdateScale(ctx, t.Name, sc, opts)
		if err != nil {
			return Result{}, kubeError(err, "scale "+t.Name)
		}
		res.Message = fmt.Sprintf("scaled %s to %d replicas", t.Name, replicas)
		return res, nil
	})
}

// ScaleHPA changes the bounds of the autoscaler that manages a Deployment: scaling the
// Deployment itself would be undone by the autoscaler within seconds.
func ScaleHPA(ctx context.Context, cs kubernetes.Interface, namespace, hpa string, generation int64, min, max, limit int32, dryRun bool) (Result, error) {
	return retrying(func() (Result, error) {
		switch {
		case min < 1:
			return Result{}, fmt.Errorf("%w: An autoscaler's minimum must be at least 1, not %d", derrors.Invalid, min)
		case max < min:
			return Result{}, fmt.Errorf("%w: The maximum (%d) must not be below the minimum (%d)", derrors.Invalid, max, min)
		case max > limit:
			return Result{}, fmt.Errorf("%w: The maximum must be at most %d, not %d", derrors.Invalid, limit, max)
		}
		h, err := cs.AutoscalingV1().HorizontalPodAutoscalers(namespace).Get(ctx, hpa, metav1.GetOptions{})
		if err != nil {
			return Result{}, kubeError(err, "read autoscaler "+hpa)
		}
		if generation != 0 && h.Generation != generation {
			return Result{}, stale("autoscaler " + hpa)
		}
		bounds := func(h *autoscalingv1.HorizontalPodAutoscaler) string {
			m := int32(1)
			if h.Spec.MinReplicas != nil {
				m = *h.Spec.MinReplicas
			}
			return fmt.Sprintf("autoscaler min %d max %d", m, h.Spec.MaxReplicas)
		}
		before := bounds(h)
		h.Spec.MinReplicas, h.Spec.MaxReplicas = &min, max
		after := bounds(h)
		res := Result{Before: before, After: after, Diff: lineDiff("autoscaler", before, after)}
		if before == after {
			res.Unchanged, res.Diff, res.Generation, res.Message = true, "", h.Generation, "the autoscaler already has these bounds"
			return res, nil
		}
		opts := metav1.UpdateOptions{FieldManager: FieldManager}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		out, err := cs.AutoscalingV1().HorizontalPodAutoscalers(namespace).Update(ctx, h, opts)
		if err != nil {
			return Result{}, kubeError(err, "update autoscaler "+hpa)
		}
		res.Generation, res.Message = out.Generation, fmt.Sprintf("autoscaler %s now keeps %d to %d replicas", hpa, min, max)
		return res, nil
	})
}

// errRaced marks a write that lost a race with another write (often the controller's status
// update) after the user's check passed: it is retried with a fresh read, which checks the
// user's generation again, so a real concurrent edit of the spec still ends as a conflict.
var errRaced = errors.New("raced")

// retrying runs f again, with client-go's backoff for conflicts, while it loses races.
func retrying(f func() (Result, error)) (Result, error) {
	var res Result
	err := retry.OnError(retry.DefaultRetry, func(err error) bool { return errors.Is(err, errRaced) }, func() error {
		var err error
		res, err = f()
		return err
	})
	return res, err
}

func current(ctx context.Context, cs kubernetes.Interface, t Target) (*appsv1.Deployment, error) {
	d, err := cs.AppsV1().Deployments(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return nil, kubeError(err, "read "+t.Name)
	}
	if t.Generation != 0 && d.Generation != t.Generation {
		return nil, stale(t.Name)
	}
	return d, nil
}

func (t Target) with(k, v string) map[string]string {
	out := map[string]string{k: v}
	for k, v := range t.Annotations {
		out[k] = v
	}
	return out
}

func stale(name string) error {
	return fmt.Errorf("%w: %s changed since this page was loaded; reload it, check the change, and try again", derrors.Conflict, name)
}

func pickContainer(d *appsv1.Deployment, name string) (*corev1.Container, error) {
	cs := d.Spec.Template.Spec.Containers
	if name == "" && len(cs) == 1 {
		return &cs[0], nil
	}
	var names []string
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i], nil
		}
		names = append(names, cs[i].Name)
	}
	if name == "" {
		return nil, fmt.Errorf("%w: %s has several containers; choose one of %s", derrors.Invalid, d.Name, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%w: %s has no container %q (it has %s)", derrors.Invalid, d.Name, name, strings.Join(names, ", "))
}

func revisionOf(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment, revision int) (*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("%w: %s has an invalid selector: %v", derrors.Invalid, d.Name, err)
	}
	list, err := cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, kubeError(err, "list the revisions of "+d.Name)
	}
	cur := d.Annotations[revisionAnnotation]
	var best *appsv1.ReplicaSet
	bestRev := -1
	for i := range list.Items {
		rs := &list.Items[i]
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		var n int
		if _, err := fmt.Sscan(rs.Annotations[revisionAnnotation], &n); err != nil {
			continue
		}
		if revision > 0 && n == revision {
			return rs, nil
		}
		if revision == 0 && rs.Annotations[revisionAnnotation] != cur && n > bestRev {
			best, bestRev = rs, n
		}
	}
	if revision > 0 {
		return nil, fmt.Errorf("%w: %s has no revision %d (old revisions are kept up to its revisionHistoryLimit)", derrors.Invalid, d.Name, revision)
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %s has no earlier revision to roll back to", derrors.Invalid, d.Name)
	}
	return best, nil
}

func stripHash(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	c := t.DeepCopy()
	delete(c.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return c
}

// apply sends the patch (as a dry run first when asked) and describes the change.
func apply(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment, pt types.PatchType, patch any, dryRun bool, msg string) (Result, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return Result{}, fmt.Errorf("encode patch: %w", err)
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := cs.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, pt, body, opts)
	if err != nil {
		return Result{}, kubeError(err, "change "+d.Name)
	}
	if dryRun {
		msg = "would have " + msg
	}
	return Result{Before: Summary(d), After: Summary(out), Diff: templateDiff(d, out), Generation: out.Generation, Message: msg}, nil
}

// Summary is a Deployment's state in a line, for the audit log's before and after. (Not
// its revision: the controller numbers a new one only after the change is accepted.)
func Summary(d *appsv1.Deployment) string {
	var parts []string
	for _, c := range d.Spec.Template.Spec.Containers {
		parts = append(parts, "image "+c.Name+"="+c.Image)
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	parts = append(parts, fmt.Sprintf("replicas %d", replicas))
	if r := d.Spec.Template.Annotations[RestartedAtAnnotation]; r != "" {
		parts = append(parts, "restartedAt "+r)
	}
	return strings.Join(parts, ", ")
}

// templateDiff is the unified diff of the pod template and the change cause, as YAML.
// Environment variable values are shown as a digest: a changed value shows as a change, but
// no value (a password put in plain env, say) reaches the page, the API or an agent.
func templateDiff(before, after *appsv1.Deployment) string {
	view := func(d *appsv1.Deployment) string {
		t := stripHash(&d.Spec.Template)
		redactEnv(&t.Spec)
		b, _ := yaml.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{ChangeCauseAnnotation: d.Annotations[ChangeCauseAnnotation]}},
			"spec":     map[string]any{"template": t},
		})
		return string(b)
	}
	return unified(view(before), view(after), "live", "after")
}

// redactEnv replaces every literal environment value of the pod's containers with a digest.
func redactEnv(spec *corev1.PodSpec) {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			for j := range cs[i].Env {
				if v := cs[i].Env[j].Value; v != "" {
					sum := sha256.Sum256([]byte(v))
					cs[i].Env[j].Value = "‹redacted sha256:" + hex.EncodeToString(sum[:4]) + "›"
				}
			}
		}
	}
}

func lineDiff(what, before, after string) string {
	return unified(before+"\n", after+"\n", "live "+what, "after")
}

func unified(a, b, from, to string) string {
	s, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b), FromFile: from, ToFile: to, Context: 3,
	})
	return s
}

// silent wraps an error without adding to the message.
type silent struct{ err error }

func (s silent) Error() string { return "" }
func (s silent) Unwrap() error { return s.err }

func wrapSilently(err error) error { return silent{err} }

func cause(what, reason string) string {
	if reason = strings.TrimSpace(reason); reason != "" {
		return what + ": " + reason
	}
	return what
}

// kubeError maps an API error to what the user can act on; the API server's own message is
// kept, since it says which permission or field is at fault.
func kubeError(err error, doing string) error {
	var status apierrors.APIStatus
	msg := err.Error()
	if errors.As(err, &status) {
		msg = status.Status().Message
	}
	var netErr net.Error
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w: Kubernetes refused to %s: %s", derrors.Forbidden, doing, msg)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%w: %s: someone changed it meanwhile (%s); reload and try again%w", derrors.Conflict, doing, msg, wrapSilently(errRaced))
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: Could not %s: %s", derrors.NotFound, doing, msg)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return fmt.Errorf("%w: Kubernetes rejected the change: %s", derrors.Invalid, msg)
	case apierrors.IsUnauthorized(err):
		return derrors.E(derrors.Unavailable, "The cluster did not accept the portal's own credentials, so nothing was changed: tell the platform team", err)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsServiceUnavailable(err), apierrors.IsTooManyRequests(err),
		errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		return derrors.E(derrors.Unavailable, fmt.Sprintf("The cluster did not answer while trying to %s; nothing may have changed: check the workload, then try again", doing), err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
