package server

import (
	"bufio"
	"context"
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

	"github.com/PuerkitoBio/goquery"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestRuntimePanel serves a catalog component whose Deployment runs on the real control plane.
func TestRuntimePanel(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	createService(ctx, t, admin, ns, "ledger", 2)
	m, err := cluster.NewManager([]cluster.Config{{Name: "prod", Environment: "production", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	dir := writeFiles(t, map[string]string{"c.yaml": `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {backstage.io/kubernetes-id: ledger, backstage.io/kubernetes-namespace: ` + ns + `}
spec: {type: service, lifecycle: production, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: unmapped}
spec: {type: service, lifecycle: production, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: badselector
  annotations: {backstage.io/kubernetes-label-selector: "app in ("}
spec: {type: service, lifecycle: production, owner: team-payments}
`})
	p := newTestPortalWith(t, dir, m)
	var rt cluster.Runtime
	for {
		getJSON(t, p, "/api/v1/entities/component/default/ledger/runtime", http.StatusOK, &rt)
		if len(rt.Clusters) == 1 && len(rt.Clusters[0].Workloads) == 1 && rt.Clusters[0].Workloads[0].Ready == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("runtime never showed 2 ready pods: %+v", rt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rt.Health.Level != cluster.Healthy {
		t.Errorf("health = %+v", rt.Health)
	}
	d := p.doc(t, "/catalog/component/default/ledger/runtime", http.StatusOK)
	if n := d.Find("[data-testid=pod]").Length(); n != 2 {
		t.Errorf("pods shown = %d, want 2", n)
	}
	if got := d.Find("[data-testid=replicas]").Text(); got != "2/2 ready" {
		t.Errorf("replicas = %q", got)
	}
	if got := d.Find("[data-testid=revision]").Text(); got != "rev 1" {
		t.Errorf("revision = %q", got)
	}
	if txt := p.doc(t, "/catalog/component/default/unmapped/runtime", http.StatusOK).Text(); !strings.Contains(txt, "backstage.io/kubernetes-id") {
		t.Errorf("unmapped component should explain the annotation: %s", txt)
	}
	if txt := p.doc(t, "/catalog/component/default/badselector/runtime", http.StatusOK).Find(".notice.error").Text(); !strings.Contains(txt, "not a valid label selector") {
		t.Errorf("bad selector message = %q", txt)
	}
	if got := p.doc(t, "/catalog?q=ledger", http.StatusOK).Find("[data-testid=entity-row] [data-testid=health]").Text(); got != "healthy" {
		t.Errorf("catalog list health badge = %q, want healthy", got)
	}
	var errBody map[string]any
	getJSON(t, p, "/api/v1/entities/component/default/unmapped/runtime", http.StatusNotFound, &errBody)
	cl := p.doc(t, "/clusters", http.StatusOK)
	if got := cl.Find("[data-testid=cluster-prod] [data-testid=reachability]").Text(); got != "API reachable" {
		t.Errorf("clusters page reachability = %q", got)
	}
}

// TestRuntimeEvents opens the live stream of a component's runtime and changes its Deployment
// on the real control plane: each change arrives as an event within a second (p95), and
// changes to other services send nothing.
func TestRuntimeEvents(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	createService(ctx, t, admin, ns, "tracker", 1)
	createService(ctx, t, admin, ns, "other", 1)
	m, _ := cluster.NewManager([]cluster.Config{{Name: "prod", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	dir := writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: tracker\n  annotations: {backstage.io/kubernetes-id: tracker, backstage.io/kubernetes-namespace: " + ns + "}\nspec: {type: service, lifecycle: production, owner: team-a}\n"})
	p := newTestPortalWith(t, dir, m)
	time.Sleep(2 * time.Second) // let the creations' own events settle

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/catalog/component/default/tracker/runtime/events", nil)
	res, err := p.Client().Do(req)
	if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %v %v", err, res)
	}
	defer res.Body.Close()
	events := make(chan time.Time, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() == "event: changed" {
				events <- time.Now()
			}
		}
	}()
	annotate := func(name string, i int) time.Time {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := admin.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Annotations = map[string]string{"portico.dev/test-change": fmt.Sprint(i)}
			_, err = admin.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	drain := func() {
		for {
			select {
			case <-events:
			case <-time.After(400 * time.Millisecond):
				return
			}
		}
	}
	drain()
	annotate("other", 0)
	select {
	case <-events:
		t.Error("a change to another service reached this component's stream")
	case <-time.After(time.Second):
	}
	var lat []time.Duration
	for i := 1; i <= 20; i++ {
		drain()
		start := time.Now()
		annotate("tracker", i)
		select {
		case got := <-events:
			lat = append(lat, got.Sub(start))
		case <-time.After(5 * time.Second):
			t.Fatalf("change %d never reached the stream", i)
		}
	}
	slices.Sort(lat)
	p95 := lat[len(lat)*95/100-1]
	t.Logf("API change → SSE event: p50 %s, p95 %s", lat[len(lat)/2], p95)
	if p95 > time.Second {
		t.Errorf("p95 %s, want ≤ 1s", p95)
	}
}

// TestLogs reads container logs through the real API server (served by kwok): one pod, all
// pods of a workload merged, escaped; pods of other components are refused.
func TestLogs(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	createService(ctx, t, admin, ns, "echo", 2)
	createService(ctx, t, admin, ns, "stranger", 2)
	m, _ := cluster.NewManager([]cluster.Config{{Name: "prod", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	dir := writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: echo\n  annotations: {backstage.io/kubernetes-id: echo, backstage.io/kubernetes-namespace: " + ns + "}\nspec: {type: service, lifecycle: production, owner: team-a}\n"})
	p := newTestPortalWith(t, dir, m)
	q, _, _ := cluster.QueryFor(map[string]string{"backstage.io/kubernetes-id": "echo", "backstage.io/kubernetes-namespace": ns})
	var pods []string
	for len(pods) < 2 {
		rt := m.Runtime(q)
		pods = nil
		for _, w := range rt.Clusters[0].Workloads {
			for _, pd := range w.Pods {
				if pd.Ready {
					pods = append(pods, pd.Name)
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatal("pods never ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	base := "/catalog/component/default/echo/logs?cluster=prod&namespace=" + ns
	res, body := p.get(t, base+"&pod="+pods[0])
	if res.StatusCode != 200 || !strings.Contains(body, "server listening") {
		t.Fatalf("pod logs: %d %s", res.StatusCode, body)
	}
	if !strings.Contains(body, "&lt;timeout&gt;") || strings.Contains(body, "<timeout>") {
		t.Error("log lines must be escaped")
	}
	d := p.doc(t, base+"&workload=echo&tail=100", http.StatusOK)
	lines := d.Find("[data-testid=log-lines] .log-line")
	if lines.Length() < 12 {
		t.Errorf("workload logs: %d lines, want at least 6 from each of 2 pods", lines.Length())
	}
	if d.Find(".log-error").Length() < 2 {
		t.Errorf("error lines should be marked: %d", d.Find(".log-error").Length())
	}
	stranger, _ := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "backstage.io/kubernetes-id=stranger"})
	p.doc(t, base+"&pod="+stranger.Items[0].Name, http.StatusNotFound)
	p.doc(t, base+"&pod="+pods[0]+"&tail=0", http.StatusBadRequest)
	p.doc(t, base, http.StatusBadRequest)
}

// TestLogsFollow follows a pod's log over SSE and sees a line appended to the container's
// log (kwok serves the file the test stack writes) arrive as an escaped event.
func TestLogsFollow(t *testing.T) {
	tc := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, _ := tc.Admin()
	createService(ctx, t, admin, ns, "tailer", 1)
	m, _ := cluster.NewManager([]cluster.Config{{Name: "prod", Kubeconfig: tc.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Start(ctx)
	m.Clusters()[0].WaitSynced(ctx)
	dir := writeFiles(t, map[string]string{"c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: tailer\n  annotations: {backstage.io/kubernetes-id: tailer, backstage.io/kubernetes-namespace: " + ns + "}\nspec: {type: service, lifecycle: production, owner: team-a}\n"})
	p := newTestPortalWith(t, dir, m)
	q, _, _ := cluster.QueryFor(map[string]string{"backstage.io/kubernetes-id": "tailer", "backstage.io/kubernetes-namespace": ns})
	var pod string
	for pod == "" {
		if rt := m.Runtime(q); len(rt.Clusters[0].Workloads) == 1 && len(rt.Clusters[0].Workloads[0].Pods) == 1 && rt.Clusters[0].Workloads[0].Pods[0].Ready {
			pod = rt.Clusters[0].Workloads[0].Pods[0].Name
		}
		if ctx.Err() != nil {
			t.Fatal("pod never ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/catalog/component/default/tailer/logs/stream?cluster=prod&namespace="+ns+"&pod="+pod, nil)
	res, err := p.Client().Do(req)
	if err != nil || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %v %v", err, res)
	}
	defer res.Body.Close()
	got := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				got <- sc.Text()
			}
		}
	}()
	time.Sleep(time.Second)
	f, err := os.OpenFile(filepath.Join(tc.Dir, "container.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%s stdout F {\"level\":\"INFO\",\"msg\":\"followed <live> line\"}\n", time.Now().UTC().Format(time.RFC3339Nano))
	f.Close()
	for {
		select {
		case line := <-got:
			if strings.Contains(line, "followed &lt;live&gt; line") {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the appended line never arrived on the stream")
		}
	}
}

func TestStaleBanner(t *testing.T) {
	since := time.Now().Add(-42 * time.Second)
	vm := clusterRuntimeVM(cluster.ClusterRuntime{Name: "prod", DisplayName: "prod",
		Reachability: cluster.Reachability{Synced: true, Probed: true, Reachable: false, StaleSince: since, Error: "connection refused"}}, "/logs")
	if !strings.HasPrefix(vm.Stale, "Stale since "+since.UTC().Format("15:04:05")) || !strings.Contains(vm.Stale, "connection refused") {
		t.Errorf("stale banner = %q", vm.Stale)
	}
	vm = clusterRuntimeVM(cluster.ClusterRuntime{Name: "prod", Reachability: cluster.Reachability{Probed: true, Error: "no route to host"}}, "/logs")
	if !strings.Contains(vm.Error, "no route to host") {
		t.Errorf("never-reached cluster error = %q", vm.Error)
	}
}

// createService runs a Deployment of replicas pods labelled as the catalog maps name, in ns.
func createService(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	l := map[string]string{"app.kubernetes.io/name": name, "backstage.io/kubernetes-id": name}
	_, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.acme.example/" + name + ":2.0.0"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaleClusterPage stops one real API server: the service's runtime page still shows that
// cluster's last known workloads under the stale banner, the other cluster's without one, and
// once the API server is back the banner goes by itself.
func TestStaleClusterPage(t *testing.T) {
	flaky := testenv.OwnCluster(t, "flaky")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	steady := testenv.Cluster(t)
	ns := testenv.Namespace(t)
	for _, c := range []*devstack.Cluster{flaky, steady} {
		cs, _ := c.Admin()
		_ = devstack.CreateNamespace(ctx, cs, ns)
		createService(ctx, t, cs, ns, "maps", 1)
	}
	m, err := cluster.NewManager([]cluster.Config{{Name: "flaky", Environment: "staging", Kubeconfig: flaky.PortalKubeconfig},
		{Name: "steady", Environment: "production", Kubeconfig: steady.PortalKubeconfig}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	dir := writeFiles(t, map[string]string{"maps.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: maps\n  annotations: {backstage.io/kubernetes-id: maps, backstage.io/kubernetes-namespace: " + ns + "}\nspec: {type: service, lifecycle: production, owner: team-geo}\n"})
	p := newTestPortalWithDeps(t, dir, func(d *Deps) { d.Clusters, d.Auth = m, headerAuth{} })
	type view struct {
		stale  []string // the stale banners
		shown  int      // clusters showing the maps Deployment
		status int
	}
	look := func() view {
		res, body := p.get(t, "/catalog/component/default/maps/runtime", "X-Test-User", "jonas")
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
		v := view{status: res.StatusCode, stale: texts(d.Find("[data-testid=stale]"))}
		v.shown = strings.Count(body, ns+"/maps")
		return v
	}
	wait := func(what string, ok func(view) bool) view {
		t.Helper()
		var v view
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
			if v = look(); ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 2 minutes for %s; the page shows %+v", what, v)
			}
		}
	}
	wait("both clusters showing maps", func(v view) bool { return v.status == http.StatusOK && v.shown >= 2 && len(v.stale) == 0 })
	flaky.StopAPIServer()
	v := wait("the stale banner", func(v view) bool { return len(v.stale) == 1 })
	if !strings.HasPrefix(v.stale[0], "Stale since ") || !strings.Contains(v.stale[0], "last known state") || v.shown < 2 {
		t.Errorf("with flaky down: banner %q, maps shown in %d clusters (want its last known state beside steady's)", v.stale, v.shown)
	}
	// Its workload page still opens; the actions say why they cannot be checked now, without
	// asking the unreachable API server for each button.
	res, body := p.get(t, "/catalog/component/default/maps/workloads/flaky/"+ns+"/maps", "X-Test-User", "jonas")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "cluster flaky is unreachable") {
		t.Errorf("workload page of the unreachable cluster = %d, want 200 saying the cluster is unreachable:\n%.2000s", res.StatusCode, body)
	}
	if err := flaky.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	wait("the banner to go once the API server is back", func(v view) bool { return v.status == http.StatusOK && len(v.stale) == 0 && v.shown >= 2 })
}
