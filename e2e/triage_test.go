package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// triageAnswer is the part of the triage API the scripted incidents check.
type triageAnswer struct {
	Entity   string  `json:"entity"`
	Health   string  `json:"health"`
	Onset    *string `json:"onset"`
	Suspects []struct {
		Rank    int    `json:"rank"`
		Kind    string `json:"kind"`
		Summary string `json:"summary"`
		Subject struct {
			Entity   string `json:"entity"`
			Workload string `json:"workload"`
			Revision int    `json:"revision"`
			Node     string `json:"node"`
		} `json:"subject"`
		Confidence  float64 `json:"confidence"`
		Mitigations []struct {
			Action   string         `json:"action"`
			Workload string         `json:"workload"`
			Params   map[string]any `json:"params"`
			Href     string         `json:"href"`
		} `json:"mitigations"`
	} `json:"suspects"`
	Timeline []struct {
		Kind, Entity, Summary string
	} `json:"timeline"`
	Missing []string `json:"missing"`
}

func (a triageAnswer) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s onset=%v missing=%v", a.Entity, a.Health, a.Onset, a.Missing)
	for _, s := range a.Suspects {
		fmt.Fprintf(&b, "\n  %d. %s %s (%.2f) %q", s.Rank, s.Kind, s.Subject.Entity, s.Confidence, s.Summary)
		for _, m := range s.Mitigations {
			fmt.Fprintf(&b, " [%s %v]", m.Action, m.Params)
		}
	}
	return b.String()
}

// triageStack is the portal on the demo estate with every backend, signed in as on-call.
type triageStack struct {
	portal              *testenv.Portal
	token               string
	admin               kubernetes.Interface
	kubectl, kubeconfig string
	demo                string
	prov                *testenv.Provider
}

func startTriageStack(t *testing.T) *triageStack {
	t.Helper()
	be := testenv.DemoTraffic(t)
	c := testenv.Cluster(t)
	prov := testenv.OIDC(t)
	root, _ := testenv.RepoRoot()
	bins, err := devstack.LocateBinaries(root)
	must(t, err)
	admin, err := c.Admin()
	must(t, err)
	portal := testenv.StartPortalWithConfig(t, fmt.Sprintf(`catalog:
  sources: [{name: local, type: dir, path: %q, globs: ["**/*.yaml"]}]
runbooks: {dir: %q}
auth:
  oidc: {issuer: %q, clientID: %s, clientSecretEnv: OIDC_SECRET}
  sessionKeyEnv: SESSION_KEY
clusters:
  - {name: production, environment: production, kubeconfig: %q, impersonateGroups: ["team-*", sre-oncall, portico-admins, viewers]}
observability:
  prometheus: {url: %q, timeout: 3s}
  alertmanager: {url: %q, timeout: 3s}
  jaeger: {url: %q, uiURL: %q, timeout: 3s}
  cacheTTL: 5s
pipelines:
  generic: {secrets: [e2e-secret]}
scorecards: {file: %q, publicBadges: true}
`, filepath.Join(root, "catalog"), filepath.Join(root, "runbooks"), prov.Issuer, prov.ClientID, c.PortalKubeconfig,
		be.PrometheusURL, be.AlertmanagerURL, be.JaegerGRPC, be.JaegerQueryURL, filepath.Join(root, "deploy", "local", "scorecards.yaml")), "OIDC_SECRET="+prov.ClientSecret, "SESSION_KEY="+strings.Repeat("t", 32))
	tok, err := prov.Tokens("kemi.adeyemi", "portico") // SRE on-call: may roll back, restart and scale
	must(t, err)
	id, _ := tok.Extra("id_token").(string)
	return &triageStack{portal: portal, token: id, admin: admin, kubectl: bins.Kubectl, kubeconfig: c.AdminKubeconfig, demo: be.DemoURL, prov: prov}
}

func (s *triageStack) triage(t *testing.T, name string) (triageAnswer, error) {
	req, _ := http.NewRequest(http.MethodGet, s.portal.URL+"/api/v1/entities/component/default/"+name+"/triage", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return triageAnswer{}, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return triageAnswer{}, fmt.Errorf("status %d: %s", res.StatusCode, body)
	}
	var a triageAnswer
	return a, json.Unmarshal(body, &a)
}

// waitTop polls the triage API until the top suspect is of kind about subject, and returns
// that answer; it fails with the last answer when that does not happen in time.
func (s *triageStack) waitTop(ctx context.Context, t *testing.T, name, kind, subject string) triageAnswer {
	t.Helper()
	return s.waitTopWith(ctx, t, name, kind, subject, func(triageAnswer) bool { return true })
}

// waitTopWith is waitTop with a further condition on the answer.
func (s *triageStack) waitTopWith(ctx context.Context, t *testing.T, name, kind, subject string, also func(triageAnswer) bool) triageAnswer {
	t.Helper()
	var last triageAnswer
	var lastErr error
	for {
		last, lastErr = s.triage(t, name)
		if lastErr == nil && len(last.Suspects) > 0 && last.Suspects[0].Kind == kind && last.Suspects[0].Subject.Entity == subject && also(last) {
			return last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: top suspect never became %s %s; last answer (err %v):\n%s", name, kind, subject, lastErr, last)
		case <-time.After(2 * time.Second):
		}
	}
}

// waitFire polls the on-fire API until lead is an incident that affects affected, and
// affected has no line of its own.
func (s *triageStack) waitFire(ctx context.Context, t *testing.T, lead, affected string) {
	t.Helper()
	type fire struct {
		Incidents []struct {
			Entity  string   `json:"entity"`
			Affects []string `json:"affects"`
		} `json:"incidents"`
	}
	var last fire
	for {
		req, _ := http.NewRequest(http.MethodGet, s.portal.URL+"/api/v1/fire", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			last = fire{}
			_ = json.NewDecoder(res.Body).Decode(&last)
			res.Body.Close()
		}
		ok, own := false, false
		for _, in := range last.Incidents {
			ok = ok || in.Entity == lead && slices.Contains(in.Affects, affected)
			own = own || in.Entity == affected
		}
		if ok && !own {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("on fire never showed %s affecting %s on one line: %+v", lead, affected, last)
		case <-time.After(2 * time.Second):
		}
	}
}

func (s *triageStack) fault(t *testing.T, svc, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.demo+"/faults/"+svc, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("fault %s %s: status %d", svc, body, res.StatusCode)
	}
}

func (s *triageStack) kube(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func mitigation(t *testing.T, a triageAnswer, action string) map[string]any {
	t.Helper()
	for _, m := range a.Suspects[0].Mitigations {
		if m.Action == action {
			if m.Href == "" {
				t.Errorf("mitigation %s has no href", action)
			}
			return m.Params
		}
	}
	t.Fatalf("top suspect offers no %s:\n%s", action, a)
	return nil
}

func currentRevision(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) int {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	must(t, err)
	var n int
	fmt.Sscan(d.Annotations["deployment.kubernetes.io/revision"], &n)
	return n
}

// TestTriageScriptedIncidents plays one incident per suspect kind on the demo estate, through
// the demo traffic's faults, kwok's fault stages and kubectl, and checks the triage API names
// the cause and offers the right mitigation. Incidents on services that do not call each
// other run side by side; the node failure, which touches every pod on the node, runs alone.
// Distractors: every service has its seeded release history from minutes before, unrelated
// services change while an incident runs, and a dependency's own changes are not ours.
func TestTriageScriptedIncidents(t *testing.T) {
	s := startTriageStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	// The seeded releases must have served a while first (testenv.WaitDemoSettled).
	if waited, err := testenv.WaitDemoSettled(ctx, s.admin, 4*time.Minute); err != nil {
		t.Fatal(err)
	} else if waited > 0 {
		t.Logf("waited %s for the seeded releases to have served a while", waited.Round(time.Second))
	}
	parallel := func(cases map[string]func(t *testing.T)) {
		var wg sync.WaitGroup
		for name, f := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(name, f)
			}()
		}
		wg.Wait()
	}
	parallel(map[string]func(t *testing.T){
		"dependency failing": func(t *testing.T) {
			s.fault(t, "user-profile", `{"errorRate":0.7}`)
			defer s.fault(t, "user-profile", `{}`)
			s.kube(t, "-n", "messaging", "rollout", "restart", "deployment/notification") // an unrelated service changes meanwhile
			a := s.waitTop(ctx, t, "authentication", "dependency", "component:default/user-profile")
			mitigation(t, a, "open")
			// On fire: one line for the incident, user-profile, which takes authentication with it.
			s.waitFire(ctx, t, "component:default/user-profile", "component:default/authentication")
		},
		"dependency slowing down": func(t *testing.T) {
			s.fault(t, "analytics", `{"latencyMs":450}`)
			defer s.fault(t, "analytics", `{}`)
			a := s.waitTop(ctx, t, "search", "dependency", "component:default/analytics")
			if !strings.Contains(a.Suspects[0].Summary, "slow") {
				t.Errorf("summary %q does not say the dependency is slow", a.Suspects[0].Summary)
			}
		},
		"config change": func(t *testing.T) {
			s.kube(t, "-n", "geo", "patch", "configmap", "maps-config", "--type=merge", "-p", `{"data":{"DB_POOL_SIZE":"0"}}`)
			defer s.kube(t, "-n", "geo", "patch", "configmap", "maps-config", "--type=merge", "-p", `{"data":{"DB_POOL_SIZE":"20"}}`)
			a := s.waitTop(ctx, t, "maps", "config", "component:default/maps")
			if !strings.Contains(a.Suspects[0].Summary, "maps-config") {
				t.Errorf("summary %q does not name the ConfigMap", a.Suspects[0].Summary)
			}
			mitigation(t, a, "restart")
			for _, e := range a.Timeline {
				if strings.Contains(e.Summary, "DB_POOL_SIZE") {
					t.Errorf("the timeline shows a value: %q", e.Summary)
				}
			}
		},
		"bad release that crash-loops": func(t *testing.T) {
			before := currentRevision(ctx, t, s.admin, "payments", "pricing")
			if a, err := s.triage(t, "pricing"); err != nil || len(a.Suspects) > 0 {
				t.Errorf("pricing has suspects before anything happened to it (err %v):\n%s", err, a)
			}
			s.kube(t, "-n", "payments", "patch", "deployment", "pricing", "-p", `{"spec":{"template":{"metadata":{"labels":{"portico.dev/fault":"crashloop"}}}}}`)
			defer s.kube(t, "-n", "payments", "rollout", "undo", "deployment/pricing")
			a := s.waitTopWith(ctx, t, "pricing", "deploy", "component:default/pricing", func(a triageAnswer) bool { return a.Suspects[0].Subject.Revision == before+1 })
			if p := mitigation(t, a, "rollback"); p["revision"] != float64(before) {
				t.Errorf("rollback to %v, want %d (the revision before the suspect):\n%s", p["revision"], before, a)
			}
		},
	})

	parallel(map[string]func(t *testing.T){
		"bad release that only raises errors": func(t *testing.T) {
			before := currentRevision(ctx, t, s.admin, "payments", "payment")
			s.fault(t, "payment", `{"badTag":"9.9.9"}`)
			defer s.fault(t, "payment", `{}`)
			s.kube(t, "-n", "payments", "set", "image", "deployment/payment", "payment=registry.acme.example/payment:9.9.9")
			a := s.waitTopWith(ctx, t, "payment", "deploy", "component:default/payment", func(a triageAnswer) bool { return a.Suspects[0].Subject.Revision == before+1 })
			if p := mitigation(t, a, "rollback"); p["revision"] != float64(before) {
				t.Errorf("rollback to %v, want %d", p["revision"], before)
			}
			// The alert fires, and from it Chromium goes to a completed rollback.
			alertToRollback(ctx, t, s)
		},
		"OOM kills": func(t *testing.T) {
			pods, err := s.admin.CoreV1().Pods("identity").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=authentication"})
			must(t, err)
			for _, p := range pods.Items[:2] {
				s.kube(t, "-n", "identity", "label", "pod", p.Name, "portico.dev/fault-now=oomkilled")
			}
			defer s.kube(t, "-n", "identity", "rollout", "restart", "deployment/authentication")
			a := s.waitTop(ctx, t, "authentication", "capacity", "component:default/authentication")
			if !strings.Contains(a.Suspects[0].Summary, "memory") {
				t.Errorf("summary %q does not say memory", a.Suspects[0].Summary)
			}
		},
		"errors with no change anywhere": func(t *testing.T) {
			s.fault(t, "analytics", `{"errorRate":0.4}`)
			defer s.fault(t, "analytics", `{}`)
			a := s.waitTop(ctx, t, "analytics", "self", "component:default/analytics")
			if !strings.Contains(a.Suspects[0].Summary, "no change found") {
				t.Errorf("summary %q, want it to say no change was found", a.Suspects[0].Summary)
			}
		},
	})

	t.Run("node not ready", func(t *testing.T) {
		pods, err := s.admin.CoreV1().Pods("identity").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=user-profile"})
		must(t, err)
		node := pods.Items[0].Spec.NodeName
		s.kube(t, "label", "node", node, "portico.dev/fault=notready")
		defer func() {
			// The node comes back; its pods, which no kubelet will mark ready again, are replaced.
			s.kube(t, "label", "node", node, "portico.dev/fault-")
			s.kube(t, "delete", "pods", "-A", "--field-selector", "spec.nodeName="+node, "--wait=false")
		}()
		a := s.waitTop(ctx, t, "user-profile", "infrastructure", "component:default/user-profile")
		if a.Suspects[0].Subject.Node != node {
			t.Errorf("suspect node = %q, want %q", a.Suspects[0].Subject.Node, node)
		}
		mitigation(t, a, "restart")
	})
}

// alertToRollback signs in as on-call in Chromium, opens the payment alert from the alerts
// page, follows it to the triage view and rolls back with the suggested mitigation.
func alertToRollback(ctx context.Context, t *testing.T, s *triageStack) {
	page := newPage(t, s.portal)
	axe := testenv.Axe(t)
	var violations []string // WCAG 2 A/AA, on the pages only an incident fills
	defer func() {
		if len(violations) > 0 {
			t.Errorf("%d WCAG 2 A/AA violations:\n%s", len(violations), strings.Join(violations, "\n"))
		}
	}()
	signIn(t, page, "/", "kemi.adeyemi")
	// On call: the home page leads with what is on fire, payment among it.
	waitFor := func(l playwright.Locator, what string) {
		for {
			if n, _ := l.Count(); n > 0 {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never showed", what)
			}
			time.Sleep(3 * time.Second)
			page.Reload()
		}
	}
	waitFor(page.Locator("[data-testid=home-fire] [data-testid=fire-row]").Filter(playwright.LocatorFilterOptions{HasText: "Payment Service"}), "payment on the home page's on-fire list")
	violations = append(violations, a11yHere(t, page, axe)...)
	_, err := page.Goto("/alerts")
	must(t, err)
	alert := page.Locator("[data-testid=alert]").Filter(playwright.LocatorFilterOptions{HasText: "PaymentHighErrorRate"})
	waitFor(alert, "PaymentHighErrorRate on the alerts page")
	violations = append(violations, a11yHere(t, page, axe)...)
	violations = append(violations, a11yPages(t, page, axe, "/fire")...)
	_, err = page.Goto("/alerts")
	must(t, err)
	must(t, alert.First().Locator("[data-testid=alert-triage]").Click())
	must(t, expect.Locator(page.GetByTestId("triage-title")).ToContainText("Triage: Payment Service"))
	top := page.Locator("[data-testid=suspect]").First()
	must(t, expect.Locator(top).ToHaveAttribute("data-kind", "deploy"))
	violations = append(violations, a11yHere(t, page, axe)...)
	// One screen at 1440×900: the signals, the timeline's start, the top suspect and its
	// mitigation are all above the fold.
	must(t, page.SetViewportSize(1440, 900))
	for _, sel := range []string{"[data-testid=triage-signals] [data-testid^=chart-]", "[data-testid=timeline] h2", "[data-testid=suspect] [data-testid=mitigate-rollback]"} {
		box, err := page.Locator(sel).First().BoundingBox()
		must(t, err)
		if box == nil || box.Y+box.Height > 900 {
			t.Errorf("%s is below the fold at 1440×900: %+v", sel, box)
		}
	}
	screenshotTo(t, page, "triage")
	must(t, top.Locator("[data-testid=mitigate-rollback]").Click())
	// The same confirmation as any production rollback: the diff, a reason, the name typed.
	must(t, expect.Locator(page.Locator("[data-testid=diff]")).ToContainText("payment:"))
	violations = append(violations, a11yHere(t, page, axe)...)
	must(t, page.Locator("[data-testid=confirm-reason]").Fill("PaymentHighErrorRate after 9.9.9"))
	must(t, page.Locator("[data-testid=confirm-name]").Fill("payment"))
	must(t, page.Locator("[data-testid=apply]").Click())
	must(t, expect.Locator(page.Locator("[data-testid=flash]")).ToContainText("Rollback succeeded"))
	d, err := s.admin.AppsV1().Deployments("payments").Get(ctx, "payment", metav1.GetOptions{})
	must(t, err)
	if img := d.Spec.Template.Spec.Containers[0].Image; strings.HasSuffix(img, ":9.9.9") {
		t.Errorf("after the rollback the image is still %s", img)
	}
}
