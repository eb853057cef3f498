package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/dora"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/internal/store"
)

// scoreStore keeps exemptions and the daily snapshots.
type scoreStore interface {
	exemptionStore
	ActiveExemptions(ctx context.Context, now time.Time) ([]store.Exemption, error)
	SaveSnapshots(ctx context.Context, day string, snaps []store.Snapshot) error
	Snapshots(ctx context.Context, since, owner string) ([]store.Snapshot, error)
}

// exemptionStore is what the exemptions' write path needs.
type exemptionStore interface {
	GrantExemption(ctx context.Context, e store.Exemption) (store.Exemption, error)
	RevokeExemption(ctx context.Context, entity, check, by string, at time.Time) (bool, error)
}

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
	// exempt are the exemptions in force (check → reason, by service), read again when the
	// next one expires, after a grant or revocation here, and every minute (another
	// replica's); exemptsRead is when.
	exempt      map[catalog.Ref]map[string]string
	nextExpiry  time.Time
	exemptsRead time.Time
	// snapshotAt is when today's snapshot was last written.
	snapshotAt time.Time
	// version counts the changes of cards; lines are the pages' lines built at linesVersion.
	version, linesVersion uint64
	lines                 []*scoreLine
}

// snapshotEvery is how often the day's snapshot is written again: the day's last one stays.
const snapshotEvery = time.Hour

// scored is one service's card and when it was computed.
type scored struct {
	Card      scorecard.Card
	At        time.Time
	Workloads []scorecard.Workload // the service's workloads, for the commands that apply fixes
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
	return maps.Clone(b.cards)
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
		b.mu.RLock()
		reread := time.Since(b.exemptsRead) > time.Minute || (!b.nextExpiry.IsZero() && !time.Now().Before(b.nextExpiry))
		b.mu.RUnlock()
		if reread {
			s.readExemptions(ctx)
		}
		s.rescore()
		if time.Since(b.snapshotAt) > snapshotEvery || b.snapshotAt.UTC().Format(time.DateOnly) != time.Now().UTC().Format(time.DateOnly) {
			s.saveSnapshot(ctx)
		}
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
			b.version++
		}
	}
	for ref, r := range want {
		b.dirty[ref] = true
		if _, ok := b.subs[ref]; ok {
			continue
		}
		q, mapped, err := cluster.QueryFor(r.Entity.Metadata.Annotations)
		if !mapped || err != nil || s.Clusters == nil {
			b.subs[ref] = func() {} // followed through the catalog alone
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

// readExemptions reads the exemptions in force and rescores the services whose changed.
func (s *Server) readExemptions(ctx context.Context) {
	b := s.scores
	now := time.Now()
	if s.ScoreStore == nil {
		b.mu.Lock()
		b.exemptsRead = now
		b.mu.Unlock()
		return
	}
	list, err := s.ScoreStore.ActiveExemptions(ctx, now)
	if err != nil {
		s.Log.Warn("scorecards: exemptions not read", "err", err)
		return
	}
	snap := b.snapshot()
	if snap == nil {
		return // nothing to exempt yet: read again once the catalog is followed
	}
	fresh := map[catalog.Ref]map[string]string{}
	var next time.Time
	for _, x := range list {
		parsed, err := catalog.ParseRef(x.Entity, "", "")
		if err != nil {
			continue
		}
		rec, ok := snap.Get(parsed) // the catalog's own spelling of the reference, as the board keys it
		if !ok {
			continue
		}
		ref := rec.Entity.Ref()
		if fresh[ref] == nil {
			fresh[ref] = map[string]string{}
		}
		fresh[ref][x.Check] = fmt.Sprintf("%s (by %s, until %s)", x.Reason, x.GrantedBy, x.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
		if next.IsZero() || x.ExpiresAt.Before(next) {
			next = x.ExpiresAt
		}
	}
	b.mu.Lock()
	for ref := range b.subs {
		if !maps.Equal(fresh[ref], b.exempt[ref]) {
			b.dirty[ref] = true
		}
	}
	b.exempt, b.nextExpiry, b.exemptsRead = fresh, next, now
	b.mu.Unlock()
}

// exemptions are the service's exemptions in force.
func (b *scoreboard) exemptions(ref catalog.Ref) map[string]string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return maps.Clone(b.exempt[ref])
}

// followRules reads the alert rules every minute; a change rescores every service.
func (s *Server) followRules(ctx context.Context) {
	if s.AlertRules == nil {
		return
	}
	b := s.scores
	for {
		// Every minute; every 5 s while Prometheus does not answer or has no rules yet (it
		// may be starting), so a fresh start does not grade "no alert rules" for a minute.
		next := time.Minute
		rules, err := s.AlertRules.Rules(ctx)
		if err != nil || len(rules) == 0 {
			next = 5 * time.Second
		}
		if err == nil {
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
		case <-time.After(next):
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
	b.mu.Unlock()
	s.rescoreRefs(dirty)
}

// rescoreNow recomputes one service at once, for a change made through Portico (an
// exemption): the page the user is sent back to shows it.
func (s *Server) rescoreNow(ref catalog.Ref) {
	s.rescoreRefs(map[catalog.Ref]bool{ref: true})
}

func (s *Server) rescoreRefs(dirty map[catalog.Ref]bool) {
	b := s.scores
	b.mu.RLock()
	snap, rules := b.snap, b.rules
	b.mu.RUnlock()
	if snap == nil {
		return
	}
	now := time.Now()
	// A service's card is independent of the others': score them on every core.
	refs := slices.Collect(maps.Keys(dirty))
	cards := make([]scored, len(refs))
	found := make([]bool, len(refs))
	workers := min(runtime.GOMAXPROCS(0), len(refs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(refs); i += workers {
				if r, ok := snap.Get(refs[i]); ok {
					cards[i], found[i] = s.score(context.Background(), snap, r, rules, now), true
				}
			}
		}()
	}
	wg.Wait()
	fresh := make(map[catalog.Ref]scored, len(refs))
	for i, ref := range refs {
		if found[i] {
			fresh[ref] = cards[i]
		}
	}
	b.mu.Lock()
	for ref, c := range fresh {
		b.cards[ref] = c
	}
	b.version++
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// score computes one service's card.
func (s *Server) score(ctx context.Context, snap *catalog.Snapshot, rec *catalog.Record, rules []alerts.Rule, now time.Time) scored {
	f := s.scoreFacts(ctx, snap, rec, rules)
	return scored{Card: s.Scorecards.Evaluate(f), At: now, Workloads: scorecard.WorkloadsOf(f.Workloads)}
}

// scoreFacts gathers what the checks read about one service: from the cluster caches, the
// catalog, the alert rules read last and the CI reports in the database.
func (s *Server) scoreFacts(ctx context.Context, snap *catalog.Snapshot, rec *catalog.Record, rules []alerts.Rule) scorecard.Facts {
	e := rec.Entity
	f := scorecard.Facts{Entity: entityJSON(e), Exempt: s.scores.exemptions(e.Ref())}
	f.Production = e.SpecString("lifecycle") == "production"
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
	objs := s.Clusters.Objects(q, s.Scorecards.Needs("pods", s.Clusters.CustomResources()))
	for _, env := range objs.Environments {
		f.Production = f.Production || s.actions.ProductionEnvironment(env)
	}
	// CI and delivery figures come from the database: shared for a minute, not read again on
	// every pod event, and keyed by the images running, so a deploy is judged at once.
	var images []string
	for _, w := range scorecard.WorkloadsOf(objs.Workloads) {
		images = append(images, w.Images...)
	}
	slices.Sort(images)
	images = slices.Compact(images)
	key := "pipeline|" + e.Ref().Key() + "|" + strings.Join(images, ",")
	f.Pipeline = s.ciFacts.get(key, ciFactsTTL, func() map[string]any { return s.pipelineFacts(ctx, e, images) })
	f.Delivery = s.ciFacts.get("delivery|"+e.Ref().Key(), ciFactsTTL, func() map[string]any { return s.deliveryFacts(ctx, e) })
	f.CRDs, f.Reports = objs.CustomResources, objs.Reports
	return scorecard.Assemble(f, scorecard.Objects{Workloads: objs.Workloads, Pods: objs.Pods, Others: objs.Others})
}

// ciFactsTTL is how long a service's CI and delivery facts are shared.
const ciFactsTTL = time.Minute

// deliveryFacts are the service's delivery metrics over the last twelve weeks.
func (s *Server) deliveryFacts(ctx context.Context, e *catalog.Entity) map[string]any {
	if s.Pipelines == nil || s.Audit == nil {
		return map[string]any{}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	changes, err := s.doraChanges(ctx, []*catalog.Entity{e})
	if err != nil {
		return map[string]any{}
	}
	sum := dora.Compute(changes, time.Now(), doraWeeks, doraWindow)
	return map[string]any{"deploys": int64(sum.Deploys), "deploysPerWeek": sum.PerWeek, "leadTimeHours": sum.LeadTime.Hours(),
		"changeFailureRate": sum.FailureRate, "restoreHours": sum.Restore.Hours()}
}

// pipelineFacts says whether CI reports reach Portico for the service and, for each image it
// runs, whether a reported run built it and passed a security scan.
func (s *Server) pipelineFacts(ctx context.Context, e *catalog.Entity, images []string) map[string]any {
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
	builds, err := s.Pipelines.BuildsOf(ctx, projects, images)
	if err != nil {
		return map[string]any{"reported": false, "images": []any{}}
	}
	out := make([]any, 0, len(images))
	for _, img := range images {
		b, built := builds[img]
		out = append(out, map[string]any{"image": img, "built": built, "scanPassed": built && b.ScanPassed, "signed": built && b.Signed, "run": b.RunID})
	}
	return map[string]any{"reported": true, "images": out}
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

// saveSnapshot writes today's snapshot of every card, once the scoreboard holds them all.
func (s *Server) saveSnapshot(ctx context.Context) {
	if s.ScoreStore == nil || !s.Leading() { // one replica keeps the history
		return
	}
	b := s.scores
	b.mu.RLock()
	complete := b.snap != nil && len(b.dirty) == 0 && len(b.cards) == len(b.subs)
	snap := b.snap
	cards := maps.Clone(b.cards)
	b.mu.RUnlock()
	if !complete {
		return
	}
	day := time.Now().UTC().Format(time.DateOnly)
	rows := make([]store.Snapshot, 0, len(cards))
	for ref, c := range cards {
		row := store.Snapshot{Day: day, Entity: ref.String(), Level: c.Card.Level, Score: c.Card.Score, Statuses: map[string]string{}}
		if rec, ok := snap.Get(ref); ok {
			if o := ownerOf(rec.Entity); o.Name != "" {
				row.Owner = o.String()
			}
		}
		for _, r := range c.Card.Results {
			row.Statuses[r.Check] = string(r.Status)
		}
		rows = append(rows, row)
	}
	if err := s.ScoreStore.SaveSnapshots(ctx, day, rows); err != nil {
		s.Log.Warn("scorecards: snapshot not saved", "err", err)
		return
	}
	b.mu.Lock()
	b.snapshotAt = time.Now()
	b.mu.Unlock()
}

// ScoredServices is how many services have a card on the scoreboard (for the benchmark).
func (s *Server) ScoredServices() int {
	s.scores.mu.RLock()
	defer s.scores.mu.RUnlock()
	return len(s.scores.cards)
}
