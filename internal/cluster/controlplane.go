package cluster

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ControlPlane is the control plane's health as the portal sees it: the API server's own
// health checks, and the Leases its leader-elected components renew.
type ControlPlane struct {
	Checks      []HealthCheck `json:"checks"`
	ChecksError string        `json:"checksError,omitempty"` // why the checks could not be read
	CheckedAt   time.Time     `json:"checkedAt,omitzero"`
	Leases      []LeaderLease `json:"leases"`
	LeasesError string        `json:"leasesError,omitempty"` // why the Leases could not be read
	Health      Health        `json:"health"`
}

// HealthCheck is one named check of the API server's /readyz or /livez (etcd, informer-sync,
// poststarthook/…), as its verbose output lists them.
type HealthCheck struct {
	Endpoint string `json:"endpoint"` // readyz or livez
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Message  string `json:"message,omitempty"` // the failure as the API server words it
}

// LeaderLease is a leader-elected component's Lease in kube-system and how fresh it is: a
// holder that stopped renewing it for longer than its duration is gone, and nobody does its
// work (nothing is scheduled without a scheduler; no ReplicaSet is made without the
// controller manager).
type LeaderLease struct {
	Component   string        `json:"component"`
	Holder      string        `json:"holder,omitempty"`
	Renewed     time.Time     `json:"renewed,omitzero"`
	Duration    time.Duration `json:"-"`
	Seconds     int64         `json:"durationSeconds"`
	Transitions int32         `json:"transitions"`
	// State: fresh (renewed within its duration), stale (its holder stopped renewing it: it
	// crashed or hangs), released (no holder: the leader stopped and none took over), or
	// missing (no Lease: the component runs without leader election, or the provider hides it).
	State string `json:"state"`
	// Age is how long ago it was renewed, as of the answer.
	Age        time.Duration `json:"-"`
	AgeSeconds int64         `json:"ageSeconds"`
}

// LeaderComponents are the control-plane components whose Leases the cluster page expects.
var LeaderComponents = []string{"kube-scheduler", "kube-controller-manager"}

// Lease states.
const (
	LeaseFresh    = "fresh"
	LeaseStale    = "stale"
	LeaseReleased = "released"
	LeaseMissing  = "missing"
)

// checksEvery is how often the API server's checks are read again.
const checksEvery = 10 * time.Second

// controlPlaneWatch keeps the checks and the Leases of kube-system.
type controlPlaneWatch struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory // kube-system only: node heartbeats stay out
	leases  cache.SharedIndexInformer
	// autoscaler is the cluster autoscaler's status ConfigMap, alone.
	caFactory  informers.SharedInformerFactory
	autoscaler cache.SharedIndexInformer

	mu        sync.Mutex
	checks    []HealthCheck
	checksErr string
	checkedAt time.Time
	leaseErr  string
}

func newControlPlaneWatch(cs kubernetes.Interface) *controlPlaneWatch {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("kube-system"), informers.WithTransform(stripForCache))
	w := &controlPlaneWatch{client: cs, factory: f, leases: f.Coordination().V1().Leases().Informer()}
	w.caFactory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("kube-system"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + AutoscalerConfigMap }))
	w.autoscaler = w.caFactory.Core().V1().ConfigMaps().Informer()
	// A portal without the right to read Leases (an older chart) shows why rather than
	// nothing; the informer keeps retrying and clears it when it may.
	_ = w.leases.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		w.mu.Lock()
		w.leaseErr = reachReason(err)
		if apierrors.IsForbidden(err) {
			w.leaseErr = "the portal may not read Leases in kube-system (it needs get, list and watch on leases there)"
		}
		w.mu.Unlock()
	})
	return w
}

// start runs the Lease informer (not waited for: the caches' sync does not depend on it)
// and reads the checks every checksEvery.
func (w *controlPlaneWatch) start(ctx context.Context) {
	w.factory.Start(ctx.Done())
	w.caFactory.Start(ctx.Done())
	go func() {
		for {
			w.readChecks(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(checksEvery):
			}
		}
	}()
}

func (w *controlPlaneWatch) readChecks(ctx context.Context) {
	var checks []HealthCheck
	var errs []string
	for _, ep := range []string{"readyz", "livez"} {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		body, err := w.client.Discovery().RESTClient().Get().AbsPath("/"+ep).Param("verbose", "").DoRaw(rctx)
		cancel()
		parsed := ParseHealthChecks(ep, string(body))
		if len(parsed) == 0 && err != nil {
			errs = append(errs, "/"+ep+": "+reachReason(err))
		}
		checks = append(checks, parsed...)
	}
	w.mu.Lock()
	w.checks, w.checksErr, w.checkedAt = checks, strings.Join(errs, "; "), time.Now()
	w.mu.Unlock()
}

// ParseHealthChecks reads the verbose output of /readyz or /livez: a line per check,
// "[+]etcd ok" or "[-]etcd failed: reason withheld".
func ParseHealthChecks(endpoint, body string) []HealthCheck {
	var out []HealthCheck
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if len(line) < 4 || line[0] != '[' || line[2] != ']' || (line[1] != '+' && line[1] != '-') {
			continue
		}
		name, rest, _ := strings.Cut(line[3:], " ")
		hc := HealthCheck{Endpoint: endpoint, Name: name, OK: line[1] == '+'}
		if !hc.OK {
			hc.Message = strings.TrimSpace(strings.TrimPrefix(rest, "failed:"))
		}
		out = append(out, hc)
	}
	return out
}

// ControlPlane answers from the last checks and the Lease cache.
func (c *Cluster) ControlPlane(now time.Time) ControlPlane {
	w := c.cp
	w.mu.Lock()
	cp := ControlPlane{Checks: w.checks, ChecksError: w.checksErr, CheckedAt: w.checkedAt}
	leaseErr := w.leaseErr
	w.mu.Unlock()
	found := map[string]bool{}
	if w.leases.HasSynced() {
		leaseErr = ""
		for _, obj := range w.leases.GetStore().List() {
			l := obj.(*coordinationv1.Lease)
			if !isLeaderLease(l) {
				continue
			}
			cp.Leases = append(cp.Leases, leaseState(l, now))
			found[l.Name] = true
		}
	}
	cp.LeasesError = leaseErr
	if leaseErr == "" {
		for _, name := range LeaderComponents {
			if !found[name] {
				cp.Leases = append(cp.Leases, LeaderLease{Component: name, State: LeaseMissing})
			}
		}
	}
	sort.Slice(cp.Leases, func(i, j int) bool { return cp.Leases[i].Component < cp.Leases[j].Component })
	cp.Health = controlPlaneHealth(cp)
	return cp
}

// isLeaderLease tells leader-election Leases from the API servers' identity Leases (which
// say how many API servers run, not who leads).
func isLeaderLease(l *coordinationv1.Lease) bool {
	return l.Labels["apiserver.kubernetes.io/identity"] == "" && !strings.HasPrefix(l.Name, "apiserver-")
}

func leaseState(l *coordinationv1.Lease, now time.Time) LeaderLease {
	out := LeaderLease{Component: l.Name, State: LeaseStale}
	if l.Spec.HolderIdentity != nil {
		out.Holder = *l.Spec.HolderIdentity
	}
	if l.Spec.LeaseTransitions != nil {
		out.Transitions = *l.Spec.LeaseTransitions
	}
	if l.Spec.LeaseDurationSeconds != nil {
		out.Duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	switch {
	case l.Spec.RenewTime != nil:
		out.Renewed = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		out.Renewed = l.Spec.AcquireTime.Time
	}
	if !out.Renewed.IsZero() {
		out.Age = now.Sub(out.Renewed).Truncate(time.Second)
		if out.Age < 0 {
			out.Age = 0
		}
		if out.Holder != "" && now.Sub(out.Renewed) <= out.Duration {
			out.State = LeaseFresh
		}
	}
	if out.Holder == "" {
		out.State = LeaseReleased
	}
	out.Seconds, out.AgeSeconds = int64(out.Duration.Seconds()), int64(out.Age.Seconds())
	return out
}

func controlPlaneHealth(cp ControlPlane) Health {
	h := Health{Healthy, "every check passes"}
	switch {
	case cp.ChecksError != "" && len(cp.Checks) == 0:
		h = Health{Unknown, "health checks unreadable: " + cp.ChecksError}
	case cp.CheckedAt.IsZero():
		h = Health{Unknown, "not checked yet"}
	}
	var failed []string
	for _, hc := range cp.Checks {
		if !hc.OK {
			failed = append(failed, hc.Endpoint+" "+hc.Name)
		}
	}
	if len(failed) > 0 {
		h = worst(h, Health{Down, "failing: " + strings.Join(failed, ", ")})
	}
	for _, l := range cp.Leases {
		switch l.State {
		case LeaseStale:
			h = worst(h, Health{Degraded, l.Component + " has not renewed its Lease for " + l.Age.String()})
		case LeaseReleased:
			h = worst(h, Health{Degraded, l.Component + " has no leader: its Lease was released " + l.Age.String() + " ago"})
		}
	}
	return h
}
