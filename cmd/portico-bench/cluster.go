package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/devstack"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/server"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

const (
	benchServices   = 1000
	podsPerService  = 20
	benchNamespaces = 10
	benchNodes      = 200 // the cluster page is measured at 200 nodes
)

// clusterBench measures the live cluster view on one control plane holding 1,000 services and
// 20,000 pods: Portico's cached runtime view against the same data fetched per request with
// label-selected LIST calls, memory per cached pod, cold start and change → SSE latency.
func clusterBench(ctx context.Context, dir string, requests, clients int, log *slog.Logger) ([]row, error) {
	// The objects are created directly, as a snapshot of a busy cluster: the controllers that
	// would reconcile them (and delete pods whose ReplicaSets they do not manage) stay off.
	fmt.Fprintln(os.Stderr, "cluster: starting a control plane…")
	c, err := startControlPlane(ctx, filepath.Join(dir, "cluster"), "bench", benchNodes, snapshotControllers)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 5000, 10000 // creating 22,000 objects at the default 5 QPS would take an hour
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "cluster: creating %d services with %d pods…\n", benchServices, benchServices*podsPerService)
	t0 := time.Now()
	if err := populate(ctx, admin); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "cluster: created in %s\n", time.Since(t0).Round(time.Second))

	heapBefore := heap()
	start := time.Now()
	m, err := cluster.NewManager([]cluster.Config{{Name: "bench", Kubeconfig: c.PortalKubeconfig}}, log)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.Start(mctx)
	if !m.Clusters()[0].WaitSynced(ctx) {
		return nil, fmt.Errorf("caches did not sync")
	}
	synced := time.Since(start)

	_, portal, err := benchPortal(ctx, dir, "cluster", m, log)
	if err != nil {
		return nil, err
	}
	defer portal.Close()
	res, err := http.Get(portal.URL + "/api/v1/entities/component/default/svc-0/runtime")
	if err != nil {
		return nil, err
	}
	var rt cluster.Runtime
	_ = json.NewDecoder(res.Body).Decode(&rt)
	res.Body.Close()
	coldStart := time.Since(start)
	if len(rt.Clusters) != 1 || len(rt.Clusters[0].Workloads) != 1 || len(rt.Clusters[0].Workloads[0].Pods) != podsPerService {
		return nil, fmt.Errorf("runtime of svc-0 does not show its %d pods: %+v", podsPerService, rt.Clusters)
	}

	// Measure latency once kwok has made every pod Running, so its 20,000 status writes do
	// not compete with the measurement for the two cores.
	fmt.Fprintln(os.Stderr, "cluster: waiting for every pod to be Running…")
	for m.Clusters()[0].Overview().PodsByPhase["Running"] < benchServices*podsPerService {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	time.Sleep(3 * time.Second)
	// The heap per pod, once kwok has written every pod's status (the caches hold it all).
	perPod := float64(heap()-heapBefore) / float64(benchServices*podsPerService)
	baseline := httptest.NewServer(listPerRequest(admin))
	defer baseline.Close()
	// The cached view and its baseline (label-selected LISTs per request), interleaved at a
	// rate the baseline can sustain, with the same number of samples.
	// The trivial handler, interleaved too, is the floor: what any answer of the portal costs.
	rtMix := mix{rate: 60, warmup: 2 * time.Second, window: 15 * time.Second, kinds: []string{"cached", "list", "trivial"},
		target: func(kind string, i int) string {
			switch kind {
			case "list":
				return fmt.Sprintf("%s/%d", baseline.URL, rand.IntN(benchServices))
			case "trivial":
				return portal.URL + "/healthz"
			}
			return fmt.Sprintf("%s/api/v1/entities/component/default/svc-%d/runtime", portal.URL, rand.IntN(benchServices))
		}}
	fmt.Fprintf(os.Stderr, "cluster: runtime view, cached vs LIST per request, %s…\n", rtMix.label())
	got, err := rtMix.run()
	if err != nil {
		return nil, err
	}
	cached, listed, floor := got["cached"], got["list"], got["trivial"]
	fmt.Fprintln(os.Stderr, "cluster: API change → SSE event…")
	sse, err := sseLatency(ctx, admin, portal.URL)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "cluster: %d services crash-looping, the on-fire page at %d clients…\n", fireServices, clients)
	fire, err := firePage(ctx, admin, portal.URL)
	if err != nil {
		return nil, err
	}
	cold := fireCold(portal.URL)
	fmt.Fprintf(os.Stderr, "cluster: the cluster page at %d nodes, %d clients…\n", benchNodes, clients)
	page, err := clusterPage(portal.URL, clients)
	if err != nil {
		return nil, err
	}
	ratio := float64(listed.p99) / float64(cached.p99)
	mcpRows, err := mcpBench(ctx, dir, m, clients, log)
	if err != nil {
		return nil, fmt.Errorf("mcp: %w", err)
	}
	fmt.Fprintln(os.Stderr, "scorecards: 1,000 services × 30 checks…")
	scores, err := scorecardsBench(ctx, dir, admin, m, clients, log)
	if err != nil {
		return nil, fmt.Errorf("scorecards: %w", err)
	}
	return append(append(scores, mcpRows...), []row{
		{name: fmt.Sprintf("on-fire page, 1,000 services, %d on fire p95 (open loop 100/s)", fireServices), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(fire["fire"].p95), ms(fire["fire"].p50), fire["fire"].n), budget: "≤ 300ms",
			ratio: fmt.Sprintf("%.1f× one runtime view", float64(fire["fire"].p95)/float64(fire["runtime"].p95)), ok: fire["fire"].p95 <= 300*time.Millisecond},
		{name: fmt.Sprintf("cluster page, %d nodes / 20,000 pods, p95 (%d clients, open loop %.0f/s)", benchNodes, clients, clusterPageRate(clients)), db: "-",
			value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(page["page"].p95), ms(page["page"].p50), page["page"].n), budget: "≤ 100ms",
			ratio: fmt.Sprintf("%.1f× one runtime view", float64(page["page"].p95)/float64(page["runtime"].p95)), ok: page["page"].p95 <= 100*time.Millisecond},
		{name: "on-fire page computed afresh for one viewer, slowest of 5", db: "-", value: ms(cold), budget: "≤ 300ms",
			ratio: fmt.Sprintf("%.1f× one runtime view", float64(cold)/float64(fire["runtime"].p95)), ok: cold <= 300*time.Millisecond},
		{name: "cold start: caches synced (1,000 svc / 20,000 pods)", db: "-", value: synced.Round(time.Millisecond).String(), budget: "report", ok: true},
		{name: "cold start: first runtime view served", db: "-", value: coldStart.Round(time.Millisecond).String(), budget: "report", ok: true},
		{name: "heap per cached pod", db: "-", value: fmt.Sprintf("%.2f KB", perPod/1024), budget: "≤ 4 KB", ok: perPod <= 4096},
		{name: fmt.Sprintf("label-selected LISTs per request p99 (%s, interleaved)", rtMix.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(listed.p99), ms(listed.p50), listed.n), budget: "baseline", ok: true},
		{name: fmt.Sprintf("trivial handler p99 (%s, interleaved)", rtMix.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(floor.p99), ms(floor.p50), floor.n), budget: "baseline", ok: true},
		{name: fmt.Sprintf("runtime view from caches p99 (%s)", rtMix.label()), db: "-", value: fmt.Sprintf("%s (p50 %s, n=%d)", ms(cached.p99), ms(cached.p50), cached.n), budget: "≤ 20ms, ≥ 20× faster",
			ratio: fmt.Sprintf("%.0f× faster than LIST, %.1f× trivial", ratio, float64(cached.p99)/float64(floor.p99)), ok: cached.p99 <= 20*time.Millisecond && ratio >= 20},
		{name: "API change → SSE event p95 (20 changes)", db: "-", value: ms(sse), budget: "≤ 1s", ok: sse <= time.Second},
	}...), nil
}

// snapshotControllers leave off the controllers that would reconcile objects created as a
// snapshot (and delete pods whose ReplicaSets they do not manage).
const snapshotControllers = "*,-node-ipam-controller,-persistentvolume-binder-controller,-deployment-controller,-replicaset-controller,-garbage-collector-controller,-disruption-controller"

// startControlPlane starts etcd, an API server, a controller manager (controllers: its
// --controllers; empty: the defaults), a scheduler and kwok with nodes nodes, on reserved ports.
func startControlPlane(ctx context.Context, dir, name string, nodes int, controllers string) (*devstack.Cluster, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	bins, err := devstack.LocateBinaries(root)
	if err != nil {
		return nil, err
	}
	ports, err := testenv.ReservePorts(6)
	if err != nil {
		return nil, err
	}
	spec := devstack.ClusterSpec{Name: name, Nodes: nodes, EtcdPort: ports[0], EtcdPeerPort: ports[1], APIPort: ports[2],
		ControllerMgr: ports[3], SchedulerPort: ports[4], KwokPort: ports[5], Controllers: controllers}
	return devstack.StartCluster(ctx, bins, dir, spec, false, io.Discard)
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// populate creates, per service, a Deployment, its ReplicaSet and 20 pods bound to nodes.
func populate(ctx context.Context, cs kubernetes.Interface) error {
	if err := benchNamespacesIn(ctx, cs); err != nil {
		return err
	}
	return populateServices(ctx, cs, "bench", benchNodes, 0, benchServices)
}

// benchNamespacesIn creates the services' namespaces, each with its default ServiceAccount.
func benchNamespacesIn(ctx context.Context, cs kubernetes.Interface) error {
	for n := 0; n < benchNamespaces; n++ {
		ns := fmt.Sprintf("team-%d", n)
		if err := devstack.CreateNamespace(ctx, cs, ns); err != nil {
			return err
		}
		// Pods need the namespace's default ServiceAccount, which a controller creates shortly after.
		for {
			if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// populateServices creates services from to to (exclusive), 24 at a time, their pods spread
// over the nodes of the named cluster (devstack names them <cluster>-node-<i>).
func populateServices(ctx context.Context, cs kubernetes.Interface, cluster string, nodes, from, to int) error {
	var wg sync.WaitGroup
	errc := make(chan error, to-from)
	next := make(chan int)
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := createService(ctx, cs, cluster, nodes, i); err != nil {
					errc <- err
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errc)
	return <-errc
}

func createService(ctx context.Context, cs kubernetes.Interface, cluster string, nodes, i int) error {
	name, ns := fmt.Sprintf("svc-%d", i), fmt.Sprintf("team-%d", i%benchNamespaces)
	l := map[string]string{"app.kubernetes.io/name": name, "backstage.io/kubernetes-id": name}
	replicas := int32(podsPerService)
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.acme.example/" + name + ":1.0.0"}}}}
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l,
		Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	yes := true
	rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-abc", Labels: l,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: l}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	for j := 0; j < podsPerService; j++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-abc-%d", name, j), Labels: l,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
			Spec: tmpl.Spec}
		p.Spec.NodeName = fmt.Sprintf("%s-node-%d", cluster, (i*podsPerService+j)%nodes)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// benchPortal serves a catalog of the 1,000 services with the cluster caches.
func benchPortal(ctx context.Context, dir, name string, m *cluster.Manager, log *slog.Logger) (*server.Server, *httptest.Server, error) {
	return benchPortalOf(ctx, dir, name, benchServices, m, log)
}

// benchPortalOf serves a catalog of the first services services with the cluster caches.
func benchPortalOf(ctx context.Context, dir, name string, services int, m *cluster.Manager, log *slog.Logger) (*server.Server, *httptest.Server, error) {
	catDir := filepath.Join(dir, name+"-services")
	if err := os.MkdirAll(catDir, 0o755); err != nil {
		return nil, nil, err
	}
	for i := 0; i < services; i++ {
		body := fmt.Sprintf("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-%d\n  annotations: {backstage.io/kubernetes-id: svc-%d, backstage.io/kubernetes-namespace: team-%d}\nspec: {type: service, lifecycle: production, owner: team-%d}\n", i, i, i%benchNamespaces, i%benchNamespaces)
		if err := os.WriteFile(filepath.Join(catDir, "svc-"+strconv.Itoa(i)+".yaml"), []byte(body), 0o644); err != nil {
			return nil, nil, err
		}
	}
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, name+"-bench.db"))
	if err != nil {
		return nil, nil, err
	}
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "bench", Dir: catDir, Globs: []string{"*.yaml"}}}, ingest.Options{Log: log})
	if err := r.Refresh(ctx, "bench"); err != nil {
		return nil, nil, err
	}
	books, _ := runbooks.Open(filepath.Join(dir, "none"))
	srv := server.New(server.Deps{Catalog: r, Clusters: m, Runbooks: books, DB: st, Log: log, Anonymous: true, Scorecards: benchChecks()})
	return srv, httptest.NewServer(srv), nil
}

// listPerRequest is the baseline: what Backstage's Kubernetes plugin and the Dashboard do,
// fetching a service's objects with label-selected LIST calls (in parallel) on every request.
func listPerRequest(cs kubernetes.Interface) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Path[1:])
		ns, sel := fmt.Sprintf("team-%d", i%benchNamespaces), fmt.Sprintf("backstage.io/kubernetes-id=svc-%d", i)
		ctx, opts := r.Context(), metav1.ListOptions{LabelSelector: sel}
		out := map[string]any{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		fetch := func(key string, f func() (any, error)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := f()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					out[key] = err.Error()
				} else {
					out[key] = v
				}
			}()
		}
		fetch("deployments", func() (any, error) { return cs.AppsV1().Deployments(ns).List(ctx, opts) })
		fetch("replicasets", func() (any, error) { return cs.AppsV1().ReplicaSets(ns).List(ctx, opts) })
		fetch("pods", func() (any, error) { return cs.CoreV1().Pods(ns).List(ctx, opts) })
		fetch("services", func() (any, error) { return cs.CoreV1().Services(ns).List(ctx, opts) })
		fetch("hpas", func() (any, error) {
			return cs.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
		})
		fetch("pdbs", func() (any, error) { return cs.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{}) })
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

// sseLatency changes a service's Deployment 20 times and times each change until its event
// leaves the portal's stream; it returns the 95th percentile.
func sseLatency(ctx context.Context, cs kubernetes.Interface, portalURL string) (time.Duration, error) {
	events, stop, err := changeEvents(ctx, portalURL+"/catalog/component/default/svc-7/runtime/events")
	if err != nil {
		return 0, err
	}
	defer stop()
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		time.Sleep(300 * time.Millisecond)
		for len(events) > 0 {
			<-events
		}
		d, err := cs.AppsV1().Deployments("team-7").Get(ctx, "svc-7", metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		d.Annotations["bench/change"] = strconv.Itoa(i)
		start := time.Now()
		if _, err := cs.AppsV1().Deployments("team-7").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			return 0, err
		}
		select {
		case got := <-events:
			lat = append(lat, got.Sub(start))
		case <-time.After(10 * time.Second):
			return 0, fmt.Errorf("change %d never reached the stream", i)
		}
	}
	slices.Sort(lat)
	return lat[len(lat)*95/100-1], nil
}

// fireServices is how many of the bench's services are made to fail for the on-fire page.
const fireServices = 20

// firePage makes two pods of each of fireServices services crash-loop (their status, as a
// kubelet would write it), waits until the on-fire page lists them all, and loads it.
// The page is loaded interleaved with one runtime view, its comparison.
func firePage(ctx context.Context, cs kubernetes.Interface, portalURL string) (map[string]samples, error) {
	for i := 0; i < fireServices; i++ {
		ns := fmt.Sprintf("team-%d", (i*37)%benchNamespaces)
		for j := 0; j < 2; j++ {
			name := fmt.Sprintf("svc-%d-abc-%d", i*37, j)
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: p.Spec.Containers[0].Image, RestartCount: 6,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}
			if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				return nil, err
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for strings.Count(fetch(portalURL+"/fire"), `data-testid="fire-row"`) < fireServices {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the on-fire page never listed the %d failing services", fireServices)
		}
		time.Sleep(time.Second)
	}
	m := mix{rate: 100, warmup: 2 * time.Second, window: 10 * time.Second, kinds: []string{"fire", "runtime"},
		target: func(kind string, i int) string {
			if kind == "runtime" {
				return fmt.Sprintf("%s/api/v1/entities/component/default/svc-%d/runtime", portalURL, rand.IntN(benchServices))
			}
			return portalURL + "/fire"
		}}
	return m.run()
}

// fireCold times the on-fire page for a viewer alone, its shared answer expired each time:
// the slowest of five.
func fireCold(portalURL string) time.Duration {
	var worst time.Duration
	for range 5 {
		time.Sleep(2100 * time.Millisecond) // past the page's 2 s shared answer
		start := time.Now()
		fetch(portalURL + "/fire")
		worst = max(worst, time.Since(start))
	}
	return worst
}

// clusterPageRate is the open-loop rate for the cluster page: each client loads it every
// second (ten times the page's own refresh), and as many runtime views are interleaved.
func clusterPageRate(clients int) float64 { return float64(2 * clients) }

// clusterPage measures the cluster page of the bench cluster (its nodes, control plane,
// namespaces with their services and Warning events, from the caches), interleaved with
// the runtime view of one service as the baseline.
func clusterPage(portal string, clients int) (map[string]samples, error) {
	m := mix{rate: clusterPageRate(clients), warmup: 2 * time.Second, window: 15 * time.Second, kinds: []string{"page", "runtime"},
		target: func(kind string, i int) string {
			if kind == "page" {
				return portal + "/clusters/bench"
			}
			return fmt.Sprintf("%s/api/v1/entities/component/default/svc-%d/runtime", portal, rand.IntN(benchServices))
		}}
	return m.run()
}
