package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/config"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/leader"
	"github.com/portico-dev/portico/internal/notify"
	"github.com/portico-dev/portico/internal/store"
)

// The notices replicas send each other about the catalog.
const (
	topicCatalog = "catalog" // a source's entities or status were stored: reload them
	topicRefresh = "refresh" // a push for a source arrived: whoever leads, read it
)

// bus is notify's, as the wiring uses it.
type bus interface {
	Publish(ctx context.Context, topic, key string) error
	Subscribe(topic string, fn func(notify.Notice))
}

// elector decides whether this process does the background work.
type elector interface {
	Run(ctx context.Context, work func(context.Context))
	Leading() bool
	prometheus.Collector
}

// replication is how this process shares the work with its sibling replicas: alone, a local
// bus and always leading; highly available, PostgreSQL's notifications and a Lease.
type replication struct {
	ha     bool
	bus    bus
	elect  elector
	listen func(ctx context.Context) // hears the other replicas; nil alone
}

func replicate(cfg *config.Config, st *store.Store, getenv func(string) string, log *slog.Logger) (*replication, error) {
	h := cfg.HighAvailability
	if !h.Enabled {
		return &replication{bus: &notify.Local{}, elect: leader.Solo{}}, nil
	}
	lc, err := h.LeaseCluster(cfg.Clusters)
	if err != nil {
		return nil, fmt.Errorf("highAvailability.cluster: %w", err)
	}
	rc, err := cluster.RESTConfig(cluster.Config{Name: lc.Name, Kubeconfig: lc.Kubeconfig, Context: lc.Context, InCluster: lc.InCluster})
	if err != nil {
		return nil, fmt.Errorf("highAvailability: reach cluster %s: %w", lc.Name, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("highAvailability: %w", err)
	}
	id := firstOf(h.Identity, getenv("POD_NAME"))
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	ns := firstOf(h.Namespace, getenv("POD_NAMESPACE"), "default")
	pg := notify.NewPostgres(cfg.Database.DSN, id, st, log.With("component", "replicas"))
	log.Info("highly available: background work runs on the replica holding the Lease", "lease", ns+"/"+h.LeaseName,
		"cluster", lc.Name, "identity", id, "leaseDuration", h.LeaseDuration.D().String())
	return &replication{ha: true, bus: pg, listen: pg.Run, elect: leader.New(leader.Config{Client: cs, Namespace: ns, Name: h.LeaseName,
		Identity: id, LeaseDuration: h.LeaseDuration.D(), RenewDeadline: h.RenewDeadline.D(), RetryPeriod: h.RetryPeriod.D(),
		Log: log.With("component", "leader")})}, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// followCatalog keeps this replica's catalog the stored one while another replica reads the
// sources: each notice that one was stored (or that some may have been missed) reloads it,
// a burst of them once. A push that arrives here is handed to whichever replica leads.
func (r *replication) followCatalog(ctx context.Context, refresher *ingest.Refresher, log *slog.Logger) {
	kick := make(chan struct{}, 1)
	r.bus.Subscribe(topicCatalog, func(n notify.Notice) {
		if n.Local || r.elect.Leading() {
			return // this replica stored it
		}
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	r.bus.Subscribe(topicRefresh, func(n notify.Notice) {
		if n.Key != "" && r.elect.Leading() {
			refresher.Trigger(n.Key)
		}
	})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			if err := refresher.Reload(ctx); err != nil && ctx.Err() == nil {
				log.Error("reloading the catalog another replica stored failed", "err", err)
			}
		}
	}()
}

// announced is the refresher's Stored hook: the other replicas reload the source.
func (r *replication) announced(log *slog.Logger) func(string) {
	return func(source string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.bus.Publish(ctx, topicCatalog, source); err != nil {
			log.Warn("catalog change not announced to the other replicas", "source", source, "err", err)
		}
	}
}

// replicatedCatalog is the refresher as the server sees it: a git push asks the leader to
// read the source, whichever replica it arrived at.
type replicatedCatalog struct {
	*ingest.Refresher
	bus bus
	log *slog.Logger
}

// Trigger asks the leading replica to read the source soon.
func (c replicatedCatalog) Trigger(source string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.bus.Publish(ctx, topicRefresh, source); err != nil {
		c.log.Warn("push not handed to the leading replica; the source is read on the next interval", "source", source, "err", err)
	}
}
