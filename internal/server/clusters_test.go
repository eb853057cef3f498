package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/devstack/kwok"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/testenv"
)

// testNode registers a kwok node of the test's own, tainted so only pods that tolerate the
// taint land on it, and removes it afterwards.
func testNode(ctx context.Context, t *testing.T, admin kubernetes.Interface, name string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels: map[string]string{"type": "kwok", "kubernetes.io/hostname": name}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "portico.dev/test", Value: name, Effect: corev1.TaintEffectNoSchedule}}}}
	if _, err := admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// pinTo moves a Deployment's pods onto the node.
func pinTo(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns, deployment, node string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"nodeSelector": map[string]string{"kubernetes.io/hostname": node},
		"tolerations":  []map[string]string{{"key": "portico.dev/test", "operator": "Equal", "value": node, "effect": "NoSchedule"}},
	}}}})
	if _, err := admin.AppsV1().Deployments(ns).Patch(ctx, deployment, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func nodeFault(ctx context.Context, t *testing.T, admin kubernetes.Interface, node, fault string) {
	t.Helper()
	value := any(fault)
	if fault == "" {
		value = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{kwok.NodeFaultLabel: value}}})
	if _, err := admin.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls check until it passes or a minute is over.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ok, got := check()
		if ok {
			return
		}
		last = got
	}
	t.Fatalf("%s: never; last saw %s", what, last)
}

// TestClusterAndNodePages: on a real control plane, a kwok node's pressure and readiness show
// on the cluster page, on the node page with its conditions, and in the health of the
// service whose pod runs there; the control plane's checks and Leases are read; and the JSON
// API answers the same.
func TestClusterAndNodePages(t *testing.T) {
	e := newActionEnv(t, "staging", "experimental", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node := "n-" + e.ns
	testNode(ctx, t, e.admin, node)
	pinTo(ctx, t, e.admin, e.ns, "vault", node)
	b := e.browser(t, "oscar")
	nodeRowOf := func(d *goquery.Document) *goquery.Selection { return d.Find("[data-testid=node-" + node + "]") }

	eventually(t, "the cluster page lists the node, ready, with vault's pod", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		row := nodeRowOf(d)
		_, np := b.do(http.MethodGet, "/clusters/east/nodes/"+node, nil)
		return row.Find("[data-testid=health]").Text() == "healthy" && np.Find("[data-testid=node-pod]:contains('vault')").Length() == 1,
			row.Text() + " | " + np.Find("[data-testid=node-pods]").Text()
	})
	_, d := b.do(http.MethodGet, "/clusters/east", nil)
	if got := nodeRowOf(d).Find("td").Eq(6).Text(); !strings.Contains(got, "portico.dev/test="+node+":NoSchedule") {
		t.Errorf("taints = %q", got)
	}
	if got := d.Find("[data-testid=ns-" + e.ns + "]").Text(); !strings.Contains(got, "ledger") || !strings.Contains(got, "vault") {
		t.Errorf("namespace row = %q, want its services", got)
	}
	// The control plane: the API server's named checks and the leader Leases, fresh.
	eventually(t, "the control plane's checks and Leases", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		cp := d.Find("[data-testid=control-plane]")
		return cp.Find("[data-testid=check-readyz-etcd] .badge.ok").Length() == 1 && cp.Find("[data-testid=check-livez-etcd]").Length() == 1 &&
				cp.Find("[data-testid=lease-kube-scheduler] [data-testid=lease-state]").Text() == "fresh" &&
				cp.Find("[data-testid=lease-kube-controller-manager] [data-testid=lease-state]").Text() == "fresh",
			cp.Text()
	})
	_, np := b.do(http.MethodGet, "/clusters/east/nodes/"+node, nil)
	if link := np.Find("[data-testid=node-pod]:contains('vault') a"); link.AttrOr("href", "") != "/catalog/component/default/vault" {
		t.Errorf("vault's pod links to %q", link.AttrOr("href", ""))
	}
	if got := np.Find("[data-testid=cordon]"); got.Length() != 1 || got.AttrOr("disabled", "no") == "no" || !strings.Contains(np.Find("[data-testid=why]").Text(), "may not cordon") {
		t.Errorf("a viewer is offered cordon: %q", np.Find("[data-testid=cordon-form]").Text())
	}

	health := func() cluster.Health {
		res, err := e.Client().Do(withUser(t, e.URL+"/api/v1/entities/component/default/vault/runtime", "oscar"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var rt cluster.Runtime
		_ = json.NewDecoder(res.Body).Decode(&rt)
		return rt.Health
	}
	// Memory pressure: the node is degraded, the condition shows, and vault's health says why.
	nodeFault(ctx, t, e.admin, node, "memorypressure")
	eventually(t, "memory pressure on both pages and in vault's health", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		_, np := b.do(http.MethodGet, "/clusters/east/nodes/"+node, nil)
		h := health()
		return strings.Contains(nodeRowOf(d).Find("[data-testid=node-problems]").Text(), "MemoryPressure") &&
				np.Find("[data-testid=condition-MemoryPressure] .badge.bad").Text() == "True" &&
				h.Level == cluster.Degraded && strings.Contains(h.Reason, "node "+node+" MemoryPressure"),
			nodeRowOf(d).Text() + " | " + h.Reason
	})
	// Not ready: the node is down, and vault's pod is on a troubled node.
	nodeFault(ctx, t, e.admin, node, "notready")
	eventually(t, "not ready on both pages and in vault's health", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		_, np := b.do(http.MethodGet, "/clusters/east/nodes/"+node, nil)
		h := health()
		return nodeRowOf(d).Find("[data-testid=health]").Text() == "down" && np.Find("[data-testid=condition-Ready] .badge.bad").Text() == "False" &&
				h.Level >= cluster.Degraded && strings.Contains(h.Reason, node+" NotReady"),
			nodeRowOf(d).Text() + " | " + h.Reason
	})
	res, err := e.Client().Do(withUser(t, e.URL+"/api/v1/clusters/east", "oscar"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Nodes []cluster.NodeSummary `json:"nodes"`
	}
	_ = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	var found bool
	for _, n := range st.Nodes {
		if n.Name == node {
			found = true
			if n.Ready != "False" || n.Health.Level != cluster.Down || n.Pods != 1 {
				t.Errorf("API node = %+v", n)
			}
		}
	}
	if !found {
		t.Errorf("API lists no %s", node)
	}
	nodeFault(ctx, t, e.admin, node, "")
	eventually(t, "the node ready again", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		return nodeRowOf(d).Find("[data-testid=health]").Text() == "healthy", nodeRowOf(d).Text()
	})
	// Warning events: the cluster's latest on the cluster page, the node's on its page.
	now := metav1.NewTime(time.Now())
	for _, ev := range []*corev1.Event{
		{ObjectMeta: metav1.ObjectMeta{GenerateName: "vault.", Namespace: e.ns}, Type: corev1.EventTypeWarning, Reason: "FailedMount",
			Message: "MountVolume.SetUp failed for volume \"vault-tls\": secret \"vault-tls\" not found", Count: 3, FirstTimestamp: now, LastTimestamp: now,
			InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Namespace: e.ns, Name: "vault"}},
		{ObjectMeta: metav1.ObjectMeta{GenerateName: node + ".", Namespace: "default"}, Type: corev1.EventTypeWarning, Reason: "FreeDiskSpaceFailed",
			Message: "failed to garbage collect required amount of images", Count: 1, FirstTimestamp: now, LastTimestamp: now,
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node}},
	} {
		if _, err := e.admin.CoreV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the Warning events on the cluster and node pages", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		_, np := b.do(http.MethodGet, "/clusters/east/nodes/"+node, nil)
		return d.Find("[data-testid=event]:contains('FailedMount'):contains('"+e.ns+"/Deployment/vault')").Length() == 1 &&
			np.Find("[data-testid=event]:contains('FreeDiskSpaceFailed')").Length() == 1, d.Find("[data-testid=events]").Text()
	})
	// The cluster autoscaler's status, where it runs, with the scale-ups it recorded.
	if err := devstack.SeedAutoscalerStatus(ctx, e.admin, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.admin.CoreV1().ConfigMaps("kube-system").Delete(context.Background(), cluster.AutoscalerConfigMap, metav1.DeleteOptions{})
	})
	eventually(t, "the cluster autoscaler's status", func() (bool, string) {
		_, d := b.do(http.MethodGet, "/clusters/east", nil)
		ca := d.Find("[data-testid=autoscaler]")
		return ca.Find("[data-testid=node-groups] tr:contains('general-purpose')").Length() == 1 && strings.Contains(ca.Text(), "3 (2–10)") &&
			strings.Contains(ca.Text(), "ScaledUpGroup") && ca.Find(".health-healthy").Length() == 1, ca.Text()
	})
	for path, want := range map[string]int{"/clusters/nowhere": 404, "/clusters/east/nodes/nowhere": 404, "/api/v1/clusters/east/nodes/nowhere": 404} {
		if res, _ := b.do(http.MethodGet, path, nil); res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
}

func withUser(t *testing.T, url, user string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test-User", user)
	return req
}

// TestCordonThroughTheUI: on-call cordons and uncordons a production node through the form,
// with a reason and the typed name, as itself in the cluster; a viewer is refused by the
// policy and an admin whom the cluster's RBAC does not let patch nodes by Kubernetes; every
// attempt is audited and only the allowed ones change the node.
func TestCordonThroughTheUI(t *testing.T) {
	e := newActionEnv(t, "production", "production", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := "c-" + e.ns
	testNode(ctx, t, e.admin, node)
	// The cluster lets on-call patch nodes; admins have no such binding here.
	role := "test-nodes-" + e.ns
	if _, err := e.admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "patch"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "sre-oncall"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), role, metav1.DeleteOptions{})
		_ = e.admin.RbacV1().ClusterRoles().Delete(context.Background(), role, metav1.DeleteOptions{})
	})
	path := "/clusters/east/nodes/" + node
	unschedulable := func() bool {
		n, err := e.admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Spec.Unschedulable
	}
	kemi := e.browser(t, "kemi")
	var page *goquery.Document
	eventually(t, "the node page", func() (bool, string) {
		var res *http.Response
		res, page = kemi.do(http.MethodGet, path, nil)
		return res.StatusCode == http.StatusOK, res.Status
	})
	form := formOf(page, "[data-testid=cordon-form]")
	if page.Find("[data-testid=cordon]").AttrOr("disabled", "no") != "no" || page.Find("[data-testid=confirm]").Length() != 1 {
		t.Fatalf("on-call's cordon form in production: %q", page.Find("[data-testid=cordon-form]").Text())
	}
	// A viewer posting anyway is refused by the policy, and audited.
	oscar := e.browser(t, "oscar")
	_, op := oscar.do(http.MethodGet, path, nil)
	of := formOf(op, "[data-testid=cordon-form]")
	of.Set("reason", "trying")
	of.Set("confirm", node)
	if res, d := oscar.do(http.MethodPost, path+"/cordon", of); res.StatusCode != http.StatusForbidden || !strings.Contains(d.Find("[data-testid=flash]").Text(), "may not cordon node "+node) {
		t.Errorf("viewer's cordon = %d %q", res.StatusCode, d.Find("[data-testid=flash]").Text())
	}
	// Without the typed name nothing happens.
	form.Set("reason", "INC-7 disk errors")
	if res, d := kemi.do(http.MethodPost, path+"/cordon", form); res.StatusCode != http.StatusBadRequest || !strings.Contains(d.Find("[data-testid=flash]").Text(), "Type the node's name") {
		t.Errorf("cordon without confirmation = %d %q", res.StatusCode, d.Find("[data-testid=flash]").Text())
	}
	if unschedulable() {
		t.Fatal("a refused cordon changed the node")
	}
	form.Set("confirm", node)
	res, _ := kemi.do(http.MethodPost, path+"/cordon", form)
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "?done=") {
		t.Fatalf("cordon = %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	if !unschedulable() {
		t.Fatal("the node is not cordoned")
	}
	// Submitting the same form again acts once.
	if res, _ := kemi.do(http.MethodPost, path+"/cordon", form); !strings.Contains(res.Header.Get("Location"), "again=1") {
		t.Errorf("second submit → %s", res.Header.Get("Location"))
	}
	var done *goquery.Document
	eventually(t, "the node page shows it cordoned with the outcome", func() (bool, string) {
		_, done = kemi.do(http.MethodGet, res.Header.Get("Location"), nil)
		return done.Find("h1 [data-testid=cordoned]").Length() == 1 && strings.Contains(done.Find("[data-testid=flash]").Text(), "Cordon succeeded") &&
			done.Find("[data-testid=uncordon]").Length() == 1, done.Find(".page-head").Text()
	})
	// An admin the policy allows is refused by the cluster, which judges the impersonated user.
	jonas := e.browser(t, "jonas")
	_, jp := jonas.do(http.MethodGet, path, nil)
	jf := formOf(jp, "[data-testid=cordon-form]")
	jf.Set("reason", "done here")
	jf.Set("confirm", node)
	if res, d := jonas.do(http.MethodPost, path+"/uncordon", jf); res.StatusCode != http.StatusForbidden || !strings.Contains(d.Find("[data-testid=flash]").Text(), "Kubernetes refused") {
		t.Errorf("admin without RBAC uncordon = %d %q", res.StatusCode, d.Find("[data-testid=flash]").Text())
	}
	if !unschedulable() {
		t.Fatal("a refused uncordon changed the node")
	}
	uf := formOf(done, "[data-testid=cordon-form]")
	uf.Set("reason", "INC-7 disk replaced")
	uf.Set("confirm", node)
	if res, _ := kemi.do(http.MethodPost, path+"/uncordon", uf); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("uncordon = %d", res.StatusCode)
	}
	if unschedulable() {
		t.Fatal("the node is still cordoned")
	}
	n, _ := e.admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	entries, _ := e.audit.List(ctx, audit.Filter{Name: node})
	got := map[string]int{}
	for _, en := range entries {
		got[en.Action+" "+string(en.Result)+" "+en.Actor]++
		if en.Kind != "Node" || en.Cluster != "east" {
			t.Errorf("entry %+v", en)
		}
		if en.Result == audit.Succeeded && en.Action == "uncordon" && (en.Before != "cordoned" || en.After != "schedulable" || en.Reason != "INC-7 disk replaced" ||
			n.Annotations[cluster.AnnotationCordonAudit] != strconv.Itoa(en.ID)) {
			t.Errorf("uncordon entry %+v, node annotation %q", en, n.Annotations[cluster.AnnotationCordonAudit])
		}
	}
	want := map[string]int{"cordon denied oscar.lind@acme.example": 1, "cordon failed kemi.adeyemi@acme.example": 1, "cordon succeeded kemi.adeyemi@acme.example": 1,
		"uncordon denied jonas.berg@acme.example": 1, "uncordon succeeded kemi.adeyemi@acme.example": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("audit %q = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

// TestSchedulerLeaseGoesStale: a scheduler that dies leaves its Lease unrenewed, and the
// cluster page says so once the Lease has expired; one stopped gracefully releases it, and
// the page says nobody leads; restarted, it is fresh again.
func TestSchedulerLeaseGoesStale(t *testing.T) {
	// A 20 s Lease (the stack's default is 60 s), so expiry takes no longer than a test may.
	own := testenv.OwnClusterWith(t, "lease", func(s *devstack.ClusterSpec) { s.LeaseDuration = 20 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m, err := cluster.NewManager([]cluster.Config{{Name: "lease", Environment: "staging", Kubeconfig: own.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	p := newTestPortalWith(t, writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team, children: []}\n"}), m)
	state := func() (string, string) {
		d := p.doc(t, "/clusters/lease", http.StatusOK)
		return d.Find("[data-testid=lease-kube-scheduler] [data-testid=lease-state]").Text(), d.Find("[data-testid=control-plane] h2").Text()
	}
	eventually(t, "the scheduler's Lease fresh", func() (bool, string) {
		s, h := state()
		return s == "fresh", s + " " + h
	})
	// Killed: no chance to release the Lease, which expires after its 20 s.
	if err := own.Signal("kube-scheduler", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	own.StopScheduler() // forget the dead process
	eventually(t, "the scheduler's Lease stale", func() (bool, string) {
		s, h := state()
		return s == "stale" && strings.Contains(h, "kube-scheduler has not renewed its Lease"), s + " " + h
	})
	if err := own.StartScheduler(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the scheduler's Lease fresh again", func() (bool, string) {
		s, h := state()
		return s == "fresh", s + " " + h
	})
	// Stopped gracefully: it releases the Lease, and nobody leads.
	own.StopScheduler()
	eventually(t, "the scheduler's Lease released", func() (bool, string) {
		s, h := state()
		return s == "released" && strings.Contains(h, "kube-scheduler has no leader"), s + " " + h
	})
}

// TestAPIServerCharts: the local stack's Prometheus scrapes the test cluster's API server
// with a system:monitoring certificate, and the cluster page's panel charts its requests,
// errors and latency from it.
func TestAPIServerCharts(t *testing.T) {
	be := testenv.Observability(t)
	tc := testenv.Cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := cluster.NewManager([]cluster.Config{{Name: "east", Environment: "staging", Kubeconfig: tc.PortalKubeconfig,
		APIServerMetrics: `job="apiserver-` + tc.Spec.Name + `"`}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	prom, err := metrics.New(backend.Config{URL: be.PrometheusURL, Timeout: 5 * time.Second}, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPortalWithDeps(t, writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team, children: []}\n"}),
		func(d *Deps) { d.Clusters, d.Metrics = m, prom })
	if p.doc(t, "/clusters/east", http.StatusOK).Find("[data-testid=apiserver-loading]").Length() != 1 {
		t.Fatal("the cluster page has no API server panel")
	}
	eventually(t, "API server charts with data", func() (bool, string) {
		d := p.doc(t, "/clusters/east/apiserver?range=15m", http.StatusOK)
		panel := d.Find("[data-testid=apiserver]")
		rate, latency := panel.Find("[data-testid='chart-API requests']"), panel.Find("[data-testid='chart-API latency']")
		return rate.Find("path.line").Length() > 0 && latency.Find("path.line").Length() > 0 && panel.Find("[data-testid=chart-error]").Length() == 0, panel.Text()
	})
}
