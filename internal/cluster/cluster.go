// Package cluster keeps a live, read-only view of each configured Kubernetes cluster in shared
// informer caches (under the portal's own identity), and answers what runs for a catalog
// component — workloads, pods, autoscalers, services, ingresses, events — with a health rollup.
package cluster

import (
	"net/http"

	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// Config describes one cluster.
type Config struct {
	Name, DisplayName, Environment string
	Kubeconfig, Context            string
	InCluster                      bool
	// ImpersonateGroups are the OIDC groups the portal may pass on when it acts as a user
	// (shell patterns); others are dropped, which only ever narrows the user's rights. Empty
	// passes every group.
	ImpersonateGroups []string
	// WatchSecrets also dates changes to the Secrets workloads read (their metadata only;
	// the portal's identity then needs list and watch on secrets).
	WatchSecrets bool
	// APIServerMetrics selects the cluster's API server series in Prometheus (PromQL label
	// matchers).
	APIServerMetrics string
}

// Cluster is one cluster's informers and reachability.
type Cluster struct {
	Config
	client  kubernetes.Interface
	rest    *rest.Config // the portal's own identity; nil for clusters built on a given client
	factory informers.SharedInformerFactory
	idx     indexers
	config  *configWatch // nil for clusters built on a given client
	crds    *crdWatch    // nil for clusters built on a given client
	cp      *controlPlaneWatch
	usage   *nodeUsage // what each node's pods request, kept as the pod cache changes
	log     *slog.Logger

	synced atomic.Bool
	access accessCache
	mu     sync.Mutex // guards the reachability fields below
	// reachable is false from the first failed probe until one succeeds again; staleSince
	// says since when the caches may be behind.
	reachable  bool
	probed     bool
	lastError  string
	staleSince time.Time
	version    string
}

// traced wraps the API server transport so each call is a client span (watches excepted: a
// watch lasts minutes and belongs to no request).
func traced(rt http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(rt, otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Query().Get("watch") != "true" }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "kube " + r.Method + " " + r.URL.Path }))
}

// New builds a cluster's client and informers; nothing talks to the API server until Start.
func New(cfg Config, log *slog.Logger) (*Cluster, error) {
	rc, err := RESTConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Name, err)
	}
	rc.QPS, rc.Burst = 50, 100
	// No client-wide timeout: it would also cut the informers' watches (and the watch-list
	// that fills a cache, longer than 30 s on a large cluster) and followed logs, every 30 s.
	// bounded gives every other request the same 30 s instead.
	rc.Wrap(bounded(requestTimeout))
	rc.Wrap(traced) // every call but the informers' long watches is a span of the trace it serves
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Name, err)
	}
	c := newWithClient(cfg, cs, log)
	c.rest = rc
	mc, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Name, err)
	}
	c.config = newConfigWatch(mc, cfg.WatchSecrets)
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Name, err)
	}
	c.crds = newCRDWatch(cs.Discovery(), dyn, func(any) {})
	return c, nil
}

func newWithClient(cfg Config, cs kubernetes.Interface, log *slog.Logger) *Cluster {
	if cfg.DisplayName == "" {
		cfg.DisplayName = cfg.Name
	}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(stripForCache))
	c := &Cluster{Config: cfg, client: cs, factory: f, log: log.With("cluster", cfg.Name)}
	c.idx = newIndexers(f)
	c.cp = newControlPlaneWatch(cs)
	c.usage = newNodeUsage(c.idx.pods)
	return c
}

// RESTConfig is how Portico reaches the cluster as itself: its in-cluster service account or
// its kubeconfig (for its own objects, such as the Lease its replicas elect a leader with).
func RESTConfig(cfg Config) (*rest.Config, error) {
	if cfg.InCluster {
		return rest.InClusterConfig()
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.Kubeconfig}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
}

// lastAppliedAnnotation is kubectl's copy of the whole object: large, and never shown.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// stripForCache drops what the portal never reads before objects enter the caches, which
// roughly halves their memory. It runs on objects fresh from the API, not yet shared. Cached
// pods are therefore partial: code that needs a whole pod reads it from the API.
func stripForCache(obj any) (any, error) {
	if p, ok := obj.(*corev1.Pod); ok {
		trimPod(p)
	}
	if a, err := meta.Accessor(obj); err == nil {
		a.SetManagedFields(nil)
		if ann := a.GetAnnotations(); ann[lastAppliedAnnotation] != "" {
			clean := make(map[string]string, len(ann)-1)
			for k, v := range ann {
				if k != lastAppliedAnnotation {
					clean[k] = v
				}
			}
			a.SetAnnotations(clean)
		}
	}
	return obj, nil
}

// Start runs the informers and the reachability probe until ctx ends. It does not wait for
// the caches: Synced says when they are.
func (c *Cluster) Start(ctx context.Context) {
	c.factory.Start(ctx.Done())
	c.cp.start(ctx)
	if c.config != nil {
		c.config.start(ctx)
	}
	if c.crds != nil {
		go c.crds.run(ctx)
	}
	go func() {
		for typ, ok := range c.factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				c.log.Warn("cache did not sync", "type", typ.String())
				return
			}
		}
		c.synced.Store(true)
		c.log.Info("cluster caches synced")
	}()
	go c.probe(ctx)
}

// Synced reports whether every cache has listed its objects once.
func (c *Cluster) Synced() bool { return c.synced.Load() }

// WaitSynced blocks until the caches are synced or ctx ends.
func (c *Cluster) WaitSynced(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), c.Synced)
}

// probe asks the API server for its version every few seconds: informers retry on their own,
// but users need to know when what they see may be behind.
func (c *Cluster) probe(ctx context.Context) {
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		v, err := c.client.Discovery().RESTClient().Get().AbsPath("/version").Do(pctx).Raw()
		cancel()
		c.mu.Lock()
		wasReachable := c.reachable || !c.probed
		c.probed = true
		if err != nil {
			if wasReachable {
				c.staleSince = time.Now()
				c.log.Warn("cluster unreachable: showing cached state", "err", err)
			}
			c.reachable, c.lastError = false, reachReason(err)
		} else {
			if !c.reachable && !c.staleSince.IsZero() {
				c.log.Info("cluster reachable again")
			}
			c.reachable, c.lastError, c.staleSince = true, "", time.Time{}
			c.version = parseVersion(v)
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}

// Reachability is what the portal knows about reaching a cluster.
type Reachability struct {
	Reachable  bool      `json:"reachable"`
	Probed     bool      `json:"probed"`
	Synced     bool      `json:"synced"`
	Error      string    `json:"error,omitempty"`
	StaleSince time.Time `json:"staleSince,omitzero"`
	Version    string    `json:"version,omitempty"`
}

// Reachability reports the last probe.
func (c *Cluster) Reachability() Reachability {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Reachability{Reachable: c.reachable, Probed: c.probed, Synced: c.Synced(), Error: c.lastError, StaleSince: c.staleSince, Version: c.version}
}

// trimPod keeps of a pod what the runtime view shows: identity, labels, owners, node, the
// containers' names, images and resources, and the status. Volumes (every pod carries a
// projected service-account volume), mounts, environment, commands and probes go.
func trimPod(p *corev1.Pod) {
	p.Annotations = nil
	p.Spec.Volumes, p.Spec.Tolerations, p.Spec.Affinity = nil, nil, nil
	p.Spec.SecurityContext, p.Spec.TerminationGracePeriodSeconds, p.Spec.Priority, p.Spec.EnableServiceLinks, p.Spec.PreemptionPolicy = nil, nil, nil, nil, nil
	p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount, p.Spec.SchedulerName, p.Spec.DNSPolicy = "", "", "", ""
	p.Status.PodIP, p.Status.PodIPs, p.Status.HostIP, p.Status.HostIPs, p.Status.QOSClass = "", nil, "", nil, ""
	// Of the conditions, the runtime view reads Ready and PodScheduled only.
	var conds []corev1.PodCondition // a new array: the dropped ones' strings are freed
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady || c.Type == corev1.PodScheduled {
			c.LastProbeTime = metav1.Time{}
			conds = append(conds, c)
		}
	}
	p.Status.Conditions = conds
	p.Spec.InitContainers = trimContainers(p.Spec.InitContainers)
	p.Spec.Containers = trimContainers(p.Spec.Containers)
	for i := range p.Status.ContainerStatuses {
		p.Status.ContainerStatuses[i].ImageID, p.Status.ContainerStatuses[i].ContainerID = "", ""
		p.Status.ContainerStatuses[i].VolumeMounts = nil
		p.Status.ContainerStatuses[i].AllocatedResources, p.Status.ContainerStatuses[i].Resources, p.Status.ContainerStatuses[i].User = nil, nil, nil
	}
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	for i := range cs {
		// RestartPolicy tells sidecars from init containers, which count differently in requests.
		cs[i] = corev1.Container{Name: cs[i].Name, Image: cs[i].Image, Resources: cs[i].Resources, Ports: cs[i].Ports, RestartPolicy: cs[i].RestartPolicy}
	}
	return cs
}

// reachReason says in words for people why the API server could not be reached; the client's
// own error (addresses, dial details) goes to the log.
func reachReason(err error) string {
	var netErr net.Error
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err):
		return "the API server refused the portal's credentials"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return "the API server's certificate is not trusted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "the API server did not answer within 3 s"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing answers at the API server's address"
	}
	return "the API server could not be reached"
}
