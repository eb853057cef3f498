package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

type cardAnswer struct {
	Entity  string             `json:"entity"`
	Level   string             `json:"level"`
	Score   int                `json:"score"`
	Results []scorecard.Result `json:"results"`
}

func (a cardAnswer) status(check string) (scorecard.Status, scorecard.Result) {
	for _, r := range a.Results {
		if r.Check == check {
			return r.Status, r
		}
	}
	return "", scorecard.Result{}
}

// TestScorecardsLive grades a production service running on the real control plane: its
// gaps fail the right checks with the YAML that fixes them; applying that YAML to the cluster
// (a strategic-merge patch, a new PodDisruptionBudget) turns the checks green on the
// scoreboard, pushed to an open page over SSE, without the API server being polled.
func TestScorecardsLive(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	createService(ctx, t, admin, ns, "tills", 1)
	m, err := cluster.NewManager([]cluster.Config{{Name: "prod", Environment: "production", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	dir := writeFiles(t, map[string]string{"c.yaml": `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: tills
  annotations: {backstage.io/kubernetes-id: tills, backstage.io/kubernetes-namespace: ` + ns + `, portico.dev/on-call: group:sre-oncall}
spec: {type: service, lifecycle: production, owner: team-payments, system: checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-payments}
spec: {type: team, children: []}
`})
	p := newTestPortalWith(t, dir, m)
	go p.srv.RunScorecards(ctx)

	card := func() cardAnswer {
		var a cardAnswer
		getJSON(t, p, "/api/v1/entities/component/default/tills/scorecard", http.StatusOK, &a)
		return a
	}
	waitFor := func(what string, ok func(cardAnswer) bool) cardAnswer {
		t.Helper()
		for {
			a := card()
			if ok(a) {
				return a
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never happened: %+v", what, a)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	a := waitFor("the first card", func(a cardAnswer) bool {
		st, _ := a.status("readiness-probe")
		return st != "" && st != scorecard.NotApplicable
	})
	for check, want := range map[string]scorecard.Status{"owner": scorecard.Pass, "on-call": scorecard.Pass, "readiness-probe": scorecard.Fail,
		"pdb": scorecard.Fail, "replicas": scorecard.Fail, "hpa": scorecard.Fail, "memory-limit": scorecard.Fail,
		"no-critical-vulnerabilities": scorecard.NotApplicable, "mtls": scorecard.NotApplicable} {
		if got, r := a.status(check); got != want {
			t.Errorf("%s = %s (%v %s), want %s", check, got, r.Failing, r.Message, want)
		}
	}
	if a.Level != "" {
		t.Errorf("level = %q with bronze checks failing", a.Level)
	}
	_, probe := a.status("readiness-probe")
	_, pdb := a.status("pdb")
	if !strings.Contains(probe.Snippet, "readinessProbe") || !strings.Contains(pdb.Snippet, "kind: PodDisruptionBudget") {
		t.Fatalf("snippets:\n%s\n%s", probe.Snippet, pdb.Snippet)
	}

	// The page shows the failing checks with their fixes, and the scorecards page its row.
	d := p.doc(t, "/catalog/component/default/tills/scorecard", http.StatusOK)
	if d.Find(`[data-testid=failing-checks] [data-check=readiness-probe]`).Length() != 1 || !strings.Contains(d.Find(`[data-check=readiness-probe] [data-testid=fix-command]`).Text(), "kubectl -n "+ns+" patch deployment tills --type strategic") {
		t.Errorf("panel: %s", d.Find("[data-testid=scorecard]").Text())
	}
	page := p.doc(t, "/scorecards?team=group:default/team-payments", http.StatusOK)
	if page.Find("[data-testid=score-row]").Length() != 1 || page.Find(`[data-testid=fix-item][data-check=pdb]`).Length() != 1 {
		t.Errorf("scorecards page: %d rows, fix-first %d", page.Find("[data-testid=score-row]").Length(), page.Find("[data-testid=fix-item]").Length())
	}
	if n := p.doc(t, "/scorecards?team=group:default/team-other", http.StatusOK).Find("[data-testid=score-row]").Length(); n != 0 {
		t.Errorf("another team's filter shows %d rows", n)
	}

	// An open page listens; the fixes are applied as the card says.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/catalog/component/default/tills/scorecard/events", nil)
	res, err := p.Client().Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", err, res)
	}
	defer res.Body.Close()
	events := make(chan struct{}, 10)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() == "event: changed" {
				events <- struct{}{}
			}
		}
	}()
	patch, err := yaml.YAMLToJSON([]byte(probe.Snippet))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AppsV1().Deployments(ns).Patch(ctx, "tills", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var budget policyv1.PodDisruptionBudget
	if err := yaml.Unmarshal([]byte(pdb.Snippet), &budget); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &budget, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Error("no change event reached the open page")
	}
	a = waitFor("the fixes to show", func(a cardAnswer) bool {
		p, _ := a.status("readiness-probe")
		b, _ := a.status("pdb")
		return p == scorecard.Pass && b == scorecard.Pass
	})
	if st, _ := a.status("liveness-probe"); st != scorecard.Fail {
		t.Errorf("liveness-probe = %s: only the readiness probe was added", st)
	}

	// Install the custom resources: discovery finds them, their checks apply, and a
	// vulnerability report about the service's ReplicaSet fails it; removed, not applicable.
	dyn := dynamicClient(t, tc.AdminKubeconfig)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crds := readObjects(t, filepath.Join("..", "..", "deploy", "crds", "scorecard-crds.yaml"))
	for _, crd := range crds {
		if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = dyn.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })
	}
	waitFor("the custom-resource checks to apply", func(a cardAnswer) bool { st, _ := a.status("no-critical-vulnerabilities"); return st == scorecard.Pass })
	report := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
		"metadata": map[string]any{"name": "replicaset-tills-7d4f8-api", "namespace": ns, "labels": map[string]any{"trivy-operator.resource.kind": "ReplicaSet", "trivy-operator.resource.name": "tills-7d4f8"}},
		"report":   map[string]any{"summary": map[string]any{"criticalCount": int64(2), "highCount": int64(5)}}}}
	vr := schema.GroupVersionResource{Group: "aquasecurity.github.io", Version: "v1alpha1", Resource: "vulnerabilityreports"}
	for {
		_, err := dyn.Resource(vr).Namespace(ns).Create(ctx, report, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the new resource may take a moment to be served
	}
	a = waitFor("the vulnerability report to fail the check", func(a cardAnswer) bool { st, _ := a.status("no-critical-vulnerabilities"); return st == scorecard.Fail })
	if _, r := a.status("no-critical-vulnerabilities"); len(r.Failing) != 1 || !strings.Contains(r.Failing[0], "2 critical") {
		t.Errorf("vulnerabilities: %v", r.Failing)
	}
	for _, crd := range crds {
		_ = dyn.Resource(crdGVR).Delete(ctx, crd.GetName(), metav1.DeleteOptions{})
	}
	waitFor("the checks to be not applicable again", func(a cardAnswer) bool {
		st, _ := a.status("no-critical-vulnerabilities")
		return st == scorecard.NotApplicable
	})
}

func dynamicClient(t *testing.T, kubeconfig string) dynamic.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readObjects reads a multi-document YAML file of Kubernetes objects.
func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := scorecard.ReadManifests(path, f)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, m := range ms {
		out = append(out, &unstructured.Unstructured{Object: m.Object})
	}
	return out
}

// TestScorecardExemptions: only the policy's "exempt" action may exempt (admins by default);
// every attempt is audited, refused or not; an exemption counts the check as passing and
// says why, until it expires or is revoked.
func TestScorecardExemptions(t *testing.T) {
	e := newActionEnv(t, "production", "production", nil, func(d *Deps) { d.ScoreStore = d.DB.(*store.Store) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go e.srv.RunScorecards(ctx)
	status := func(check string) (scorecard.Status, scorecard.Result) {
		var a cardAnswer
		getJSONAs(t, e.URL+"/api/v1/entities/component/default/ledger/scorecard", "jonas", &a)
		return a.status(check)
	}
	waitStatus := func(check string, want scorecard.Status) scorecard.Result {
		t.Helper()
		for {
			st, r := status(check)
			if st == want {
				return r
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never became %s (is %s %s)", check, want, st, r.Message)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitStatus("image-digest", scorecard.Fail)
	panel := "/catalog/component/default/ledger/scorecard"

	// The owner may not exempt: no form for her, and a forged post is refused and audited.
	alice := e.browser(t, "alice")
	if _, d := alice.do(http.MethodGet, panel, nil); d.Find("[data-testid=exempt-form]").Length() != 0 {
		t.Error("the owner is offered the exemption form")
	}
	jonas := e.browser(t, "jonas")
	_, d := jonas.do(http.MethodGet, panel, nil)
	form := formOf(d, `[data-check=image-digest] [data-testid=exempt-form]`)
	if form.Get("_csrf") == "" {
		t.Fatalf("no exemption form for the admin: %s", d.Find("[data-testid=scorecard]").Text())
	}
	_, ad := alice.do(http.MethodGet, "/me", nil)
	aliceForm := formOf(d, `[data-check=image-digest] [data-testid=exempt-form]`)
	aliceForm.Set("_csrf", formOf(ad, "form.signout").Get("_csrf"))
	aliceForm.Set("reason", "tags are immutable")
	res, _ := alice.do(http.MethodPost, panel+"/exemptions", aliceForm)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner's post: %d", res.StatusCode)
	}
	// The admin, without a reason: refused, nothing changes.
	form.Set("reason", "")
	res, _ = jonas.do(http.MethodPost, panel+"/exemptions", form)
	loc := res.Header.Get("Location")
	_, outcome := jonas.do(http.MethodGet, strings.Replace(strings.TrimSuffix(loc, "#scorecard"), "?done=", "/scorecard?done=", 1), nil)
	if !strings.Contains(outcome.Find("[data-testid=flash]").Text(), "reason is required") {
		t.Errorf("no reason: flash %q", outcome.Find("[data-testid=flash]").Text())
	}
	// With a reason: exempt, saying why and by whom.
	form.Set("reason", "tags are immutable in our registry (PLAT-42)")
	res, _ = jonas.do(http.MethodPost, panel+"/exemptions", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin's post: %d", res.StatusCode)
	}
	loc = res.Header.Get("Location")
	_, outcome = jonas.do(http.MethodGet, strings.Replace(strings.TrimSuffix(loc, "#scorecard"), "?done=", "/scorecard?done=", 1), nil)
	if f := outcome.Find("[data-testid=flash]").Text(); !strings.Contains(f, "succeeded") {
		t.Fatalf("admin's exemption: flash %q", f)
	}
	r := waitStatus("image-digest", scorecard.Exempt)
	if !strings.Contains(r.Message, "PLAT-42") || !strings.Contains(r.Message, "jonas.berg@acme.example") {
		t.Errorf("exempt message %q", r.Message)
	}
	_, d = jonas.do(http.MethodGet, panel, nil)
	if !strings.Contains(d.Find("[data-testid=exempt-checks]").Text(), "PLAT-42") {
		t.Errorf("the panel does not list the exemption: %s", d.Find("[data-testid=scorecard]").Text())
	}
	// Through the API, for three seconds: it expires by itself.
	tok := e.csrf(t, "jonas")
	body := fmt.Sprintf(`{"check": "hpa", "reason": "load test this week", "until": %q}`, time.Now().Add(3*time.Second).UTC().Format(time.RFC3339Nano))
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/entities/component/default/ledger/scorecard/exemptions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", "jonas")
	req.Header.Set("X-CSRF-Token", tok.value)
	req.AddCookie(tok.cookie)
	apiRes, err := http.DefaultClient.Do(req)
	if err != nil || apiRes.StatusCode != http.StatusOK {
		t.Fatalf("API exemption: %v %v", err, apiRes)
	}
	apiRes.Body.Close()
	waitStatus("hpa", scorecard.Exempt)
	waitStatus("hpa", scorecard.Fail)
	// Revoked: failing again.
	revoke := formOf(d, `[data-check=image-digest] form`)
	res, _ = jonas.do(http.MethodPost, panel+"/exemptions", revoke)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	waitStatus("image-digest", scorecard.Fail)

	entries, err := e.audit.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		if en.Action == "exempt" {
			got = append(got, en.Actor+" "+en.Name+" "+string(en.Result))
		}
	}
	want := []string{"jonas.berg@acme.example image-digest succeeded", "jonas.berg@acme.example hpa succeeded",
		"jonas.berg@acme.example image-digest succeeded", "jonas.berg@acme.example image-digest failed", "alice.nguyen@acme.example image-digest denied"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audited exemptions, newest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func getJSONAs(t *testing.T, u, user string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-Test-User", user)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// TestScorecardTrendsAndInitiatives: the daily snapshots feed the trend and an initiative's
// burn-up; today's point is live, so a fix shows at once; the day's snapshot is written.
func TestScorecardTrendsAndInitiatives(t *testing.T) {
	svc := func(name, onCall string) string {
		ann := "portico.dev/runbook: payment.md"
		if onCall != "" {
			ann += ", portico.dev/on-call: " + onCall
		}
		return "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name + "\n  annotations: {" + ann + "}\nspec: {type: service, lifecycle: production, owner: team-payments}\n---\n"
	}
	group := "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-payments}\nspec: {type: team, children: []}\n"
	dir := writeFiles(t, map[string]string{"c.yaml": svc("tills", "group:sre-oncall") + svc("ledger", "group:sre-oncall") + svc("refunds", "") + group})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := scorecard.Compile(scorecard.Builtin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().AddDate(0, 0, -10)
	if err := set.WithInitiatives([]scorecard.Initiative{{ID: "paged", Title: "Every production service pages someone", Checks: []string{"on-call", "runbook"},
		Scope: scorecard.Scope{Lifecycle: "production"}, Start: start.Format(time.DateOnly), Due: start.AddDate(0, 2, 0).Format(time.DateOnly)}}); err != nil {
		t.Fatal(err)
	}
	// Ten and five days ago: nobody, then one service met it.
	past := func(daysAgo int, meeting ...string) {
		d := time.Now().UTC().AddDate(0, 0, -daysAgo).Format(time.DateOnly)
		var rows []store.Snapshot
		for _, name := range []string{"tills", "ledger", "refunds"} {
			st := map[string]string{"on-call": "fail", "runbook": "pass"}
			score := 60
			if slices.Contains(meeting, name) {
				st["on-call"], score = "pass", 80
			}
			rows = append(rows, store.Snapshot{Day: d, Entity: "component:default/" + name, Owner: "group:default/team-payments", Score: score, Statuses: st})
		}
		if err := st.SaveSnapshots(ctx, d, rows); err != nil {
			t.Fatal(err)
		}
	}
	past(10)
	past(5, "tills")
	p := newTestPortalWithDeps(t, dir, func(d *Deps) { d.ScoreStore, d.Scorecards = st, set })
	go p.srv.RunScorecards(ctx)
	for p.srv.ScoredServices() < 3 {
		if ctx.Err() != nil {
			t.Fatal("never scored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := p.doc(t, "/scorecards", http.StatusOK)
	if got := d.Find("[data-testid=initiative] [data-testid=initiative-progress]").Text(); got != "2 of 3" {
		t.Errorf("initiative progress %q, want 2 of 3", got)
	}
	if d.Find("[data-testid=score-trend] svg").Length() != 1 {
		t.Error("no trend chart")
	}
	burn := func() string {
		return p.doc(t, "/scorecards/initiatives/paged", http.StatusOK).Find("[data-testid=burn-up] svg").AttrOr("aria-label", "")
	}
	if got := burn(); !strings.Contains(got, "meeting it latest 2 (0–2), rising") {
		t.Errorf("burn-up %q", got)
	}
	// The last service gets its on-call: the burn-up's today follows at once.
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(svc("tills", "group:sre-oncall")+svc("ledger", "group:sre-oncall")+svc("refunds", "group:sre-oncall")+group), 0o644)
	p.refresher.RefreshAll(ctx)
	for !strings.Contains(burn(), "meeting it latest 3") {
		if ctx.Err() != nil {
			t.Fatalf("the fix never showed: %q", burn())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := p.doc(t, "/scorecards/initiatives/paged", http.StatusOK).Find("[data-testid=initiative-done]").Length(); got != 1 {
		t.Error("the initiative does not say it is done")
	}
	// Today's snapshot is in the database.
	for {
		rows, err := st.Snapshots(ctx, time.Now().UTC().Format(time.DateOnly), "")
		if err == nil && len(rows) == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("today's snapshot: %v %d rows", err, len(rows))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res, _ := p.get(t, "/scorecards/initiatives/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown initiative: %d", res.StatusCode)
	}
	// The badge, for a README.
	res, body := p.get(t, "/badges/scorecard/component/default/refunds")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, `aria-label="scorecard: `) {
		t.Errorf("badge: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if res, _ := p.get(t, "/badges/scorecard/component/default/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("badge of no service: %d", res.StatusCode)
	}
}

// TestScorecardScannedImages: the scanned-images check follows CI reports and what runs: a
// deploy of an image whose run failed its scan, or that no run built, fails it at once.
func TestScorecardScannedImages(t *testing.T) {
	e := newActionEnv(t, "production", "production", nil, func(d *Deps) {
		d.PipelineSecrets = PipelineSecrets{Generic: []string{"generic-secret"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(id, image, scan string) {
		e.sendCI(t, "/webhooks/pipeline", "", fmt.Sprintf(`{"source": "jenkins", "project": "acme/ledger", "timestamp": "2026-11-23T10:0%s:00Z",
			"run": {"id": %q, "name": "ledger-ci", "status": "success", "commit": %q, "branch": "main"},
			"stages": [{"name": "unit tests", "status": "success"}, {"name": "trivy scan", "status": %q}], "image": %q}`, id, id, sha(id[0]), scan, image))
	}
	run("1", "registry.acme.example/ledger:2.1.0", "success") // what ledger runs
	run("2", "registry.acme.example/ledger:2.2.0", "failed")
	go e.srv.RunScorecards(ctx)
	wait := func(want scorecard.Status, failing string) {
		t.Helper()
		var a cardAnswer
		for {
			getJSONAs(t, e.URL+"/api/v1/entities/component/default/ledger/scorecard", "alice", &a)
			st, r := a.status("scanned-images")
			if st == want && (failing == "" || strings.Contains(strings.Join(r.Failing, " "), failing)) {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("scanned-images never became %s %q: %s %v", want, failing, st, r.Failing)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait(scorecard.Pass, "")
	setImage(ctx, t, e.admin, e.ns, "ledger", "registry.acme.example/ledger:2.2.0")
	wait(scorecard.Fail, "ledger:2.2.0: its CI run passed no security scan")
	setImage(ctx, t, e.admin, e.ns, "ledger", "registry.acme.example/ledger:9.9.9")
	wait(scorecard.Fail, "ledger:9.9.9: no CI run reported building it")
}
