package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/delivery"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/dora"
	"github.com/portico-dev/portico/web/components"
)

// DORA settings: twelve weekly buckets; a rollback within an hour marks a deploy as failed.
const (
	doraWeeks  = 12
	doraWindow = time.Hour
)

// isProduction says whether a cluster (or a CI environment name) is production.
func (s *Server) isProduction(clusterOrEnv string) bool {
	env := clusterOrEnv
	if s.Clusters != nil {
		if cl := s.Clusters.Cluster(clusterOrEnv); cl != nil {
			env = cl.Environment
		}
	}
	return s.actions.ProductionEnvironment(env) // one rule, the write path's
}

// doraChanges gathers what reached production for entities over the weeks the metrics cover
// (see delivery.Source.Changes: one query for all of them).
func (s *Server) doraChanges(ctx context.Context, entities []*catalog.Entity) ([]dora.Change, error) {
	src := delivery.Source{Audit: s.Audit, CI: s.Pipelines, Production: s.isProduction}
	return src.Changes(ctx, entities, time.Now().Add(-doraWeeks*7*24*time.Hour-doraWindow))
}

func doraVM(title string, sum dora.Summary, now time.Time) components.DoraPanel {
	dur := func(d time.Duration) string {
		if d == 0 {
			return "—"
		}
		return fmtDuration(d.Round(time.Minute))
	}
	vm := components.DoraPanel{Title: title, Deploys: fmt.Sprint(sum.Deploys), PerWeek: fmt.Sprintf("%.1f", sum.PerWeek),
		LeadTime: dur(sum.LeadTime), Restore: dur(sum.Restore), FailureRate: "—",
		Note: "Production deploys and rollbacks made through Portico (audit log) and deployments reported by CI, over the last 12 weeks. A deploy counts as failed when it was reported failed or rolled back within an hour."}
	if !math.IsNaN(sum.FailureRate) {
		vm.FailureRate = fmt.Sprintf("%.0f%%", sum.FailureRate*100)
	}
	end := sum.Weeks[len(sum.Weeks)-1].Start.Add(7 * 24 * time.Hour)
	series := func(name string, v func(dora.Week) float64) []chart.Series {
		s := chart.Series{Name: name}
		for _, w := range sum.Weeks {
			s.Points = append(s.Points, chart.Point{T: w.Start, V: v(w)})
		}
		return []chart.Series{s}
	}
	for _, c := range []struct {
		title, unit, name string
		v                 func(dora.Week) float64
	}{
		{"Deployments per week", "count", "deploys", func(w dora.Week) float64 { return float64(w.Deploys) }},
		{"Lead time for changes", "seconds", "median", func(w dora.Week) float64 { return nanIfZero(w.LeadTime.Seconds()) }},
		{"Change failure rate", "ratio", "failed", func(w dora.Week) float64 { return w.FailureRate }},
		{"Time to restore", "seconds", "median", func(w dora.Week) float64 { return nanIfZero(w.Restore.Seconds()) }},
	} {
		vm.Charts = append(vm.Charts, chart.Layout(chart.Input{Title: c.title, Unit: c.unit, Start: sum.Weeks[0].Start, End: end,
			Step: 7 * 24 * time.Hour, Series: series(c.name, c.v)}))
	}
	return vm
}

func nanIfZero(v float64) float64 {
	if v == 0 {
		return math.NaN()
	}
	return v
}

// handleDoraPanel is a service's delivery metrics.
func (s *Server) handleDoraPanel(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	changes, err := s.doraChanges(c.Request().Context(), []*catalog.Entity{rec.Entity})
	if err != nil {
		return err
	}
	now := time.Now()
	return render(c, http.StatusOK, components.DoraView(doraVM("Delivery metrics", dora.Compute(changes, now, doraWeeks, doraWindow), now)))
}

// teamEntities are the components a team owns ("" for every component).
// teamEntities are the services of team (every team when empty) that the user may view.
func teamEntities(snap *catalog.Snapshot, sc *access.Scope, team string) []*catalog.Entity {
	var out []*catalog.Entity
	for _, r := range snap.Records() {
		if !observes(r.Entity) || !sc.Record(r) {
			continue
		}
		if team != "" && access.Target(snap, r.Entity, "", "", "").Owner != team {
			continue
		}
		out = append(out, r.Entity)
	}
	return out
}

// handleAPIDora is GET /api/v1/dora?team=… or ?entity=component:default/payment.
func (s *Server) handleAPIDora(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	var ents []*catalog.Entity
	if ref := c.QueryParam("entity"); ref != "" {
		r, err := catalog.ParseRef(ref, catalog.KindComponent, "default")
		if err != nil {
			return fmt.Errorf("%w: Entity: %v", derrors.Invalid, err)
		}
		rec, ok := snap.Get(r)
		if !ok || !sc.Record(rec) {
			return fmt.Errorf("%w: No entity %s that you may view: it does not exist, or your roles do not let you see it", derrors.NotFound, ref)
		}
		ents = []*catalog.Entity{rec.Entity}
	} else {
		ents = teamEntities(snap, sc, strings.TrimPrefix(c.QueryParam("team"), "group:"))
	}
	changes, err := s.doraChanges(c.Request().Context(), ents)
	if err != nil {
		return err
	}
	sum := dora.Compute(changes, time.Now(), doraWeeks, doraWindow)
	out := api.Delivery{Deploys: sum.Deploys, DeploysPerWeek: sum.PerWeek, LeadTimeSeconds: sum.LeadTime.Seconds(),
		TimeToRestoreSeconds: sum.Restore.Seconds(), Failures: sum.Failures, Weeks: []api.Week{}}
	if !math.IsNaN(sum.FailureRate) {
		fr := sum.FailureRate
		out.ChangeFailureRate = &fr
	}
	for _, w := range sum.Weeks {
		x := api.Week{Start: w.Start, Deploys: w.Deploys, Failures: w.Failures, LeadTimeSeconds: w.LeadTime.Seconds(), TimeToRestoreSeconds: w.Restore.Seconds()}
		if !math.IsNaN(w.FailureRate) {
			fr := w.FailureRate
			x.FailureRate = &fr
		}
		out.Weeks = append(out.Weeks, x)
	}
	return c.JSON(http.StatusOK, out)
}
