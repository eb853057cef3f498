package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

// headerAuth signs requests in as the demo user named in X-Test-User. The real sign-in flow
// is tested against the real provider (internal/auth, e2e); here the subject is the access
// decisions, which need many users.
type headerAuth struct{}

var demoUsers = map[string]auth.User{
	"alice": {Subject: "alice", Email: "alice.nguyen@acme.example", Name: "Alice Nguyen", Groups: []string{"team-payments"}},
	"carla": {Subject: "carla", Email: "carla.mendes@acme.example", Name: "Carla Mendes", Groups: []string{"team-identity"}},
	"kemi":  {Subject: "kemi", Email: "kemi.adeyemi@acme.example", Name: "Kemi Adeyemi", Groups: []string{"sre-oncall"}},
	"jonas": {Subject: "jonas", Email: "jonas.berg@acme.example", Name: "Jonas Berg", Groups: []string{"team-platform", "portico-admins"}},
	"oscar": {Subject: "oscar", Email: "oscar.lind@acme.example", Name: "Oscar Lind", Groups: []string{"viewers", "not-passed-on"}},
}

func (headerAuth) Begin(http.ResponseWriter, *http.Request, string) (string, error) { return "/", nil }
func (headerAuth) Finish(http.ResponseWriter, *http.Request) (string, error)        { return "/", nil }
func (headerAuth) Current(_ http.ResponseWriter, r *http.Request) (*auth.Session, error) {
	u, ok := demoUsers[r.Header.Get("X-Test-User")]
	if !ok {
		return nil, auth.ErrInvalidSession
	}
	return &auth.Session{User: u}, nil
}
func (headerAuth) End(http.ResponseWriter, *http.Request, string) string { return "/" }
func (headerAuth) Bearer(context.Context, string) (auth.User, error) {
	return auth.User{}, errors.New("signature invalid")
}

// actionEnv is a portal acting on a real control plane: two services of two teams, each
// with two revisions, RBAC per team, and the audit log in SQLite.
type actionEnv struct {
	*httptest.Server
	srv   *Server
	ns    string
	admin kubernetes.Interface
	audit *audit.Log
	m     *cluster.Manager
}

const actionCatalog = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {backstage.io/kubernetes-id: ledger, backstage.io/kubernetes-namespace: NS, github.com/project-slug: acme/ledger}
spec: {type: service, lifecycle: LIFECYCLE, owner: team-payments, system: checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: vault
  annotations: {backstage.io/kubernetes-id: vault, backstage.io/kubernetes-namespace: NS}
spec: {type: service, lifecycle: LIFECYCLE, owner: team-identity}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-payments}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-identity}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: sre-oncall}
spec: {type: team, children: []}
`

func newActionEnv(t *testing.T, environment, lifecycle string, pol *policy.Policy, opts ...func(*Deps)) *actionEnv {
	t.Helper()
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := tc.Admin()
	if err != nil {
		t.Fatal(err)
	}
	// Owners may change their own Deployment only; on-call may change both; admins anything.
	rules := func(names ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale"}, Verbs: []string{"get", "patch", "update"}, ResourceNames: names},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: []string{"list", "watch"}},
		}
	}
	for group, names := range map[string][]string{"team-payments": {"ledger"}, "team-identity": {"vault"}, "sre-oncall": {"ledger", "vault"}, "portico-admins": {"ledger", "vault"}} {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: group}, Rules: rules(names...)}
		if group == "portico-admins" {
			role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "update", "patch"}})
		}
		if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: group}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: group},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: group}}}
		if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ledger", "vault"} {
		createService(ctx, t, admin, ns, name, 1)
		waitRevision(ctx, t, admin, ns, name, "1")
		setImage(ctx, t, admin, ns, name, "registry.acme.example/"+name+":2.1.0")
		waitRevision(ctx, t, admin, ns, name, "2")
	}
	m, err := cluster.NewManager([]cluster.Config{{Name: "east", Environment: environment, Kubeconfig: tc.PortalKubeconfig,
		ImpersonateGroups: devstack.ImpersonableGroups}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	m.Start(runCtx)
	m.Clusters()[0].WaitSynced(ctx)

	dir := writeFiles(t, map[string]string{"c.yaml": strings.NewReplacer("NS", ns, "LIFECYCLE", lifecycle).Replace(actionCatalog)})
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: dir, Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	books, _ := runbooks.Open(filepath.Join("..", "..", "runbooks"))
	al := audit.New(st.Client, slog.New(slog.NewTextHandler(io.Discard, nil)))
	deps := Deps{Catalog: r, Clusters: m, Runbooks: books, DB: st, Version: "test", Auth: headerAuth{}, Policy: pol, Audit: al, Pipelines: st,
		ActionsConfig: ActionsConfig{MaxReplicas: 20, ProductionEnvironments: []string{"production"}}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&deps)
	}
	srv := New(deps)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	env := &actionEnv{Server: ts, srv: srv, ns: ns, admin: admin, audit: al, m: m}
	// Wait until the caches hold both revisions of both services.
	for _, name := range []string{"ledger", "vault"} {
		for {
			if d, ok := m.Clusters()[0].Deployment(mustQuery(t, name, ns), ns, name); ok && len(d.ReplicaSets) == 2 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cache never showed 2 revisions of %s", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return env
}

func mustQuery(t *testing.T, name, ns string) cluster.Query {
	q, _, err := cluster.QueryFor(map[string]string{cluster.AnnotationID: name, cluster.AnnotationNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func waitRevision(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns, name, rev string) *appsv1.Deployment {
	t.Helper()
	for {
		d, err := admin.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Annotations[cluster.RevisionAnnotation] == rev && d.Status.ObservedGeneration == d.Generation {
			return d
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never reached revision %s", name, rev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setImage(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns, name, image string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":%q,"image":%q}]}}}}`, name, image)
	if _, err := admin.AppsV1().Deployments(ns).Patch(ctx, name, "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *actionEnv) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := e.admin.AppsV1().Deployments(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// changed reports whether a Deployment's spec or metadata changed (not its status, which the
// controller updates on its own).
func changed(before, after *appsv1.Deployment) bool {
	return before.Generation != after.Generation || !maps.Equal(before.Annotations, after.Annotations) || !maps.Equal(before.Labels, after.Labels)
}

func (e *actionEnv) workloadPath(svc string) string {
	return "/catalog/component/default/" + svc + "/workloads/east/" + e.ns + "/" + svc
}

// api posts an action to the JSON API as user and decodes the answer.
func (e *actionEnv) api(t *testing.T, user, svc, action string, body map[string]any, header ...string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/entities/component/default/"+svc+"/workloads/east/"+e.ns+"/"+svc+"/"+action, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", user)
	// A browser session on the API needs the CSRF token, like a form.
	tok := e.csrf(t, user)
	req.Header.Set("X-CSRF-Token", tok.value)
	req.AddCookie(tok.cookie)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

type csrfToken struct {
	value  string
	cookie *http.Cookie
}

// csrf loads a page to get a CSRF cookie and its token.
func (e *actionEnv) csrf(t *testing.T, user string) csrfToken {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/me", nil)
	req.Header.Set("X-Test-User", user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	d, _ := goquery.NewDocumentFromReader(res.Body)
	v, _ := d.Find("input[name=_csrf]").First().Attr("value")
	for _, c := range res.Cookies() {
		if c.Name == "portico_csrf" {
			return csrfToken{value: v, cookie: c}
		}
	}
	t.Fatal("no CSRF cookie")
	return csrfToken{}
}

// browser is a cookie-keeping client signed in as user, for form flows.
type browser struct {
	t    *testing.T
	c    *http.Client
	user string
	base string
}

func (e *actionEnv) browser(t *testing.T, user string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, user: user, base: e.URL}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, *goquery.Document) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	req.Header.Set("X-Test-User", b.user)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	d, _ := goquery.NewDocumentFromReader(res.Body)
	return res, d
}

// formOf reads a form's fields from a page.
func formOf(d *goquery.Document, sel string) url.Values {
	v := url.Values{}
	d.Find(sel + " input").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Attr("value")
		if name != "" {
			v.Set(name, val)
		}
	})
	return v
}

// TestAuthorizationMatrix checks every role × action × own/other team's service at the HTTP
// layer (as server-side dry runs, so Kubernetes RBAC answers too and nothing changes), and
// that each refusal is audited as denied.
func TestAuthorizationMatrix(t *testing.T) {
	e := newActionEnv(t, "staging", "experimental", nil)
	bodies := map[string]map[string]any{
		"deploy":   {"image": "registry.acme.example/x:9.9.9", "dryRun": true},
		"rollback": {"revision": 1, "dryRun": true},
		"scale":    {"replicas": 3, "dryRun": true},
		"restart":  {"dryRun": true},
	}
	// want[user][action] for (own = ledger of team-payments, other = vault of team-identity)
	type cell struct{ ledger, vault int }
	ok, no := http.StatusOK, http.StatusForbidden
	want := map[string]map[string]cell{
		"alice": {"deploy": {ok, no}, "rollback": {ok, no}, "scale": {ok, no}, "restart": {ok, no}}, // owner of ledger
		"carla": {"deploy": {no, ok}, "rollback": {no, ok}, "scale": {no, ok}, "restart": {no, ok}}, // owner of vault
		"kemi":  {"deploy": {no, no}, "rollback": {ok, ok}, "scale": {ok, ok}, "restart": {ok, ok}}, // on-call
		"jonas": {"deploy": {ok, ok}, "rollback": {ok, ok}, "scale": {ok, ok}, "restart": {ok, ok}}, // admin
		"oscar": {"deploy": {no, no}, "rollback": {no, no}, "scale": {no, no}, "restart": {no, no}}, // viewer
	}
	denied := 0
	for user, actions := range want {
		for action, c := range actions {
			for svc, status := range map[string]int{"ledger": c.ledger, "vault": c.vault} {
				got, body := e.api(t, user, svc, action, bodies[action])
				if got != status {
					t.Errorf("%s %s %s = %d, want %d (%v)", user, action, svc, got, status, body)
				}
				if status == no {
					denied++
				}
			}
		}
	}
	entries, _ := e.audit.List(context.Background(), audit.Filter{Result: audit.Denied, Limit: 1000})
	if len(entries) != denied {
		t.Errorf("denied audit entries = %d, want %d (one per refusal)", len(entries), denied)
	}
	for _, d := range []string{"ledger", "vault"} {
		if got := e.deployment(t, d); got.Annotations[cluster.RevisionAnnotation] != "2" || *got.Spec.Replicas != 1 {
			t.Errorf("%s changed by dry runs: revision %s, replicas %d", d, got.Annotations[cluster.RevisionAnnotation], *got.Spec.Replicas)
		}
	}
}

// TestKubernetesDeniesWhenPolicyAllows bypasses Portico's policy (everyone may do anything)
// to prove the cluster's RBAC still applies through impersonation: the refusal is shown,
// audited as denied, and changes nothing.
func TestKubernetesDeniesWhenPolicyAllows(t *testing.T) {
	open := &policy.Policy{Roles: map[string][]policy.Action{"all": policy.Actions}, Bindings: []policy.Binding{{Groups: []string{"*"}, Role: "all"}}}
	e := newActionEnv(t, "staging", "experimental", open)
	before := e.deployment(t, "vault")
	status, body := e.api(t, "alice", "vault", "scale", map[string]any{"replicas": 4})
	msg := fmt.Sprint(body["error"])
	if status != http.StatusForbidden || !strings.Contains(msg, "Kubernetes refused") || !strings.Contains(msg, "alice.nguyen@acme.example") {
		t.Errorf("alice scaling vault with the policy bypassed = %d %v, want 403 from Kubernetes", status, body)
	}
	if after := e.deployment(t, "vault"); changed(before, after) {
		t.Error("a change Kubernetes refused modified the Deployment")
	}
	entries, _ := e.audit.List(context.Background(), audit.Filter{Name: "vault"})
	if len(entries) != 1 || entries[0].Result != audit.Denied || !strings.Contains(entries[0].Error, "forbidden") || entries[0].Actor != "alice.nguyen@acme.example" {
		t.Errorf("audit = %+v, want one denied entry with Kubernetes' reason", entries)
	}
	// The button is disabled in the page, saying Kubernetes is why.
	b := e.browser(t, "alice")
	_, d := b.do(http.MethodGet, e.workloadPath("vault"), nil)
	if _, disabled := d.Find("[data-testid=scale]").Attr("disabled"); !disabled || !strings.Contains(d.Find("[data-testid=scale-form] [data-testid=why]").Text(), "Kubernetes") {
		t.Errorf("scale button for alice on vault: disabled=%v why=%q", disabled, d.Find("[data-testid=scale-form] [data-testid=why]").Text())
	}
	// A group the cluster does not let the portal impersonate is dropped, not fatal: oscar
	// (viewers + not-passed-on) is refused by RBAC, not by a failed impersonation.
	status, body = e.api(t, "oscar", "ledger", "restart", map[string]any{"dryRun": true})
	if status != http.StatusForbidden || !strings.Contains(fmt.Sprint(body["error"]), "oscar.lind@acme.example") {
		t.Errorf("oscar = %d %v", status, body)
	}
}

// TestDeployFormFlow walks the browser flow as the owner: preview with the server-side diff,
// apply, the new revision with its author; a double submit acts once; a stale form, an
// invalid image and bad replica counts are refused and change nothing.
func TestDeployFormFlow(t *testing.T) {
	e := newActionEnv(t, "production", "production", nil)
	b := e.browser(t, "alice")
	_, page := b.do(http.MethodGet, e.workloadPath("ledger"), nil)
	form := formOf(page, "[data-testid=deploy-form]")
	form.Set("image", "registry.acme.example/ledger:2.2.0")
	form.Set("reason", "LED-7 faster close")
	res, preview := b.do(http.MethodPost, e.workloadPath("ledger")+"/deploy", form)
	if res.StatusCode != http.StatusOK || !preview.Find("[data-testid=diff] .diff-add:contains('image: registry.acme.example/ledger:2.2.0')").Is("span") {
		t.Fatalf("preview = %d, diff %q", res.StatusCode, preview.Find("[data-testid=diff]").Text())
	}
	if preview.Find("[data-testid=confirm-name]").Length() != 1 || !strings.Contains(preview.Find("[data-testid=warning]").Text(), "production") {
		t.Error("a production deploy must ask to type the name")
	}
	if e.deployment(t, "ledger").Annotations[cluster.RevisionAnnotation] != "2" {
		t.Fatal("the preview changed the Deployment")
	}
	confirm := formOf(preview, "[data-testid=confirm-form]")
	// Without the typed name, nothing happens.
	res, errPage := b.do(http.MethodPost, e.workloadPath("ledger")+"/deploy", confirm)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(errPage.Find("[data-testid=flash]").Text(), "the workload's name (ledger) to confirm") {
		t.Errorf("apply without confirmation = %d %q", res.StatusCode, errPage.Find("[data-testid=flash]").Text())
	}
	confirm.Set("confirm", "ledger")
	res, _ = b.do(http.MethodPost, e.workloadPath("ledger")+"/deploy", confirm)
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "?done=") {
		t.Fatalf("apply = %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := waitRevision(ctx, t, e.admin, e.ns, "ledger", "3")
	if d.Spec.Template.Spec.Containers[0].Image != "registry.acme.example/ledger:2.2.0" || !strings.Contains(d.Annotations["kubernetes.io/change-cause"], "LED-7") {
		t.Errorf("after deploy: image %s, cause %q", d.Spec.Template.Spec.Containers[0].Image, d.Annotations["kubernetes.io/change-cause"])
	}
	// The same confirmation submitted again acts once.
	res, _ = b.do(http.MethodPost, e.workloadPath("ledger")+"/deploy", confirm)
	if !strings.Contains(res.Header.Get("Location"), "again=1") {
		t.Errorf("second submit → %s, want the first result", res.Header.Get("Location"))
	}
	if got := e.deployment(t, "ledger"); got.Generation != d.Generation {
		t.Error("the double submit acted twice")
	}
	entries, _ := e.audit.List(context.Background(), audit.Filter{Name: "ledger", Action: "deploy"})
	if len(entries) != 2 || entries[0].Result != audit.Succeeded || entries[0].Reason != "LED-7 faster close" || entries[0].RequestID == "" ||
		entries[0].SourceIP == "" || !strings.Contains(entries[0].Before, "ledger:2.1.0") || !strings.Contains(entries[0].After, "ledger:2.2.0") {
		t.Errorf("audit = %+v", entries)
	}
	// The revision history names the author, once the caches have the new ReplicaSet.
	for {
		_, page = b.do(http.MethodGet, e.workloadPath("ledger")+"?done="+fmt.Sprint(entries[0].ID), nil)
		if strings.Contains(page.Find("[data-testid=revisions]").Text(), "alice.nguyen@acme.example (deploy)") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("revision history never named the author:\n%s", page.Find("[data-testid=revisions]").Text())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(page.Find("[data-testid=flash]").Text(), "Deploy succeeded") {
		t.Errorf("flash = %q", page.Find("[data-testid=flash]").Text())
	}

	// A stale form: the spec changed since the page was loaded.
	stale := formOf(page, "[data-testid=scale-form]")
	setImage(ctx, t, e.admin, e.ns, "ledger", "registry.acme.example/ledger:2.3.0")
	waitRevision(ctx, t, e.admin, e.ns, "ledger", "4")
	stale.Set("replicas", "2")
	stale.Set("reason", "load")
	stale.Set("confirm", "ledger")
	stale.Set("step", "apply")
	before := e.deployment(t, "ledger")
	res, errPage = b.do(http.MethodPost, e.workloadPath("ledger")+"/scale", stale)
	if res.StatusCode != http.StatusConflict || !strings.Contains(errPage.Find("[data-testid=flash]").Text(), "changed since this page was loaded") {
		t.Errorf("stale form = %d %q", res.StatusCode, errPage.Find("[data-testid=flash]").Text())
	}
	for _, bad := range []struct{ action, field, value, want string }{
		{"deploy", "image", "registry.acme.example/ledger:", "not a valid image reference"},
		{"deploy", "image", "ledger", "names no tag or digest"},
		{"scale", "replicas", "-1", "between 0 and 20"},
		{"scale", "replicas", "21", "between 0 and 20"},
		{"scale", "replicas", "99999999999", "not a whole number"},
	} {
		f := url.Values{"_csrf": {stale.Get("_csrf")}, bad.field: {bad.value}, "reason": {"x"}, "confirm": {"ledger"}, "step": {"apply"}}
		res, errPage = b.do(http.MethodPost, e.workloadPath("ledger")+"/"+bad.action, f)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(errPage.Find("[data-testid=flash]").Text(), bad.want) {
			t.Errorf("%s %s=%s: %d %q, want 400 saying %q", bad.action, bad.field, bad.value, res.StatusCode, errPage.Find("[data-testid=flash]").Text(), bad.want)
		}
	}
	if after := e.deployment(t, "ledger"); changed(before, after) {
		t.Error("a refused action changed the Deployment")
	}
	failed, _ := e.audit.List(context.Background(), audit.Filter{Name: "ledger", Result: audit.Failed})
	if len(failed) != 7 { // missing confirmation, stale form, five bad values
		t.Errorf("failed audit entries = %d, want 7", len(failed))
	}
}

// TestRollbackRestartAndAutoscalerOverAPI acts through the JSON API as a script would: roll
// back (the old ReplicaSet comes back), restart (a new one), and scale a workload that an
// autoscaler manages (its bounds change, not the Deployment).
func TestRollbackRestartAndAutoscalerOverAPI(t *testing.T) {
	e := newActionEnv(t, "staging", "experimental", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rss, _ := e.admin.AppsV1().ReplicaSets(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "backstage.io/kubernetes-id=ledger"})
	var rev1 appsv1.ReplicaSet
	for _, rs := range rss.Items {
		if rs.Annotations[cluster.RevisionAnnotation] == "1" {
			rev1 = rs
		}
	}
	status, body := e.api(t, "alice", "ledger", "rollback", map[string]any{"revision": 1, "reason": "bad 2.1.0"}, "Idempotency-Key", "ci-run-77")
	if status != http.StatusOK || fmt.Sprint(body["audit"].(map[string]any)["result"]) != "succeeded" {
		t.Fatalf("rollback = %d %v", status, body)
	}
	d := waitRevision(ctx, t, e.admin, e.ns, "ledger", "3")
	if d.Spec.Template.Spec.Containers[0].Image != rev1.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("image after rollback = %s, want revision 1's %s", d.Spec.Template.Spec.Containers[0].Image, rev1.Spec.Template.Spec.Containers[0].Image)
	}
	rss, _ = e.admin.AppsV1().ReplicaSets(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "backstage.io/kubernetes-id=ledger"})
	if len(rss.Items) != 2 {
		t.Errorf("ReplicaSets after rollback = %d, want 2 (revision 1's reused)", len(rss.Items))
	}
	// The same Idempotency-Key acts once.
	status, body = e.api(t, "alice", "ledger", "rollback", map[string]any{"revision": 2}, "Idempotency-Key", "ci-run-77")
	if status != http.StatusOK || body["duplicate"] != true {
		t.Errorf("repeated key = %d %v, want the first result", status, body)
	}
	if got := e.deployment(t, "ledger"); got.Annotations[cluster.RevisionAnnotation] != "3" {
		t.Error("a repeated Idempotency-Key acted again")
	}

	status, body = e.api(t, "kemi", "ledger", "restart", map[string]any{"reason": "stuck pool"})
	if status != http.StatusOK {
		t.Fatalf("restart = %d %v", status, body)
	}
	d = waitRevision(ctx, t, e.admin, e.ns, "ledger", "4")
	if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Error("restart did not stamp the template")
	}

	// Scaling to zero stops the service: it needs the name typed, even outside production.
	status, body = e.api(t, "carla", "vault", "scale", map[string]any{"replicas": 0})
	if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), "to confirm") {
		t.Errorf("scale to zero without confirmation = %d %v", status, body)
	}
	status, body = e.api(t, "carla", "vault", "scale", map[string]any{"replicas": 0, "confirm": "vault"})
	if status != http.StatusOK || *e.deployment(t, "vault").Spec.Replicas != 0 {
		t.Errorf("confirmed scale to zero = %d %v", status, body)
	}

	min := int32(1)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "ledger"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "ledger"},
			MinReplicas: &min, MaxReplicas: 4}}
	if _, err := e.admin.AutoscalingV2().HorizontalPodAutoscalers(e.ns).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Until the cache has the autoscaler, a plain replica count is asked for; then min/max.
	for {
		if dep, _ := e.m.Clusters()[0].Deployment(mustQuery(t, "ledger", e.ns), e.ns, "ledger"); dep.HPA != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	status, body = e.api(t, "alice", "ledger", "scale", map[string]any{"replicas": 3})
	if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), "managed by the autoscaler ledger") {
		t.Errorf("scale of an autoscaled workload by count = %d %v", status, body)
	}
	// RBAC: alice's role covers deployments only; the autoscaler needs on-call (cluster RBAC
	// for HPAs is given to admins here).
	status, body = e.api(t, "jonas", "ledger", "scale", map[string]any{"min": 2, "max": 6, "reason": "sale"})
	if status != http.StatusOK {
		t.Fatalf("HPA scale = %d %v", status, body)
	}
	got, _ := e.admin.AutoscalingV2().HorizontalPodAutoscalers(e.ns).Get(ctx, "ledger", metav1.GetOptions{})
	if *got.Spec.MinReplicas != 2 || got.Spec.MaxReplicas != 6 {
		t.Errorf("HPA = %d..%d, want 2..6", *got.Spec.MinReplicas, got.Spec.MaxReplicas)
	}
}
