package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/triage"
	"github.com/portico-dev/portico/web/components"
)

// fireParallel bounds how many incidents are triaged at once for the page.
const fireParallel = 4

func (s *Server) handleFireList(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	vm := s.onFire(c.Request().Context(), snap, s.scope(c, snap))
	return s.page(c, http.StatusOK, components.Page{Title: "On fire", Nav: "fire"}, components.OnFireView(vm))
}

// incident is one service that is degraded or alerting.
type incident struct {
	rec    *catalog.Record
	health cluster.Level
	alerts []alerts.Alert
	top    *triage.Suspect
	onset  *time.Time
}

// incidents is what is on fire now: every visible service that is degraded or has a firing
// alert, triaged (sharing the triage page's cache), worst first, with a service whose
// likeliest cause is another incident's service folded into that incident (affects).
type incidents struct {
	lead     []*incident
	affects  map[*incident][]*incident
	services int
	missing  []string
}

// fireTTL is how long one view of what is on fire is shared by everyone who may see the same.
const fireTTL = 2 * time.Second

func (s *Server) incidents(ctx context.Context, snap *catalog.Snapshot, sc *access.Scope) incidents {
	return s.fires.get(fmt.Sprintf("%p|%s", snap, sc.Key()), fireTTL, func() incidents {
		return s.findIncidents(context.WithoutCancel(ctx), snap, sc)
	})
}

func (s *Server) findIncidents(ctx context.Context, snap *catalog.Snapshot, sc *access.Scope) incidents {
	var all alerts.Result
	if s.Alerts != nil {
		all = s.Alerts.All(ctx)
	}
	out := incidents{affects: map[*incident][]*incident{}, missing: all.Errors}
	firing := firingOf(all.Alerts)
	var incs []*incident
	for _, r := range snap.Records() {
		if !observes(r.Entity) || !sc.Record(r) {
			continue
		}
		out.services++
		inc := &incident{rec: r}
		inc.health = s.healthNow(r.Entity).Level
		if len(firing) > 0 {
			inc.alerts = matcherOf(r.Entity).Filter(firing)
		}
		if inc.health >= cluster.Degraded || len(inc.alerts) > 0 {
			incs = append(incs, inc)
		}
	}
	sem := make(chan struct{}, fireParallel)
	var wg sync.WaitGroup
	for _, inc := range incs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t := s.triage(ctx, snap, sc, inc.rec, "")
			inc.onset = t.res.Onset
			if len(t.res.Suspects) > 0 {
				inc.top = &t.res.Suspects[0]
			}
		}()
	}
	wg.Wait()
	byRef := map[string]*incident{}
	for _, inc := range incs {
		byRef[inc.rec.Entity.Ref().String()] = inc
	}
	for _, inc := range incs {
		if inc.top != nil && inc.top.Kind == triage.KindDependency {
			if cause, ok := byRef[inc.top.Subject.Entity]; ok && cause != inc && !(cause.top != nil && cause.top.Subject.Entity == inc.rec.Entity.Ref().String()) {
				out.affects[cause] = append(out.affects[cause], inc)
				continue
			}
		}
		out.lead = append(out.lead, inc)
	}
	sort.SliceStable(out.lead, func(i, j int) bool { return worse(out.lead[i], out.lead[j]) })
	return out
}

// onFire is the on-fire page's view of the incidents.
func (s *Server) onFire(ctx context.Context, snap *catalog.Snapshot, sc *access.Scope) components.OnFire {
	in := s.incidents(ctx, snap, sc)
	vm := components.OnFire{Missing: in.missing, Services: in.services}
	for _, inc := range in.lead {
		vm.Rows = append(vm.Rows, fireRow(snap, inc, in.affects[inc]))
	}
	return vm
}

// handleAPIFire is GET /api/v1/fire: the on-fire page as data.
func (s *Server) handleAPIFire(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	in := s.incidents(c.Request().Context(), snap, s.scope(c, snap))
	items := []api.Incident{}
	for _, inc := range in.lead {
		it := api.Incident{Entity: inc.rec.Entity.Ref().String(), Health: inc.level(), Onset: inc.onset, Alerts: []string{}, Affects: []string{}}
		for _, a := range inc.alerts {
			it.Alerts = append(it.Alerts, a.Name)
		}
		if inc.top != nil {
			it.Suspect = &api.Suspect{Kind: inc.top.Kind, Entity: inc.top.Subject.Entity, Summary: inc.top.Summary, Confidence: inc.top.Confidence}
		}
		for _, a := range in.affects[inc] {
			it.Affects = append(it.Affects, a.rec.Entity.Ref().String())
		}
		items = append(items, it)
	}
	missing := in.missing
	if missing == nil {
		missing = []string{}
	}
	return c.JSON(http.StatusOK, api.Fire{Incidents: items, Services: in.services, Missing: missing})
}

// worse orders incidents: down before degraded, critical alerts before others, more
// services affected, then the oldest onset.
func worse(a, b *incident) bool {
	if a.health != b.health {
		return a.health > b.health
	}
	if sa, sb := alertRank(a.alerts), alertRank(b.alerts); sa != sb {
		return sa < sb
	}
	if a.onset != nil && b.onset != nil {
		return a.onset.Before(*b.onset)
	}
	return a.rec.Entity.Ref().String() < b.rec.Entity.Ref().String()
}

// alertRank is the most urgent of the alerts' severities (alerts.SeverityRank; none: after all).
func alertRank(as []alerts.Alert) int {
	best := 3
	for _, a := range as {
		best = min(best, alerts.SeverityRank(a.Severity))
	}
	return best
}

// firingOf are the alerts firing that nobody silenced and no louder alert inhibits.
func firingOf(as []alerts.Alert) []alerts.Alert {
	out := make([]alerts.Alert, 0, len(as))
	for _, a := range as {
		if a.State == "firing" && !a.Silenced && !a.Inhibited {
			out = append(out, a)
		}
	}
	return out
}

// healthNow is what the clusters say of the entity's health (healthy when none is configured
// or it runs nowhere they know), without building its whole runtime view.
func (s *Server) healthNow(e *catalog.Entity) cluster.Health {
	q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
	if !mapped || err != nil || s.Clusters == nil {
		return cluster.Health{Level: cluster.Healthy}
	}
	return s.Clusters.Health(q)
}

// level is the incident's health in words: an alerting service the clusters call healthy is
// degraded.
func (inc *incident) level() string {
	if inc.health < cluster.Degraded && len(inc.alerts) > 0 {
		return triage.Degraded
	}
	return inc.health.String()
}

func fireRow(snap *catalog.Snapshot, inc *incident, affected []*incident) components.FireRow {
	e := inc.rec.Entity
	row := components.FireRow{Entity: components.Link{Label: e.DisplayName(), Href: entityHref(e.Ref())}, Triage: triageHref(e.Ref()),
		Health: components.HealthBadge{Level: inc.level()}}
	for _, a := range inc.alerts {
		row.Alerts = append(row.Alerts, a.Name)
		if a.Severity != "" && row.Severity == "" {
			row.Severity = a.Severity
		}
	}
	if inc.onset != nil {
		row.Since, row.SinceISO = age(*inc.onset)+" ago", inc.onset.UTC().Format(time.RFC3339)
	}
	if inc.top != nil {
		row.TopSuspect, row.SuspectKind, row.Confidence = inc.top.Summary, inc.top.Kind, int(inc.top.Confidence*100+0.5)
	}
	for _, o := range snap.Related(e, catalog.RelOwnedBy) {
		row.Owner = components.Link{Label: o.Entity.DisplayName(), Href: entityHref(o.Entity.Ref())}
	}
	for _, a := range affected {
		row.Affects = append(row.Affects, components.Link{Label: a.rec.Entity.DisplayName(), Href: triageHref(a.rec.Entity.Ref())})
	}
	return row
}

// onCall reports whether the user's teams include a group some service pages (portico.dev/on-call).
func onCall(snap *catalog.Snapshot, teams []*catalog.Record) bool {
	if len(teams) == 0 {
		return false
	}
	mine := map[string]bool{}
	for _, t := range teams {
		mine[t.Entity.Ref().Key()] = true
	}
	for _, r := range snap.Records() {
		for _, g := range r.Entity.OnCall() {
			if mine[g.Key()] {
				return true
			}
		}
	}
	return false
}
