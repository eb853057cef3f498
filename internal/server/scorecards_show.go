package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/web/components"
)

// cardOf is a service's scorecard: the scoreboard's when it follows this catalog, else
// computed now (the scoreboard is not running, or has not caught up with a refresh).
func (s *Server) cardOf(ctx context.Context, snap *catalog.Snapshot, rec *catalog.Record) scored {
	if c, ok := s.scores.card(rec.Entity.Ref()); ok && s.scores.snapshot() == snap {
		return c
	}
	s.scores.mu.RLock()
	rules := s.scores.rules
	s.scores.mu.RUnlock()
	return scored{Card: s.Scorecards.Evaluate(s.scoreFacts(ctx, snap, rec, rules)), At: time.Now()}
}

// scoredRecords are the services the user may view, each with its card.
func (s *Server) scoredRecords(c echo.Context, snap *catalog.Snapshot) ([]*catalog.Record, map[catalog.Ref]scored) {
	sc := s.scope(c, snap)
	board := s.scores.all()
	current := s.scores.snapshot() == snap
	var recs []*catalog.Record
	cards := map[catalog.Ref]scored{}
	for _, r := range snap.Records() {
		if !scoredEntity(r.Entity) || !sc.Record(r) {
			continue
		}
		recs = append(recs, r)
		if card, ok := board[r.Entity.Ref()]; ok && current {
			cards[r.Entity.Ref()] = card
		} else {
			cards[r.Entity.Ref()] = s.cardOf(c.Request().Context(), snap, r)
		}
	}
	return recs, cards
}

func (s *Server) checkResult(c scorecard.Check, r scorecard.Result, w *scorecard.Workload) components.CheckResult {
	out := components.CheckResult{ID: c.ID, Title: c.Title, Level: c.Level, Category: c.Category, Rationale: c.Rationale, Fix: c.Fix,
		Status: string(r.Status), Failing: r.Failing, Message: r.Message, Snippet: r.Snippet, SnippetKind: c.SnippetKind}
	if r.Snippet != "" {
		out.Command = fixCommand(c.SnippetKind, w)
	}
	return out
}

// fixCommand says how to apply a snippet saved as fix.yaml.
func fixCommand(kind string, w *scorecard.Workload) string {
	switch kind {
	case "patch":
		if w != nil {
			return fmt.Sprintf("kubectl -n %s patch %s %s --type strategic --patch-file fix.yaml", w.Namespace, strings.ToLower(w.Kind), w.Name)
		}
		return "kubectl patch <workload> --type strategic --patch-file fix.yaml"
	case "apply":
		return "kubectl apply -f fix.yaml"
	case "catalog":
		return "merge into catalog-info.yaml"
	}
	return ""
}

// handleScorecardPanel is a service's scorecard on its page.
func (s *Server) handleScorecardPanel(c echo.Context) error {
	snap, rec, err := s.observedEntity(c, "scorecards")
	if err != nil {
		return err
	}
	card := s.cardOf(c.Request().Context(), snap, rec)
	base := entityHref(rec.Entity.Ref()) + "/scorecard"
	vm := components.ScorecardPanel{Level: card.Card.Level, Score: card.Card.Score, Refresh: base, Events: base + "/events",
		Updated: card.At.UTC().Format("15:04:05 UTC"), AllHref: "/scorecards"}
	if owner := ownerOf(rec.Entity); owner.Name != "" {
		vm.AllHref = "/scorecards?team=" + url.QueryEscape(owner.String())
	}
	reached := true
	for _, l := range s.Scorecards.Levels() {
		reached = reached && levelAtLeast(s.Scorecards.Levels(), card.Card.Level, l)
		vm.Ladder = append(vm.Ladder, components.LevelStep{Name: l, Reached: reached})
	}
	checks := checksByID(s.Scorecards)
	w := firstWorkload(s.scoreWorkloads(rec))
	for _, r := range card.Card.Results {
		cr := s.checkResult(checks[r.Check], r, w)
		switch r.Status {
		case scorecard.Fail, scorecard.Error:
			vm.Failing = append(vm.Failing, cr)
		case scorecard.Exempt:
			vm.Exempt = append(vm.Exempt, cr)
		case scorecard.Pass:
			vm.Passing = append(vm.Passing, cr)
		default:
			vm.NA = append(vm.NA, cr)
		}
	}
	return render(c, http.StatusOK, components.ScorecardView(vm))
}

// handleScorecardEvents tells an open page when the service's card changes.
func (s *Server) handleScorecardEvents(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "scorecards")
	if err != nil {
		return err
	}
	ref := rec.Entity.Ref()
	changed := make(chan struct{}, 1)
	ctx := c.Request().Context()
	go func() {
		last, _ := s.scores.card(ref)
		for {
			wait := s.scores.changes()
			select {
			case <-ctx.Done():
				return
			case <-wait:
			}
			if now, ok := s.scores.card(ref); ok && !now.At.Equal(last.At) && !sameCard(now.Card, last.Card) {
				last = now
				select {
				case changed <- struct{}{}:
				default:
				}
			} else if ok {
				last = now
			}
		}
	}()
	return streamChanges(c, changed)
}

// sameCard says whether two cards show the same.
func sameCard(a, b scorecard.Card) bool {
	if a.Level != b.Level || a.Score != b.Score || len(a.Results) != len(b.Results) {
		return false
	}
	for i := range a.Results {
		x, y := a.Results[i], b.Results[i]
		if x.Check != y.Check || x.Status != y.Status || strings.Join(x.Failing, "\n") != strings.Join(y.Failing, "\n") {
			return false
		}
	}
	return true
}

// levelAtLeast says whether level reaches want on the ladder.
func levelAtLeast(ladder []string, level, want string) bool {
	li, wi := -1, -1
	for i, l := range ladder {
		if l == level {
			li = i
		}
		if l == want {
			wi = i
		}
	}
	return li >= 0 && li >= wi
}

func checksByID(set *scorecard.Set) map[string]scorecard.Check {
	out := map[string]scorecard.Check{}
	for _, c := range set.Checks() {
		out[c.ID] = c
	}
	return out
}

// ownerOf is the entity's owner as a reference.
func ownerOf(e *catalog.Entity) catalog.Ref {
	for _, rel := range e.Relations {
		if rel.Type == catalog.RelOwnedBy {
			return rel.Target
		}
	}
	return catalog.Ref{}
}

// scoreWorkloads are the service's workloads as the snippets name them.
func (s *Server) scoreWorkloads(rec *catalog.Record) []scorecard.Workload {
	if s.Clusters == nil {
		return nil
	}
	q, mapped, err := cluster.QueryFor(rec.Entity.Metadata.Annotations)
	if !mapped || err != nil {
		return nil
	}
	return scorecard.WorkloadsOf(s.Clusters.Objects(q).Workloads)
}

func firstWorkload(ws []scorecard.Workload) *scorecard.Workload {
	if len(ws) == 0 {
		return nil
	}
	return &ws[0]
}

// scorecardsQuery is the scorecards page's filters.
type scorecardsQuery struct {
	Team, System, Lifecycle, Level, Check string
	Page                                  int
}

// scorecardRows is how many services one page of the matrix shows.
const scorecardRows = 50

func (q scorecardsQuery) with(key, value string) string {
	v := url.Values{}
	page := "" // a filter's change goes back to the first page
	if key == "page" && value != "1" {
		page = value
	}
	for k, x := range map[string]string{"team": q.Team, "system": q.System, "lifecycle": q.Lifecycle, "level": q.Level, "check": q.Check, "page": page} {
		if k == key {
			x = value
		}
		if x != "" {
			v.Set(k, x)
		}
	}
	if len(v) == 0 {
		return "/scorecards"
	}
	return "/scorecards?" + v.Encode()
}

// scoreLine is a service with its card and what the page groups it by.
type scoreLine struct {
	rec          *catalog.Record
	card         scored
	owner        catalog.Ref
	system       catalog.Ref
	lifecycle    string
	production   bool
	failingCheck map[string]scorecard.Result
}

// scoreLines are the services the user may view and the filters select.
func (s *Server) scoreLines(c echo.Context, q scorecardsQuery) ([]scoreLine, []scoreLine) {
	snap := s.Catalog.Snapshot()
	recs, cards := s.scoredRecords(c, snap)
	var all, shown []scoreLine
	for _, r := range recs {
		l := scoreLine{rec: r, card: cards[r.Entity.Ref()], owner: ownerOf(r.Entity), failingCheck: map[string]scorecard.Result{}}
		l.lifecycle, _ = r.Entity.Spec["lifecycle"].(string)
		l.production = l.lifecycle == "production"
		for _, rel := range r.Entity.Relations {
			if rel.Type == catalog.RelPartOf && strings.EqualFold(rel.Target.Kind, catalog.KindSystem) {
				l.system = rel.Target
			}
		}
		for _, res := range l.card.Card.Results {
			if res.Status == scorecard.Fail || res.Status == scorecard.Error {
				l.failingCheck[res.Check] = res
			}
		}
		all = append(all, l)
		level := orDefault(l.card.Card.Level, "none")
		if (q.Team != "" && l.owner.String() != q.Team) || (q.System != "" && l.system.String() != q.System) ||
			(q.Lifecycle != "" && l.lifecycle != q.Lifecycle) || (q.Level != "" && level != q.Level) {
			continue
		}
		if q.Check != "" {
			if _, failing := l.failingCheck[q.Check]; !failing {
				continue
			}
		}
		shown = append(shown, l)
	}
	sort.Slice(shown, func(i, j int) bool {
		if shown[i].card.Card.Score != shown[j].card.Card.Score {
			return shown[i].card.Card.Score < shown[j].card.Card.Score
		}
		return shown[i].rec.Entity.Ref().String() < shown[j].rec.Entity.Ref().String()
	})
	return all, shown
}

// summary rolls cards up: the mean score and how many services stand at each level.
func summary(name components.Link, lines []scoreLine, levels []string) components.ScoreSummary {
	sum := components.ScoreSummary{Name: name, Services: len(lines)}
	counts := map[string]int{}
	total := 0
	for _, l := range lines {
		total += l.card.Card.Score
		counts[orDefault(l.card.Card.Level, "none")]++
	}
	if len(lines) > 0 {
		sum.Score = total / len(lines)
	}
	for _, lv := range append([]string{"none"}, levels...) {
		sum.ByLevel = append(sum.ByLevel, components.LevelCount{Level: lv, Count: counts[lv]})
	}
	return sum
}

// handleScorecardsPage is the matrix of services × checks, the rollups and "fix first".
func (s *Server) handleScorecardsPage(c echo.Context) error {
	q := scorecardsQuery{Team: c.QueryParam("team"), System: c.QueryParam("system"), Lifecycle: c.QueryParam("lifecycle"),
		Level: c.QueryParam("level"), Check: c.QueryParam("check"), Page: 1}
	if p := c.QueryParam("page"); p != "" {
		if _, err := fmt.Sscan(p, &q.Page); err != nil || q.Page < 1 {
			return fmt.Errorf("%w: page must be a positive number", derrors.Invalid)
		}
	}
	all, shown := s.scoreLines(c, q)
	levels := s.Scorecards.Levels()
	checks := s.Scorecards.Checks()
	vm := components.ScorecardsPage{Levels: levels, Company: summary(components.Link{Label: "Whole company"}, all, levels), Shown: len(shown),
		APIHref: "/api/v1/scorecards", Updated: time.Now().UTC().Format("15:04:05 UTC")}
	if len(all) == 0 {
		vm.Empty = "No service to grade: the catalog has no component you may view."
	} else if len(shown) == 0 {
		vm.Empty = "No service matches these filters."
	}
	byTeam := map[catalog.Ref][]scoreLine{}
	for _, l := range all {
		byTeam[l.owner] = append(byTeam[l.owner], l)
	}
	for team, lines := range byTeam {
		name := components.Link{Label: "no owner"}
		if team.Name != "" {
			name = components.Link{Label: team.Name, Href: q.with("team", team.String())}
		}
		vm.Teams = append(vm.Teams, summary(name, lines, levels))
	}
	sort.Slice(vm.Teams, func(i, j int) bool { return vm.Teams[i].Name.Label < vm.Teams[j].Name.Label })
	for _, ch := range checks {
		head := components.CheckHead{ID: ch.ID, Title: ch.Title, Level: ch.Level}
		fix := components.FixItem{Check: head, Fix: ch.Fix}
		for _, l := range shown {
			res, failing := l.failingCheck[ch.ID]
			if !failing {
				continue
			}
			head.Failing++
			if l.production {
				fix.Production++
			}
			fs := components.FixService{Entity: refLink(l.rec.Entity.Ref()), Failing: res.Failing, Snippet: res.Snippet, SnippetKind: ch.SnippetKind}
			if res.Snippet != "" {
				fs.Command = fixCommand(ch.SnippetKind, firstWorkload(s.scoreWorkloads(l.rec)))
			}
			fix.Services = append(fix.Services, fs)
		}
		vm.Checks = append(vm.Checks, head)
		if head.Failing > 0 {
			fix.Check = head
			vm.FixFirst = append(vm.FixFirst, fix)
		}
	}
	sort.SliceStable(vm.FixFirst, func(i, j int) bool {
		a, b := vm.FixFirst[i], vm.FixFirst[j]
		if a.Production != b.Production {
			return a.Production > b.Production
		}
		return a.Check.Failing > b.Check.Failing
	})
	pages := max(1, (len(shown)+scorecardRows-1)/scorecardRows)
	if q.Page > pages {
		q.Page = pages
	}
	if pages > 1 {
		for i := 1; i <= pages; i++ {
			vm.Pager = append(vm.Pager, components.RangeLink{Label: fmt.Sprint(i), Href: q.with("page", fmt.Sprint(i)), Active: i == q.Page})
		}
	}
	for _, l := range shown[min((q.Page-1)*scorecardRows, len(shown)):min(q.Page*scorecardRows, len(shown))] {
		row := components.ScoreRow{Entity: refLink(l.rec.Entity.Ref()), Level: l.card.Card.Level, Score: l.card.Card.Score}
		row.Entity.Label = orDefault(l.rec.Entity.Metadata.Title, l.rec.Entity.Metadata.Name)
		if l.owner.Name != "" {
			row.Owner = refLink(l.owner)
		}
		for _, res := range l.card.Card.Results {
			title := res.Check + ": " + string(res.Status)
			if len(res.Failing) > 0 {
				title += " — " + strings.Join(res.Failing, "; ")
			}
			row.Cells = append(row.Cells, components.ScoreCell{Status: string(res.Status), Title: title})
		}
		vm.Rows = append(vm.Rows, row)
	}
	vm.Filters = s.scoreFilters(q, all, levels)
	return s.page(c, http.StatusOK, components.Page{Title: "Scorecards", Nav: "scorecards"}, components.ScorecardsView(vm))
}

// scoreFilters are the page's choices: team, system, lifecycle and level.
func (s *Server) scoreFilters(q scorecardsQuery, all []scoreLine, levels []string) []components.ScoreFilter {
	teams, systems, lifecycles := map[string]string{}, map[string]string{}, map[string]string{}
	for _, l := range all {
		if l.owner.Name != "" {
			teams[l.owner.String()] = l.owner.Name
		}
		if l.system.Name != "" {
			systems[l.system.String()] = l.system.Name
		}
		if l.lifecycle != "" {
			lifecycles[l.lifecycle] = l.lifecycle
		}
	}
	lv := map[string]string{"none": "none"}
	for _, l := range levels {
		lv[l] = l
	}
	filter := func(name, key, current string, values map[string]string) components.ScoreFilter {
		f := components.ScoreFilter{Name: name, Choices: []components.RangeLink{{Label: "all", Href: q.with(key, ""), Active: current == ""}}}
		keys := make([]string, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f.Choices = append(f.Choices, components.RangeLink{Label: values[k], Href: q.with(key, k), Active: current == k})
		}
		return f
	}
	return []components.ScoreFilter{filter("Team", "team", q.Team, teams), filter("System", "system", q.System, systems),
		filter("Lifecycle", "lifecycle", q.Lifecycle, lifecycles), filter("Level", "level", q.Level, lv)}
}

// apiCard is a service's scorecard in the JSON API.
type apiCard struct {
	Entity   catalog.Ref        `json:"entity"`
	Owner    *catalog.Ref       `json:"owner,omitempty"`
	Level    string             `json:"level"`
	Score    int                `json:"score"`
	Computed time.Time          `json:"computed"`
	Results  []scorecard.Result `json:"results"`
}

func toAPICard(l scoreLine) apiCard {
	a := apiCard{Entity: l.rec.Entity.Ref(), Level: l.card.Card.Level, Score: l.card.Card.Score, Computed: l.card.At.UTC(), Results: l.card.Card.Results}
	if l.owner.Name != "" {
		o := l.owner
		a.Owner = &o
	}
	return a
}

// handleAPIScorecards is every visible service's card, the rollups and the checks; ?team=
// (and the page's other filters) narrow it.
func (s *Server) handleAPIScorecards(c echo.Context) error {
	q := scorecardsQuery{Team: c.QueryParam("team"), System: c.QueryParam("system"), Lifecycle: c.QueryParam("lifecycle"),
		Level: c.QueryParam("level"), Check: c.QueryParam("check")}
	_, shown := s.scoreLines(c, q)
	levels := s.Scorecards.Levels()
	services := make([]apiCard, 0, len(shown))
	for _, l := range shown {
		services = append(services, toAPICard(l))
	}
	sum := summary(components.Link{}, shown, levels)
	byLevel := map[string]int{}
	for _, lc := range sum.ByLevel {
		byLevel[lc.Level] = lc.Count
	}
	return c.JSON(http.StatusOK, map[string]any{"levels": levels, "checks": s.Scorecards.Checks(), "services": services,
		"summary": map[string]any{"score": sum.Score, "services": sum.Services, "byLevel": byLevel}})
}

// handleAPIEntityScorecard is one service's card.
func (s *Server) handleAPIEntityScorecard(c echo.Context) error {
	snap, rec, err := s.observedEntity(c, "scorecards")
	if err != nil {
		return err
	}
	l := scoreLine{rec: rec, card: s.cardOf(c.Request().Context(), snap, rec), owner: ownerOf(rec.Entity)}
	return c.JSON(http.StatusOK, toAPICard(l))
}
