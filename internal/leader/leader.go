// Package leader chooses the one replica that does Portico's background work (refreshing the
// catalog's sources, saving the scorecards' daily snapshots, completing the actions an
// earlier process left interrupted) with a Kubernetes Lease, through client-go's leader
// election. When the leader dies its Lease expires and another replica takes the work over.
package leader

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Config is where the Lease is and how it is held.
type Config struct {
	Client    kubernetes.Interface // Portico's own identity in the cluster holding the Lease
	Namespace string
	Name      string // the Lease's
	Identity  string // this replica's, unique among them (the pod's name)
	// LeaseDuration is how long the others wait after the last renewal before taking over;
	// the leader gives up when it has not renewed for RenewDeadline; every candidate tries
	// every RetryPeriod.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Log                                       *slog.Logger
}

// Elector runs the background work while this replica holds the Lease.
type Elector struct {
	cfg     Config
	leading atomic.Bool
	holder  atomic.Pointer[string]
	desc    *prometheus.Desc
}

// New returns an elector; Run takes part in the election.
func New(cfg Config) *Elector {
	return &Elector{cfg: cfg, desc: leaderDesc}
}

var leaderDesc = prometheus.NewDesc("portico_leader", "1 while this replica does the background work (it holds the Lease, or runs alone).", nil, nil)

// Run campaigns for the Lease until ctx ends; each time this replica wins it, work runs with
// a context that ends when the Lease is lost. On a graceful stop the Lease is released, so
// another replica takes over at once rather than after LeaseDuration.
func (e *Elector) Run(ctx context.Context, work func(context.Context)) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name},
		Client:     e.cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.cfg.Identity},
	}
	for ctx.Err() == nil {
		var running sync.WaitGroup
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: "portico", ReleaseOnCancel: true,
			LeaseDuration: e.cfg.LeaseDuration, RenewDeadline: e.cfg.RenewDeadline, RetryPeriod: e.cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					running.Add(1)
					defer running.Done()
					e.leading.Store(true)
					e.cfg.Log.Info("leading: this replica does the background work", "lease", e.cfg.Namespace+"/"+e.cfg.Name, "identity", e.cfg.Identity)
					work(lctx)
				},
				OnStoppedLeading: func() {
					if e.leading.Swap(false) {
						e.cfg.Log.Warn("no longer leading: background work stopped here", "identity", e.cfg.Identity)
					}
				},
				OnNewLeader: func(id string) {
					e.holder.Store(&id)
					if id != e.cfg.Identity {
						e.cfg.Log.Info("another replica leads", "leader", id)
					}
				},
			},
		})
		if err != nil { // a bad configuration; Validate keeps it from happening
			e.cfg.Log.Error("leader election cannot run", "err", err)
			return
		}
		le.Run(ctx)
		running.Wait()
		if ctx.Err() == nil {
			select { // lost the Lease (the API server was unreachable): campaign again
			case <-ctx.Done():
			case <-time.After(e.cfg.RetryPeriod):
			}
		}
	}
}

// Leading reports whether this replica does the background work now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Leader is the identity of the replica last seen holding the Lease ("" before one is seen).
func (e *Elector) Leader() string {
	if id := e.holder.Load(); id != nil {
		return *id
	}
	return ""
}

// Describe and Collect make the elector a Prometheus collector of portico_leader.
func (e *Elector) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

// Collect reports portico_leader.
func (e *Elector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, gauge(e.Leading()))
}

// Solo is the elector of a Portico that runs alone: it always leads.
type Solo struct{}

// Run runs work until ctx ends.
func (Solo) Run(ctx context.Context, work func(context.Context)) { work(ctx) }

// Leading is always true.
func (Solo) Leading() bool { return true }

// Describe and Collect report portico_leader 1.
func (Solo) Describe(ch chan<- *prometheus.Desc) { ch <- leaderDesc }

// Collect reports portico_leader.
func (Solo) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, 1)
}

func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
