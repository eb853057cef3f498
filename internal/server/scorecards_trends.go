package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/web/components"
)

// trendDays is how far back the trends look.
const trendDays = 90

// visibleSnapshots are the snapshots since day of the services the user may view (as the
// catalog is now), narrowed to a team when owner is set.
func (s *Server) visibleSnapshots(c echo.Context, since, owner string) ([]store.Snapshot, error) {
	if s.ScoreStore == nil {
		return nil, nil
	}
	rows, err := s.ScoreStore.Snapshots(c.Request().Context(), since, owner)
	if err != nil {
		return nil, err
	}
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	out := rows[:0]
	for _, r := range rows {
		ref, err := catalog.ParseRef(r.Entity, "", "")
		if err != nil {
			continue
		}
		if rec, ok := snap.Get(ref); ok && sc.Record(rec) {
			out = append(out, r)
		}
	}
	return out, nil
}

func day(d string) time.Time {
	t, _ := time.Parse(time.DateOnly, d)
	return t
}

// trendChart is the mean score per day and, for a check, the share of services passing it.
func trendChart(rows []store.Snapshot, check, title string) *components.Chart {
	if len(rows) == 0 {
		return nil
	}
	type agg struct{ total, n, pass, applicable int }
	byDay := map[string]*agg{}
	var days []string
	for _, r := range rows {
		a := byDay[r.Day]
		if a == nil {
			a = &agg{}
			byDay[r.Day] = a
			days = append(days, r.Day)
		}
		a.total += r.Score
		a.n++
		if check != "" {
			switch scorecard.Status(r.Statuses[check]) {
			case scorecard.Pass, scorecard.Exempt:
				a.pass++
				a.applicable++
			case scorecard.Fail, scorecard.Error:
				a.applicable++
			}
		}
	}
	sort.Strings(days)
	score := chart.Series{Name: "mean score"}
	passing := chart.Series{Name: "passing " + check}
	for _, d := range days {
		a := byDay[d]
		score.Points = append(score.Points, chart.Point{T: day(d), V: float64(a.total) / float64(a.n) / 100})
		if a.applicable > 0 {
			passing.Points = append(passing.Points, chart.Point{T: day(d), V: float64(a.pass) / float64(a.applicable)})
		}
	}
	series := []chart.Series{score}
	if check != "" {
		series = append(series, passing)
	}
	end := day(days[len(days)-1]).Add(24 * time.Hour)
	start := day(days[0])
	if week := end.Add(-7 * 24 * time.Hour); week.Before(start) {
		start = week
	}
	c := chart.Layout(chart.Input{Title: title, Unit: "ratio", Start: start, End: end, Step: 24 * time.Hour, Series: series})
	return &c
}

// initiativeProgress is how many in-scope services meet an initiative now.
func initiativeProgress(in scorecard.Initiative, levels []string, lines []*scoreLine) (meeting int, remaining []*scoreLine) {
	for _, l := range lines {
		if !inScope(in.Scope, l) {
			continue
		}
		if in.Meets(levels, l.card.Card) {
			meeting++
		} else {
			remaining = append(remaining, l)
		}
	}
	return meeting, remaining
}

func inScope(sc scorecard.Scope, l *scoreLine) bool {
	return (sc.Team == "" || l.owner.String() == sc.Team) && (sc.System == "" || l.system.String() == sc.System) &&
		(sc.Lifecycle == "" || l.lifecycle == sc.Lifecycle)
}

func scopeWords(sc scorecard.Scope) string {
	var parts []string
	if sc.Team != "" {
		parts = append(parts, "team "+strings.TrimPrefix(sc.Team, "group:default/"))
	}
	if sc.System != "" {
		parts = append(parts, "system "+strings.TrimPrefix(sc.System, "system:default/"))
	}
	if sc.Lifecycle != "" {
		parts = append(parts, sc.Lifecycle+" services")
	}
	if len(parts) == 0 {
		return "every service"
	}
	return strings.Join(parts, ", ")
}

// initiativeRows are the initiatives with their progress now.
func (s *Server) initiativeRows(lines []*scoreLine) []components.InitiativeRow {
	var out []components.InitiativeRow
	now := time.Now().UTC()
	for _, in := range s.Scorecards.Initiatives() {
		meeting, remaining := initiativeProgress(in, s.Scorecards.Levels(), lines)
		total := meeting + len(remaining)
		row := components.InitiativeRow{Link: components.Link{Label: in.Title, Href: "/scorecards/initiatives/" + in.ID}, Due: in.Due,
			Meeting: meeting, Total: total, Scope: scopeWords(in.Scope), Overdue: now.After(day(in.Due).Add(24*time.Hour)) && len(remaining) > 0}
		if total > 0 {
			row.Percent = meeting * 100 / total
		}
		out = append(out, row)
	}
	return out
}

// handleInitiative is one initiative: its progress, burn-up and the services still to fix.
func (s *Server) handleInitiative(c echo.Context) error {
	var in scorecard.Initiative
	for _, x := range s.Scorecards.Initiatives() {
		if x.ID == c.Param("id") {
			in = x
		}
	}
	if in.ID == "" {
		return fmt.Errorf("%w: There is no initiative %q", derrors.NotFound, c.Param("id"))
	}
	all, _ := s.scoreLines(c, scorecardsQuery{})
	levels := s.Scorecards.Levels()
	meeting, remaining := initiativeProgress(in, levels, all)
	vm := components.InitiativePage{Title: in.Title, Description: in.Description, Due: in.Due, Scope: scopeWords(in.Scope),
		Meeting: meeting, Total: meeting + len(remaining), Level: in.Level}
	if vm.Total > 0 {
		vm.Percent = meeting * 100 / vm.Total
	}
	title := func(id string) string { ch, _ := s.Scorecards.Check(id); return ch.Title }
	for _, id := range in.Checks {
		vm.Checks = append(vm.Checks, title(id))
	}
	for _, l := range remaining {
		r := components.InitiativeService{Entity: components.Link{Label: l.rec.Entity.DisplayName(), Href: entityHref(l.rec.Entity.Ref())}, Level: l.card.Card.Level}
		for _, res := range l.failing {
			if len(in.Checks) == 0 || slices.Contains(in.Checks, res.Check) {
				r.Failing = append(r.Failing, title(res.Check))
			}
		}
		vm.Remaining = append(vm.Remaining, r)
	}
	start := in.Start
	if start == "" {
		start = day(in.Due).AddDate(0, 0, -trendDays).Format(time.DateOnly)
	}
	rows, err := s.visibleSnapshots(c, start, in.Scope.Team)
	if err != nil {
		return err
	}
	vm.BurnUp = burnUp(in, levels, rows, all, start)
	return s.page(c, http.StatusOK, components.Page{Title: in.Title, Nav: "scorecards"}, components.InitiativeView(vm))
}

// burnUp charts, per day from start to due, the in-scope services meeting the initiative
// and how many are in scope.
func burnUp(in scorecard.Initiative, levels []string, rows []store.Snapshot, lines []*scoreLine, start string) *components.Chart {
	byRef := map[string]*scoreLine{}
	for _, l := range lines {
		byRef[l.rec.Entity.Ref().String()] = l
	}
	type agg struct{ meeting, total int }
	byDay := map[string]*agg{}
	var days []string
	for _, r := range rows {
		l, ok := byRef[r.Entity]
		if !ok || !inScope(in.Scope, l) {
			continue
		}
		a := byDay[r.Day]
		if a == nil {
			a = &agg{}
			byDay[r.Day] = a
			days = append(days, r.Day)
		}
		a.total++
		if in.MeetsStatuses(levels, r.Level, r.Statuses) {
			a.meeting++
		}
	}
	// Today's point is the live one: fixes show at once, not at the next snapshot.
	today := time.Now().UTC().Format(time.DateOnly)
	live := &agg{}
	for _, l := range lines {
		if inScope(in.Scope, l) {
			live.total++
			if in.Meets(levels, l.card.Card) {
				live.meeting++
			}
		}
	}
	if byDay[today] == nil {
		days = append(days, today)
	}
	byDay[today] = live
	sort.Strings(days)
	meeting, total := chart.Series{Name: "meeting it"}, chart.Series{Name: "in scope"}
	for _, d := range days {
		meeting.Points = append(meeting.Points, chart.Point{T: day(d), V: float64(byDay[d].meeting)})
		total.Points = append(total.Points, chart.Point{T: day(d), V: float64(byDay[d].total)})
	}
	due := day(in.Due).Add(24 * time.Hour)
	c := chart.Layout(chart.Input{Title: "Burn-up", Unit: "count", Start: day(start), End: due, Step: 24 * time.Hour,
		Series: []chart.Series{meeting, total}, Markers: []chart.Marker{{T: due.Add(-time.Hour), Label: "due " + in.Due, Class: "onset"}}})
	return &c
}

// trendFor is the scorecards page's trend: the company's, or the filtered team's.
func (s *Server) trendFor(ctx context.Context, c echo.Context, q scorecardsQuery) *components.Chart {
	since := time.Now().UTC().AddDate(0, 0, -trendDays).Format(time.DateOnly)
	rows, err := s.visibleSnapshots(c, since, q.Team)
	if err != nil {
		s.Log.Warn("scorecards: trend not read", "err", err)
		return nil
	}
	title := "Score over time"
	if q.Team != "" {
		title += " — " + strings.TrimPrefix(q.Team, "group:default/")
	}
	return trendChart(rows, q.Check, title)
}
