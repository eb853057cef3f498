package server

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/scorecard"
)

// ruleSource lists Prometheus' alerting rules.
type ruleSource interface {
	Rules(ctx context.Context) ([]alerts.Rule, error)
}

// scoreboard keeps every service's scorecard, recomputed from the cluster caches when an
// object of the service changes (informer events, never polling the API server), when the
// catalog changes, and when the alert rules do.
type scoreboard struct {
	mu    sync.RWMutex
	cards map[catalog.Ref]scored
	snap  *catalog.Snapshot // the catalog the cards were computed on
	rules []alerts.Rule
	// dirty are services to recompute; kick wakes the worker.
	dirty map[catalog.Ref]bool
	kick  chan struct{}
	subs  map[catalog.Ref]func() // per service: ends its cluster subscription
	// changed is closed and replaced whenever cards change, for pages waiting on them.
	changed chan struct{}
}

// scored is one service's card and when it was computed.
type scored struct {
	Card scorecard.Card
	At   time.Time
}

func newScoreboard() *scoreboard {
	return &scoreboard{cards: map[catalog.Ref]scored{}, dirty: map[catalog.Ref]bool{}, kick: make(chan struct{}, 1),
		subs: map[catalog.Ref]func(){}, changed: make(chan struct{})}
}

// card is a service's scorecard, as last computed.
func (b *scoreboard) card(ref catalog.Ref) (scored, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	c, ok := b.cards[ref]
	return c, ok
}

// all is every service's card.
func (b *scoreboard) all() map[catalog.Ref]scored {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(map[catalog.Ref]scored, len(b.cards))
	for k, v := range b.cards {
		out[k] = v
	}
	return out
}

// changes is closed at the next change of any card.
func (b *scoreboard) changes() <-chan struct{} {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.changed
}

func (b *scoreboard) mark(refs ...catalog.Ref) {
	b.mu.Lock()
	for _, r := range refs {
		b.dirty[r] = true
	}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// scored services are the catalog's components.
func scoredEntity(e *catalog.Entity) bool { return observes(e) }

// RunScorecards keeps the scoreboard current until ctx ends: it follows the catalog, the
// clusters' informer events for each service and Prometheus' alert rules.
func (s *Server) RunScorecards(ctx context.Context) {
	b := s.scores
	go s.followRules(ctx)
	catalogTick := time.NewTicker(time.Second)
	defer catalogTick.Stop()
	defer func() {
		b.mu.Lock()
		for _, end := range b.subs {
			end()
		}
		b.mu.Unlock()
	}()
	for {
		if snap := s.Catalog.Snapshot(); snap != b.snapshot() {
			s.followCatalog(ctx, snap)
		}
		s.rescore()
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
			// Let a burst of events (a rollout touches many objects) settle into one pass.
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		case <-catalogTick.C:
		}
	}
}

func (b *scoreboard) snapshot() *catalog.Snapshot {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.snap
}

// followCatalog subscribes to each service's objects and marks every service to rescore;
// services gone from the catalog lose their card and subscription.
func (s *Server) followCatalog(ctx context.Context, snap *catalog.Snapshot) {
	b := s.scores
	want := map[catalog.Ref]*catalog.Record{}
	for _, r := range snap.Records() {
		if scoredEntity(r.Entity) {
			want[r.Entity.Ref()] = r
		}
	}
	b.mu.Lock()
	b.snap = snap
	for ref, end := range b.subs {
		if want[ref] == nil {
			end()
			delete(b.subs, ref)
			delete(b.cards, ref)
		}
	}
	for ref, r := range want {
		b.dirty[ref] = true
		if _, ok := b.subs[ref]; ok || s.Clusters == nil {
			continue
		}
		q, mapped, err := cluster.QueryFor(r.Entity.Metadata.Annotations)
		if !mapped || err != nil {
			b.subs[ref] = func() {}
			continue
		}
		ch, end := s.Clusters.Subscribe(q)
		stop := make(chan struct{})
		b.subs[ref] = func() { end(); close(stop) }
		go func() {
			for {
				select {
				case <-ch:
					b.mark(ref)
				case <-stop:
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	b.mu.Unlock()
}

// followRules reads the alert rules every minute; a change rescores every service.
func (s *Server) followRules(ctx context.Context) {
	if s.AlertRules == nil {
		return
	}
	b := s.scores
	for {
		if rules, err := s.AlertRules.Rules(ctx); err == nil {
			b.mu.Lock()
			same := slices.EqualFunc(rules, b.rules, func(x, y alerts.Rule) bool { return x.Name == y.Name && x.Expr == y.Expr })
			b.rules = rules
			if !same {
				for ref := range b.subs {
					b.dirty[ref] = true
				}
			}
			b.mu.Unlock()
			if !same {
				b.mark()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

// rescore recomputes the dirty services.
func (s *Server) rescore() {
	b := s.scores
	b.mu.Lock()
	if len(b.dirty) == 0 {
		b.mu.Unlock()
		return
	}
	dirty := b.dirty
	b.dirty = map[catalog.Ref]bool{}
	snap, rules := b.snap, b.rules
	b.mu.Unlock()
	if snap == nil {
		return
	}
	now := time.Now()
	fresh := map[catalog.Ref]scored{}
	for ref := range dirty {
		r, ok := snap.Get(ref)
		if !ok {
			continue
		}
		fresh[ref] = scored{Card: s.Scorecards.Evaluate(s.scoreFacts(context.Background(), snap, r, rules)), At: now}
	}
	b.mu.Lock()
	for ref, c := range fresh {
		b.cards[ref] = c
	}
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// scoreFacts gathers what the checks read about one service: from the cluster caches, the
// catalog, the alert rules read last and the CI reports in the database.
func (s *Server) scoreFacts(ctx context.Context, snap *catalog.Snapshot, rec *catalog.Record, rules []alerts.Rule) scorecard.Facts {
	e := rec.Entity
	f := scorecard.Facts{Entity: entityJSON(e)}
	lifecycle, _ := e.Spec["lifecycle"].(string)
	f.Production = lifecycle == "production"
	if books := s.entityRunbooks(snap, rec); len(books) > 0 {
		for p := range books {
			f.Runbook = map[string]any{"present": true, "path": p}
			break
		}
	}
	m := matcherOf(e)
	for _, r := range rules {
		if m.MatchesRule(r) {
			f.AlertRules = append(f.AlertRules, map[string]any{"name": r.Name, "expr": r.Expr, "labels": stringMap(r.Labels), "group": r.Group})
		}
	}
	if s.Clusters == nil {
		return f
	}
	q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
	if !mapped || err != nil {
		return f
	}
	objs := s.Clusters.Objects(q)
	for _, env := range objs.Environments {
		f.Production = f.Production || s.actions.ProductionEnvironment(env)
	}
	f.Pipeline = s.pipelineFacts(ctx, e, objs)
	f.CRDs, f.Reports = objs.CustomResources, objs.Reports
	return scorecard.Assemble(f, scorecard.Objects{Workloads: objs.Workloads, Pods: objs.Pods, Others: objs.Others})
}

// pipelineFacts says whether CI reports reach Portico for the service and, for each image it
// runs, whether a reported run built it and passed a security scan.
func (s *Server) pipelineFacts(ctx context.Context, e *catalog.Entity, objs cluster.ServiceObjects) map[string]any {
	projects := e.ProjectSlugs()
	if s.Pipelines == nil || len(projects) == 0 {
		return map[string]any{"reported": false, "images": []any{}}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	runs, err := s.Pipelines.PipelineRuns(ctx, projects, 1)
	if err != nil || len(runs) == 0 {
		return map[string]any{"reported": false, "images": []any{}}
	}
	var images []string
	for _, w := range objs.Workloads {
		images = append(images, containerImages(w)...)
	}
	slices.Sort(images)
	images = slices.Compact(images)
	builds, err := s.Pipelines.BuildsOf(ctx, projects, images)
	if err != nil {
		return map[string]any{"reported": false, "images": []any{}}
	}
	out := make([]any, 0, len(images))
	for _, img := range images {
		b, built := builds[img]
		out = append(out, map[string]any{"image": img, "built": built, "scanPassed": built && b.ScanPassed, "run": b.RunID})
	}
	return map[string]any{"reported": true, "images": out}
}

func containerImages(w map[string]any) []string {
	var out []string
	spec, _ := w["spec"].(map[string]any)
	tpl, _ := spec["template"].(map[string]any)
	ps, _ := tpl["spec"].(map[string]any)
	cs, _ := ps["containers"].([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok {
			if img, ok := m["image"].(string); ok {
				out = append(out, img)
			}
		}
	}
	return out
}

// entityJSON is the entity as its catalog-info.yaml reads.
func entityJSON(e *catalog.Entity) map[string]any {
	b, err := json.Marshal(e)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
