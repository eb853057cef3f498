package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/store"
)

// catalogStore is what the refresher needs from the database.
type catalogStore interface {
	Load(ctx context.Context) (*store.Catalog, error)
	SaveSource(ctx context.Context, source string, records []catalog.Record, problems []catalog.Problem, docs map[string][]byte, status store.SourceStatus) error
	SaveStatus(ctx context.Context, source string, status store.SourceStatus) error
}

// Refresher keeps the catalog up to date: it reads each source, merges what it emits with what
// it emitted before, stores the result and publishes a new snapshot for readers.
type Refresher struct {
	store       catalogStore
	sources     []Source
	policy      catalog.OrphanPolicy
	maxFileSize int64
	log         *slog.Logger
	stored      func(source string)

	trigger chan string

	mu       sync.Mutex // guards the per-source state below and serializes refreshes
	records  map[string][]catalog.Record
	problems map[string][]catalog.Problem
	docs     map[string]map[string][]byte
	status   map[string]store.SourceStatus

	snap    atomic.Pointer[catalog.Snapshot]
	changed chan struct{} // closed and replaced on every new snapshot
	ready   atomic.Bool
}

// Options configure a Refresher.
type Options struct {
	Policy      catalog.OrphanPolicy
	MaxFileSize int64
	Log         *slog.Logger
	// Stored is told the name of each source whose entities or status were just stored
	// (after the lock is let go), so other replicas can reload them.
	Stored func(source string)
}

// NewRefresher returns a refresher over the sources; call Load before serving.
func NewRefresher(st catalogStore, sources []Source, opt Options) *Refresher {
	r := &Refresher{store: st, sources: sources, policy: opt.Policy, maxFileSize: opt.MaxFileSize, log: opt.Log, stored: opt.Stored,
		trigger: make(chan string, 64), records: map[string][]catalog.Record{}, problems: map[string][]catalog.Problem{},
		docs: map[string]map[string][]byte{}, status: map[string]store.SourceStatus{}, changed: make(chan struct{})}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.stored == nil {
		r.stored = func(string) {}
	}
	r.snap.Store(catalog.NewSnapshot(nil, nil))
	return r
}

// Snapshot returns the current catalog. It never returns nil.
func (r *Refresher) Snapshot() *catalog.Snapshot { return r.snap.Load() }

// Changed returns a channel closed when the next snapshot is published.
func (r *Refresher) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Ready reports whether every source has been read at least once since start.
func (r *Refresher) Ready() bool { return r.ready.Load() }

// Load publishes the catalog stored by earlier runs, so the portal serves at once.
func (r *Refresher) Load(ctx context.Context) error {
	_, err := r.load(ctx)
	return err
}

// Reload replaces the catalog with the one stored now, for a replica that does not read the
// sources itself (another leads): it is ready once every configured source has been read
// by some replica.
func (r *Refresher) Reload(ctx context.Context) error {
	all, err := r.load(ctx)
	if err == nil && all {
		r.ready.Store(true)
	}
	return err
}

// load publishes what is stored and reports whether every configured source has a status.
func (r *Refresher) load(ctx context.Context) (bool, error) {
	stored, err := r.store.Load(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records, r.problems, r.status = map[string][]catalog.Record{}, map[string][]catalog.Problem{}, map[string]store.SourceStatus{}
	for _, rec := range stored.Records {
		r.records[rec.Source] = append(r.records[rec.Source], rec)
	}
	for _, p := range stored.Problems {
		r.problems[p.Source] = append(r.problems[p.Source], p)
	}
	for _, s := range stored.Sources {
		r.status[s.Name] = s
	}
	r.docs = stored.Documents
	if r.docs == nil {
		r.docs = map[string]map[string][]byte{}
	}
	r.publishLocked()
	for _, s := range r.sources {
		if r.status[s.Name()].RefreshedAt.IsZero() {
			return false, nil
		}
	}
	return true, nil
}

// Statuses returns each configured source's last refresh, in configuration order.
func (r *Refresher) Statuses() []SourceInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]SourceInfo, 0, len(r.sources))
	for _, s := range r.sources {
		out = append(out, SourceInfo{Location: s.Location(), SourceStatus: r.status[s.Name()]})
		out[len(out)-1].Name = s.Name()
	}
	return out
}

// SourceInfo describes a source and its last refresh.
type SourceInfo struct {
	store.SourceStatus
	Location string
}

// RefreshAll reads every source once, and retires the entities of sources that were removed
// from the configuration.
func (r *Refresher) RefreshAll(ctx context.Context) {
	for _, s := range r.sources {
		if err := r.refresh(ctx, s); err != nil {
			r.log.Error("catalog refresh failed", "source", s.Name(), "err", err)
		}
	}
	if retired, err := r.retireRemovedSources(ctx); err != nil {
		r.log.Error("retiring entities of removed sources failed", "err", err)
	} else {
		for _, name := range retired {
			r.stored(name)
		}
	}
	r.ready.Store(true)
}

// retireRemovedSources treats a source that is no longer configured as one that emits nothing:
// its entities become orphans and go after the grace period, like any others.
func (r *Refresher) retireRemovedSources(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	configured := map[string]bool{}
	for _, s := range r.sources {
		configured[s.Name()] = true
	}
	var retired []string
	for name, prev := range r.records {
		if configured[name] {
			continue
		}
		merged := catalog.Merge(prev, &catalog.Reading{}, time.Now().UTC().Truncate(time.Millisecond), r.policy)
		st := store.SourceStatus{Name: name, RefreshedAt: time.Now(), Entities: len(merged), Error: "source removed from the configuration"}
		if err := r.store.SaveSource(ctx, name, merged, nil, nil, st); err != nil {
			return retired, err
		}
		r.records[name], r.problems[name] = merged, nil
		delete(r.docs, name)
		if len(merged) == 0 {
			delete(r.records, name)
		}
		retired = append(retired, name)
	}
	if len(retired) > 0 {
		r.publishLocked()
	}
	return retired, nil
}

// Refresh reads one source by name now.
func (r *Refresher) Refresh(ctx context.Context, name string) error {
	for _, s := range r.sources {
		if s.Name() == name {
			return r.refresh(ctx, s)
		}
	}
	return fmt.Errorf("no catalog source named %q", name)
}

// Trigger asks the Run loop to refresh a source soon; repeated triggers coalesce.
func (r *Refresher) Trigger(name string) {
	select {
	case r.trigger <- name:
	default: // a burst of pushes: a refresh is already queued
	}
}

// MatchPush returns the git sources a push concerns.
func (r *Refresher) MatchPush(p Push) []string {
	var names []string
	for _, s := range r.sources {
		if g, ok := s.(*GitSource); ok && g.Matches(p.URLs, p.Ref) {
			names = append(names, s.Name())
		}
	}
	return names
}

// Run refreshes every source now and then every interval, and a single source whenever it is
// triggered, until ctx ends.
func (r *Refresher) Run(ctx context.Context, interval time.Duration) {
	r.RefreshAll(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.RefreshAll(ctx)
		case name := <-r.trigger:
			if err := r.Refresh(ctx, name); err != nil {
				r.log.Error("catalog refresh failed", "source", name, "err", err)
			}
		}
	}
}

// refresh reads one source, stores and publishes what it found, and says it was stored.
func (r *Refresher) refresh(ctx context.Context, src Source) error {
	err := r.read(ctx, src)
	r.stored(src.Name())
	return err
}

func (r *Refresher) read(ctx context.Context, src Source) error {
	start := time.Now()
	fsys, rev, openErr := src.Open(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	name := src.Name()
	if openErr != nil {
		// Unreachable: keep every entity and problem of the source as they were.
		st := r.status[name]
		st.Name, st.RefreshedAt, st.Error, st.Duration = name, time.Now(), openErr.Error(), time.Since(start)
		r.status[name] = st
		r.publishLocked()
		if err := r.store.SaveStatus(ctx, name, st); err != nil {
			return fmt.Errorf("%v (and saving the status failed: %v)", openErr, err)
		}
		return openErr
	}
	reader := &catalog.Reader{Source: name, Location: src.Location(), FS: fsys, Patterns: src.Patterns(), MaxFileSize: r.maxFileSize}
	reading := reader.Read()
	merged := catalog.Merge(r.records[name], reading, time.Now().UTC().Truncate(time.Millisecond), r.policy)
	st := store.SourceStatus{Name: name, Revision: rev, RefreshedAt: time.Now(), Entities: len(merged), Duration: time.Since(start)}
	docs := keepDocuments(r.docs[name], reading, merged)
	if err := r.store.SaveSource(ctx, name, merged, reading.Problems, docs, st); err != nil {
		return fmt.Errorf("store catalog of %s: %w", name, err)
	}
	r.records[name], r.problems[name], r.docs[name], r.status[name] = merged, reading.Problems, docs, st
	r.publishLocked()
	r.logProblems(name, reading.Problems)
	r.log.Info("catalog refreshed", "source", name, "revision", rev, "entities", len(merged),
		"problems", len(reading.Problems), "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// publishLocked builds and publishes a new snapshot from every source's state.
func (r *Refresher) publishLocked() {
	var all []catalog.Record
	var problems []catalog.Problem
	names := make([]string, 0, len(r.records))
	for n := range r.records {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		all = append(all, r.records[n]...)
	}
	for _, ps := range r.problems {
		problems = append(problems, ps...)
	}
	for _, s := range r.sources {
		if st := r.status[s.Name()]; st.Error != "" {
			problems = append(problems, catalog.Problem{Source: s.Name(), File: s.Location(), Severity: catalog.SeverityError,
				Message: "source could not be read, its last good entities are kept: " + st.Error})
		}
	}
	r.snap.Store(catalog.NewSnapshotWithDocuments(all, problems, maps.Clone(r.docs)))
	close(r.changed)
	r.changed = make(chan struct{})
}

// logProblems writes a source's problems to the log too (at most a screenful per refresh), so
// they reach log-based alerting as well as the Catalog health page.
func (r *Refresher) logProblems(source string, ps []catalog.Problem) {
	const most = 20
	for i, p := range ps {
		if i == most {
			r.log.Warn("more catalog problems not logged; see Catalog health", "source", source, "count", len(ps)-most)
			return
		}
		level := slog.LevelWarn
		if p.Severity == catalog.SeverityError {
			level = slog.LevelError
		}
		r.log.Log(context.Background(), level, "catalog problem", "source", source, "file", p.File, "line", p.Line,
			"column", p.Column, "entity", p.Entity, "problem", p.Message)
	}
}

// keepDocuments is the source's new documents, plus the previous version of each document an
// entity still links to that was not read this time (its entity kept its last good version).
func keepDocuments(prev map[string][]byte, rd *catalog.Reading, merged []catalog.Record) map[string][]byte {
	docs := maps.Clone(rd.Documents)
	if docs == nil {
		docs = map[string][]byte{}
	}
	for _, r := range merged {
		for _, p := range catalog.RunbookPaths(r.Entity) {
			doc := catalog.ResolveDocument(r.File, p)
			if body, ok := prev[doc]; ok && docs[doc] == nil {
				docs[doc] = body
			}
		}
	}
	return docs
}
