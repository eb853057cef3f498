package rollout

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestValidateImage(t *testing.T) {
	for _, ok := range []string{"nginx:1.27", "registry.acme.example/payment:1.4.3", "ghcr.io/acme/pay@sha256:" + strings.Repeat("a", 64), "localhost:5000/x/y:z"} {
		if _, err := ValidateImage(ok); err != nil {
			t.Errorf("ValidateImage(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "nginx", "acme/Payment:1", "nginx:", "a b:1", "nginx@sha256:abc", "registry.acme.example/payment:1.4.3:x"} {
		if _, err := ValidateImage(bad); !errors.Is(err, derrors.Invalid) {
			t.Errorf("ValidateImage(%q) = %v, want Invalid", bad, err)
		}
	}
}

// fixture is a namespace on the real control plane with a Deployment, a group allowed to
// change it (through a RoleBinding, as a team's) and clients impersonating an owner and an
// outsider, as the portal does.
type fixture struct {
	ns              string
	admin           kubernetes.Interface
	owner, outsider kubernetes.Interface
}

func newFixture(t *testing.T, name string, replicas int32) fixture {
	t.Helper()
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	admin, err := tc.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale", "replicasets"}, Verbs: []string{"get", "list", "watch", "patch", "update"}},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "update", "patch"}},
	}}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "deployer"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "team-payments"}}}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(cluster.Config{Name: "prod", Kubeconfig: tc.PortalKubeconfig}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	owner, err := c.As(cluster.Identity{User: "alice.nguyen@acme.example", Groups: []string{"team-payments"}})
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := c.As(cluster.Identity{User: "carla.mendes@acme.example", Groups: []string{"team-identity"}})
	if err != nil {
		t.Fatal(err)
	}
	l := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/" + name + ":1.0.0"}}}}}}
	if _, err := admin.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f := fixture{ns: ns, admin: admin, owner: owner, outsider: outsider}
	f.waitComplete(t, name)
	return f
}

// waitComplete waits until the Deployment's rollout has finished, as kubectl rollout status.
func (f fixture) waitComplete(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		d, err := f.admin.AppsV1().Deployments(f.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := *d.Spec.Replicas
		if d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want && d.Status.Replicas == want && d.Status.AvailableReplicas == want {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not finish rolling out: %+v", name, d.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f fixture) replicaSets(t *testing.T, name string) []appsv1.ReplicaSet {
	t.Helper()
	l, err := f.admin.AppsV1().ReplicaSets(f.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (f fixture) runningPods(t *testing.T, name string) int {
	t.Helper()
	l, err := f.admin.CoreV1().Pods(f.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range l.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// changed reports whether a Deployment's spec or metadata changed (not its status, which the
// controller updates on its own).
func changed(before, after *appsv1.Deployment) bool {
	return before.Generation != after.Generation || !maps.Equal(before.Annotations, after.Annotations) || !maps.Equal(before.Labels, after.Labels)
}

// diffHas reports whether a unified diff adds ("+") or removes ("-") a line containing text.
func diffHas(diff, sign, text string) bool {
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, sign) && !strings.HasPrefix(l, sign+sign) && strings.Contains(l, text) {
			return true
		}
	}
	return false
}

func rsWithRevision(t *testing.T, rss []appsv1.ReplicaSet, rev string) appsv1.ReplicaSet {
	t.Helper()
	for _, rs := range rss {
		if rs.Annotations[revisionAnnotation] == rev {
			return rs
		}
	}
	t.Fatalf("no ReplicaSet with revision %s", rev)
	return appsv1.ReplicaSet{}
}

// TestDeployAndRollback deploys a new image (dry run first), sees the new ReplicaSet roll
// out, then rolls back and proves the old revision's template and ReplicaSet came back.
func TestDeployAndRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "payment", 2)
	ctx := context.Background()
	before, _ := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "payment", metav1.GetOptions{})
	target := Target{Namespace: f.ns, Name: "payment", Generation: before.Generation}

	dry, err := Deploy(ctx, f.owner, target, "", "registry.acme.example/payment:1.1.0", "fixes PAY-12", true)
	if err != nil {
		t.Fatal(err)
	}
	if !diffHas(dry.Diff, "-", "image: registry.acme.example/payment:1.0.0") || !diffHas(dry.Diff, "+", "image: registry.acme.example/payment:1.1.0") {
		t.Errorf("dry-run diff does not show the image change:\n%s", dry.Diff)
	}
	if now, _ := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "payment", metav1.GetOptions{}); changed(before, now) {
		t.Fatal("the dry run changed the Deployment")
	}

	res, err := Deploy(ctx, f.owner, target, "app", "registry.acme.example/payment:1.1.0", "fixes PAY-12", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Before, "payment:1.0.0") || !strings.Contains(res.After, "payment:1.1.0") {
		t.Errorf("before/after = %q / %q", res.Before, res.After)
	}
	d := f.waitComplete(t, "payment")
	if d.Annotations[revisionAnnotation] != "2" || d.Annotations[ChangeCauseAnnotation] != "deploy registry.acme.example/payment:1.1.0: fixes PAY-12" {
		t.Errorf("after deploy: revision %q, change cause %q", d.Annotations[revisionAnnotation], d.Annotations[ChangeCauseAnnotation])
	}
	if n := f.runningPods(t, "payment"); n != 2 {
		t.Errorf("running pods after deploy = %d, want 2", n)
	}
	var managed bool
	for _, mf := range d.ManagedFields {
		managed = managed || mf.Manager == FieldManager
	}
	if !managed {
		t.Error("the change is not recorded under Portico's field manager")
	}
	rev1 := rsWithRevision(t, f.replicaSets(t, "payment"), "1")

	// A stale form (the version the user saw is gone) changes nothing.
	if _, err := Deploy(ctx, f.owner, target, "app", "registry.acme.example/payment:9.9.9", "", false); !errors.Is(err, derrors.Conflict) {
		t.Errorf("deploy with a stale resourceVersion: %v, want Conflict", err)
	}
	// An invalid image, or a container that does not exist, changes nothing.
	if _, err := Deploy(ctx, f.owner, Target{Namespace: f.ns, Name: "payment"}, "app", "registry.acme.example/payment:", "", false); !errors.Is(err, derrors.Invalid) {
		t.Errorf("deploy of an invalid image: %v, want Invalid", err)
	}
	if _, err := Deploy(ctx, f.owner, Target{Namespace: f.ns, Name: "payment"}, "sidecar", "nginx:1", "", false); !errors.Is(err, derrors.Invalid) {
		t.Errorf("deploy to a missing container: %v, want Invalid", err)
	}
	// Kubernetes denies another team, and nothing changes.
	if _, err := Deploy(ctx, f.outsider, Target{Namespace: f.ns, Name: "payment"}, "app", "nginx:1", "", false); !errors.Is(err, derrors.Forbidden) {
		t.Errorf("deploy by another team: %v, want Forbidden from Kubernetes", err)
	}
	if now, _ := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "payment", metav1.GetOptions{}); changed(d, now) {
		t.Error("a refused change modified the Deployment")
	}

	dryBack, err := Rollback(ctx, f.owner, Target{Namespace: f.ns, Name: "payment", Generation: d.Generation}, 1, "bad release", true)
	if err != nil {
		t.Fatal(err)
	}
	if !diffHas(dryBack.Diff, "+", "image: registry.acme.example/payment:1.0.0") {
		t.Errorf("rollback dry-run diff:\n%s", dryBack.Diff)
	}
	if _, err := Rollback(ctx, f.owner, Target{Namespace: f.ns, Name: "payment", Generation: d.Generation}, 1, "bad release", false); err != nil {
		t.Fatal(err)
	}
	d = f.waitComplete(t, "payment")
	rss := f.replicaSets(t, "payment")
	if len(rss) != 2 {
		t.Errorf("ReplicaSets after rollback = %d, want 2 (the old one reused)", len(rss))
	}
	reused := rsWithRevision(t, rss, "3")
	if reused.Name != rev1.Name {
		t.Errorf("revision 3 runs in %s, want the reused %s", reused.Name, rev1.Name)
	}
	if !apiequality.Semantic.DeepEqual(stripHash(&d.Spec.Template), stripHash(&rev1.Spec.Template)) {
		t.Errorf("template after rollback differs from revision 1's:\n%v\n%v", d.Spec.Template, rev1.Spec.Template)
	}
	if !strings.HasPrefix(d.Annotations[ChangeCauseAnnotation], "rollback to revision 1: bad release") {
		t.Errorf("change cause after rollback: %q", d.Annotations[ChangeCauseAnnotation])
	}
	// Rolling back to where it already is does nothing.
	res, err = Rollback(ctx, f.owner, Target{Namespace: f.ns, Name: "payment"}, 3, "", false)
	if err != nil || !res.Unchanged {
		t.Errorf("rollback to the current revision: %+v %v, want unchanged", res, err)
	}
	if _, err := Rollback(ctx, f.owner, Target{Namespace: f.ns, Name: "payment"}, 42, "", false); !errors.Is(err, derrors.Invalid) {
		t.Errorf("rollback to a missing revision: %v, want Invalid", err)
	}
}

// TestScaleAndRestart scales through the scale subresource and restarts with a new
// ReplicaSet, counting pods on the real control plane.
func TestScaleAndRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "pricing", 2)
	ctx := context.Background()
	target := Target{Namespace: f.ns, Name: "pricing"}
	for _, n := range []int32{4, 1} {
		if _, err := Scale(ctx, f.owner, target, n, 10, false); err != nil {
			t.Fatal(err)
		}
		f.waitComplete(t, "pricing")
		if got := f.runningPods(t, "pricing"); got != int(n) {
			t.Errorf("after scaling to %d: %d running pods", n, got)
		}
	}
	for _, bad := range []int32{-1, 11, 1 << 30} {
		if _, err := Scale(ctx, f.owner, target, bad, 10, false); !errors.Is(err, derrors.Invalid) {
			t.Errorf("Scale(%d): %v, want Invalid", bad, err)
		}
	}
	d, _ := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "pricing", metav1.GetOptions{})
	if _, err := Scale(ctx, f.owner, Target{Namespace: f.ns, Name: "pricing", Generation: d.Generation - 1}, 3, 10, false); !errors.Is(err, derrors.Conflict) {
		t.Errorf("scale with a stale version: %v, want Conflict", err)
	}
	if _, err := Scale(ctx, f.outsider, target, 3, 10, false); !errors.Is(err, derrors.Forbidden) {
		t.Errorf("scale by another team: %v, want Forbidden", err)
	}
	if now, _ := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "pricing", metav1.GetOptions{}); *now.Spec.Replicas != 1 || changed(d, now) {
		t.Error("a refused scale changed the Deployment")
	}

	if _, err := Restart(ctx, f.owner, target, "stuck connections", false); err != nil {
		t.Fatal(err)
	}
	d = f.waitComplete(t, "pricing")
	if d.Spec.Template.Annotations[RestartedAtAnnotation] == "" || d.Annotations[revisionAnnotation] != "2" {
		t.Errorf("after restart: template annotations %v, revision %q", d.Spec.Template.Annotations, d.Annotations[revisionAnnotation])
	}
	if n := len(f.replicaSets(t, "pricing")); n != 2 {
		t.Errorf("ReplicaSets after restart = %d, want 2", n)
	}
}

// TestScaleWithAutoscaler edits the HPA's bounds, since scaling the Deployment would be undone.
func TestScaleWithAutoscaler(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "search", 2)
	ctx := context.Background()
	min := int32(2)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "search"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "search"},
			MinReplicas: &min, MaxReplicas: 6}}
	if _, err := f.admin.AutoscalingV2().HorizontalPodAutoscalers(f.ns).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := ScaleHPA(ctx, f.owner, f.ns, "search", 0, 3, 8, 20, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Before != "autoscaler min 2 max 6" || res.After != "autoscaler min 3 max 8" {
		t.Errorf("before/after = %q / %q", res.Before, res.After)
	}
	got, _ := f.admin.AutoscalingV2().HorizontalPodAutoscalers(f.ns).Get(ctx, "search", metav1.GetOptions{})
	if *got.Spec.MinReplicas != 3 || got.Spec.MaxReplicas != 8 {
		t.Errorf("HPA bounds = %d..%d, want 3..8", *got.Spec.MinReplicas, got.Spec.MaxReplicas)
	}
	for _, b := range [][2]int32{{0, 3}, {5, 4}, {1, 21}} {
		if _, err := ScaleHPA(ctx, f.owner, f.ns, "search", 0, b[0], b[1], 20, false); !errors.Is(err, derrors.Invalid) {
			t.Errorf("ScaleHPA(%v): %v, want Invalid", b, err)
		}
	}
}

// TestDiffRedactsEnvValues: a changed environment value shows as a changed digest, and no
// value appears in the diff that pages, the API and agents show.
func TestDiffRedactsEnvValues(t *testing.T) {
	dep := func(pw string) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.acme.example/payment:1.0.0",
			Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: pw}, {Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "payment"}, Key: "api-key"}}}},
		}}}}}}
	}
	d := templateDiff(dep("hunter2"), dep("hunter3"))
	if strings.Contains(d, "hunter") {
		t.Fatalf("a value reached the diff:\n%s", d)
	}
	if !diffHas(d, "-", "value: ‹redacted sha256:") || !diffHas(d, "+", "value: ‹redacted sha256:") || !strings.Contains(d, "secretKeyRef") {
		t.Errorf("the change should show as a changed digest, the secret reference as it is:\n%s", d)
	}
	if templateDiff(dep("same"), dep("same")) != "" {
		t.Error("an unchanged value shows no change")
	}
}

// TestRestartRefusesAPausedDeployment: as kubectl, a paused Deployment is not restarted (the
// stamp would roll nothing), and nothing is written.
func TestRestartRefusesAPausedDeployment(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "payment", 1)
	ctx := context.Background()
	d, err := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "payment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Paused = true
	if d, err = f.admin.AppsV1().Deployments(f.ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		_, err := Restart(ctx, f.owner, Target{Namespace: f.ns, Name: "payment"}, "stuck", dry)
		if !errors.Is(err, derrors.Invalid) || !strings.Contains(err.Error(), "paused") {
			t.Errorf("restart of a paused Deployment (dry run %v): %v", dry, err)
		}
	}
	if now, _ := f.admin.AppsV1().Deployments(f.ns).Get(ctx, "payment", metav1.GetOptions{}); changed(d, now) {
		t.Error("the refused restart changed the Deployment")
	}
}

// TestRetryingOnlyRetriesRaces: a lost race is tried again (with client-go's backoff) a few
// times and then reported; any other error at once.
func TestRetryingOnlyRetriesRaces(t *testing.T) {
	calls := 0
	_, err := retrying(func() (Result, error) { calls++; return Result{}, errRaced })
	if !errors.Is(err, errRaced) || calls != retry.DefaultRetry.Steps {
		t.Errorf("always raced: %d calls, %v", calls, err)
	}
	calls = 0
	res, err := retrying(func() (Result, error) {
		calls++
		if calls < 3 {
			return Result{}, errRaced
		}
		return Result{Message: "done"}, nil
	})
	if err != nil || res.Message != "done" || calls != 3 {
		t.Errorf("raced twice: %d calls, %v %v", calls, res, err)
	}
	calls = 0
	if _, err := retrying(func() (Result, error) { calls++; return Result{}, derrors.Invalid }); !errors.Is(err, derrors.Invalid) || calls != 1 {
		t.Errorf("another error: %d calls, %v", calls, err)
	}
}
