package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
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
	return s.score(ctx, snap, rec, rules, time.Now())
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
	r := rec.Entity.Ref()
	vm.BadgeURL = badgePrefix + url.PathEscape(strings.ToLower(r.Kind)) + "/" + url.PathEscape(r.Namespace) + "/" + url.PathEscape(r.Name)
	vm.BadgeMarkdown, vm.BadgePublic = "[![scorecard]("+s.BaseURL+vm.BadgeURL+")]("+s.BaseURL+entityHref(r)+")", s.PublicBadges
	for _, l := range s.Scorecards.Levels() {
		vm.Ladder = append(vm.Ladder, components.LevelStep{Name: l, Reached: scorecard.Reaches(s.Scorecards.Levels(), card.Card.Level, l)})
	}
	w := firstWorkload(card.Workloads)
	for _, r := range card.Card.Results {
		ch, _ := s.Scorecards.Check(r.Check)
		cr := s.checkResult(ch, r, w)
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
	if id, err := strconv.Atoi(c.QueryParam("done")); err == nil && s.Audit != nil {
		if e, err := s.Audit.Get(c.Request().Context(), id); err == nil && e.Entity == rec.Entity.Ref().String() && e.Action == string(policy.Exempt) {
			vm.Flash = doneFlash(e, false)
			vm.Flash.Title = exemptTitle(e)
		}
	}
	if s.ScoreStore != nil && s.decide(c.Request().Context(), policy.Exempt, access.Target(snap, rec.Entity, "", "", "")).Allowed {
		now := time.Now().UTC()
		vm.CanExempt, vm.ExemptPost = true, base+"/exemptions"
		vm.CSRF, _ = c.Get("csrf").(string)
		vm.UntilMin, vm.UntilMax = now.AddDate(0, 0, 1).Format(time.DateOnly), now.Add(actions.MaxExemption).Format(time.DateOnly)
		vm.UntilDefault = now.AddDate(0, 3, 0).Format(time.DateOnly)
	}
	return render(c, http.StatusOK, components.ScorecardView(vm))
}

// exemptTitle says what an exemption attempt was and how it ended.
func exemptTitle(e audit.Entry) string {
	what := "Exemption from " + e.Name
	if strings.Contains(e.Params, `"revoke":true`) {
		what = "Revoking the exemption from " + e.Name
	}
	return what + ": " + string(e.Result)
}

// exemptInput is an exemption's fields, from the form or the JSON API.
type exemptInput struct {
	Check  string    `json:"check"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
	Revoke bool      `json:"revoke"`
}

// exempt grants or revokes through the write path, then rescores the service.
func (s *Server) exempt(c echo.Context, in exemptInput, invalid error) (audit.Entry, error) {
	snap, rec, err := s.observedEntity(c, "scorecards")
	if err != nil {
		return audit.Entry{}, err
	}
	ctx := c.Request().Context()
	_, known := s.Scorecards.Check(in.Check)
	ch, _ := channel(c)
	req := actions.ExemptRequest{Channel: ch, Actor: s.actor(ctx), Entity: rec.Entity, Target: access.Target(snap, rec.Entity, "", "", ""), Check: in.Check, Known: known,
		Reason: in.Reason, Until: in.Until, Revoke: in.Revoke, RequestID: c.Response().Header().Get(echo.HeaderXRequestID), SourceIP: c.RealIP(), Invalid: invalid}
	e, err := s.exempts.Do(ctx, req)
	if e.Result == audit.Succeeded {
		s.readExemptions(ctx)
		s.rescoreNow(rec.Entity.Ref())
	}
	return e, err
}

// handleScorecardExempt is the exemption form: the outcome shows in the panel.
func (s *Server) handleScorecardExempt(c echo.Context) error {
	in := exemptInput{Check: c.FormValue("check"), Reason: c.FormValue("reason"), Revoke: c.FormValue("revoke") != ""}
	var invalid error
	if !in.Revoke {
		day, err := time.Parse(time.DateOnly, c.FormValue("until"))
		if err != nil {
			invalid = fmt.Errorf("%w: The end date must be a date (YYYY-MM-DD)", derrors.Invalid)
		}
		in.Until = day.Add(24 * time.Hour) // to the end of that day, UTC
	}
	e, err := s.exempt(c, in, invalid)
	if e.ID == 0 {
		return err // not even audited: not signed in, or the audit log is down
	}
	_, rec, _ := scopedEntity(c)
	return c.Redirect(http.StatusSeeOther, entityHref(rec.Entity.Ref())+"?done="+strconv.Itoa(e.ID)+"#scorecard")
}

// handleAPIScorecardExempt is POST /api/v1/entities/…/scorecard/exemptions.
func (s *Server) handleAPIScorecardExempt(c echo.Context) error {
	var in exemptInput
	var invalid error
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		invalid = fmt.Errorf("%w: The body must be a JSON object with check, reason, until (RFC 3339) or revoke: %v", derrors.Invalid, err)
	}
	e, err := s.exempt(c, in, invalid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"audit": e})
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

// ownerOf is the entity's owner as a reference (zero without one).
func ownerOf(e *catalog.Entity) catalog.Ref {
	if owners := e.RelationsOf(catalog.RelOwnedBy); len(owners) > 0 {
		return owners[0]
	}
	return catalog.Ref{}
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

// parseScorecardsQuery reads the filters of the scorecards page and API.
func parseScorecardsQuery(c echo.Context) (scorecardsQuery, error) {
	q := scorecardsQuery{Team: c.QueryParam("team"), System: c.QueryParam("system"), Lifecycle: c.QueryParam("lifecycle"),
		Level: c.QueryParam("level"), Check: c.QueryParam("check"), Page: 1}
	if p := c.QueryParam("page"); p != "" {
		if _, err := fmt.Sscan(p, &q.Page); err != nil || q.Page < 1 {
			return q, fmt.Errorf("%w: page must be a positive number", derrors.Invalid)
		}
	}
	return q, nil
}

// scorecardRows is how many services one page of the matrix shows, and fixFirstServices
// how many each "fix first" item lists (the rest are a filter away).
const (
	scorecardRows    = 50
	fixFirstServices = 10
)

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
	rec                      *catalog.Record
	ref, ownerKey, systemKey string
	failing                  []scorecard.Result // the failing checks' results, in the checks' order
	card                     scored
	owner                    catalog.Ref
	system                   catalog.Ref
	lifecycle                string
	production               bool
}

// newScoreLine is a service's line: its card and what the pages group it by.
func newScoreLine(r *catalog.Record, card scored) *scoreLine {
	l := &scoreLine{rec: r, card: card, owner: ownerOf(r.Entity), ref: r.Entity.Ref().String()}
	if l.owner.Name != "" {
		l.ownerKey = l.owner.String()
	}
	l.lifecycle = r.Entity.SpecString("lifecycle")
	l.production = l.lifecycle == "production"
	for _, t := range r.Entity.RelationsOf(catalog.RelPartOf) {
		if strings.EqualFold(t.Kind, catalog.KindSystem) {
			l.system, l.systemKey = t, t.String()
		}
	}
	for _, res := range card.Card.Results {
		if res.Status == scorecard.Fail || res.Status == scorecard.Error {
			l.failing = append(l.failing, res)
		}
	}
	return l
}

// allLines is every scored service's line, lowest score first: built once per change of the
// scoreboard and shared by every request; computed afresh when the scoreboard is not
// following this catalog (not running, or behind a refresh).
func (s *Server) allLines(ctx context.Context, snap *catalog.Snapshot) []*scoreLine {
	b := s.scores
	b.mu.RLock()
	current := b.snap == snap
	if current && b.lines != nil && b.linesVersion == b.version {
		lines := b.lines
		b.mu.RUnlock()
		return lines
	}
	version := b.version
	b.mu.RUnlock()
	board := b.all()
	var lines []*scoreLine
	for _, r := range snap.Records() {
		if !scoredEntity(r.Entity) {
			continue
		}
		card, ok := board[r.Entity.Ref()]
		if !ok || !current {
			card = s.cardOf(ctx, snap, r)
		}
		lines = append(lines, newScoreLine(r, card))
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].card.Card.Score != lines[j].card.Card.Score {
			return lines[i].card.Card.Score < lines[j].card.Card.Score
		}
		return lines[i].ref < lines[j].ref
	})
	if current {
		b.mu.Lock()
		if b.version == version {
			b.lines, b.linesVersion = lines, version
		}
		b.mu.Unlock()
	}
	return lines
}

// scoreLines are the services the user may view (all) and those the filters select (shown).
func (s *Server) scoreLines(c echo.Context, q scorecardsQuery) ([]*scoreLine, []*scoreLine) {
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	var all, shown []*scoreLine
	for _, l := range s.allLines(c.Request().Context(), snap) {
		if !sc.Record(l.rec) {
			continue
		}
		all = append(all, l)
		level := orDefault(l.card.Card.Level, "none")
		if (q.Team != "" && l.ownerKey != q.Team) || (q.System != "" && l.systemKey != q.System) ||
			(q.Lifecycle != "" && l.lifecycle != q.Lifecycle) || (q.Level != "" && level != q.Level) {
			continue
		}
		if q.Check != "" && !slices.ContainsFunc(l.failing, func(r scorecard.Result) bool { return r.Check == q.Check }) {
			continue
		}
		shown = append(shown, l)
	}
	return all, shown
}

// summary rolls cards up: the mean score and how many services stand at each level.
func summary(name components.Link, lines []*scoreLine, levels []string) components.ScoreSummary {
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
	q, err := parseScorecardsQuery(c)
	if err != nil {
		return err
	}
	// Everyone who may see the same services and asks the same question shares the page's
	// body until a card changes (and for at most scorePageTTL, for the trend).
	snap := s.Catalog.Snapshot()
	s.scores.mu.RLock()
	version := s.scores.version
	s.scores.mu.RUnlock()
	key := fmt.Sprintf("%d|%p|%s|%s", version, snap, s.scope(c, snap).Key(), c.Request().URL.RawQuery)
	body := s.scorePages.get(key, scorePageTTL, func() []byte {
		var b bytes.Buffer
		if err := components.ScorecardsView(s.scorecardsVM(c, q)).Render(c.Request().Context(), &b); err != nil {
			return nil
		}
		return b.Bytes()
	})
	if body == nil {
		return errors.New("the scorecards page could not be rendered")
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Scorecards", Nav: "scorecards"}, templ.Raw(string(body)))
}

// scorePageTTL bounds how long a scorecards page body is shared (a card's change ends it
// sooner): the trend, from the database, is at most this old.
const scorePageTTL = 30 * time.Second

// scorecardsVM is the scorecards page for a query.
func (s *Server) scorecardsVM(c echo.Context, q scorecardsQuery) components.ScorecardsPage {
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
	byTeam := map[catalog.Ref][]*scoreLine{}
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
	bySystem := map[catalog.Ref][]*scoreLine{}
	for _, l := range all {
		if l.system.Name != "" {
			bySystem[l.system] = append(bySystem[l.system], l)
		}
	}
	for system, lines := range bySystem {
		vm.Systems = append(vm.Systems, summary(components.Link{Label: system.Name, Href: q.with("system", system.String())}, lines, levels))
	}
	sort.Slice(vm.Systems, func(i, j int) bool { return vm.Systems[i].Name.Label < vm.Systems[j].Name.Label })
	// One pass over what fails, service by service, fills every check's column and item.
	fixes := make(map[string]*components.FixItem, len(checks))
	for _, ch := range checks {
		fixes[ch.ID] = &components.FixItem{Check: components.CheckHead{ID: ch.ID, Title: ch.Title, Level: ch.Level}, Fix: ch.Fix}
	}
	for _, l := range shown {
		for _, res := range l.failing {
			fix := fixes[res.Check]
			if fix == nil {
				continue
			}
			fix.Check.Failing++
			if l.production {
				fix.Production++
			}
			if len(fix.Services) >= fixFirstServices {
				continue
			}
			fs := components.FixService{Entity: refLink(l.rec.Entity.Ref()), Failing: res.Failing}
			if res.Snippet != "" && len(fix.Services) == 0 { // the first's YAML; the others' are on their pages
				ch, _ := s.Scorecards.Check(res.Check)
				kind := ch.SnippetKind
				fs.Snippet, fs.SnippetKind = res.Snippet, kind
				fs.Command = fixCommand(kind, firstWorkload(l.card.Workloads))
			}
			fix.Services = append(fix.Services, fs)
		}
	}
	for _, ch := range checks {
		fix := *fixes[ch.ID]
		head := fix.Check
		vm.Checks = append(vm.Checks, head)
		if head.Failing > 0 {
			fix.Check = head
			if more := head.Failing - len(fix.Services); more > 0 {
				fix.More = components.Link{Label: fmt.Sprintf("and %d more", more), Href: q.with("check", ch.ID)}
			}
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
		row := components.ScoreRow{Entity: components.Link{Label: l.rec.Entity.DisplayName(), Href: entityHref(l.rec.Entity.Ref())},
			Level: l.card.Card.Level, Score: l.card.Card.Score}
		if l.owner.Name != "" {
			row.Owner = refLink(l.owner)
		}
		for _, res := range l.card.Card.Results {
			cell := components.ScoreCell{Status: string(res.Status)}
			if res.Status != scorecard.Pass && res.Status != scorecard.NotApplicable {
				cell.Title = res.Check + ": " + string(res.Status)
				if len(res.Failing) > 0 {
					cell.Title += " — " + res.Failing[0]
					if len(res.Failing) > 1 {
						cell.Title += fmt.Sprintf(" (and %d more)", len(res.Failing)-1)
					}
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		vm.Rows = append(vm.Rows, row)
	}
	vm.Filters = s.scoreFilters(q, all, levels)
	vm.Trend = s.trendFor(c.Request().Context(), c, q)
	vm.Initiatives = s.initiativeRows(all)
	return vm
}

// scoreFilters are the page's choices: team, system, lifecycle and level.
func (s *Server) scoreFilters(q scorecardsQuery, all []*scoreLine, levels []string) []components.ScoreFilter {
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
func toAPICard(l *scoreLine) api.Card {
	a := api.Card{Entity: l.rec.Entity.Ref(), Level: l.card.Card.Level, Score: l.card.Card.Score, Computed: l.card.At.UTC(), Results: l.card.Card.Results}
	if l.owner.Name != "" {
		o := l.owner
		a.Owner = &o
	}
	return a
}

// handleAPIScorecards is every visible service's card, the rollups and the checks; ?team=
// (and the page's other filters) narrow it.
func (s *Server) handleAPIScorecards(c echo.Context) error {
	q, err := parseScorecardsQuery(c)
	if err != nil {
		return err
	}
	_, shown := s.scoreLines(c, q)
	levels := s.Scorecards.Levels()
	services := make([]api.Card, 0, len(shown))
	for _, l := range shown {
		services = append(services, toAPICard(l))
	}
	sum := summary(components.Link{}, shown, levels)
	byLevel := map[string]int{}
	for _, lc := range sum.ByLevel {
		byLevel[lc.Level] = lc.Count
	}
	return c.JSON(http.StatusOK, api.Scorecards{Levels: levels, Checks: s.Scorecards.Checks(), Services: services,
		Summary: api.ScoreSummary{Score: sum.Score, Services: sum.Services, ByLevel: byLevel}})
}

// handleAPIEntityScorecard is one service's card.
func (s *Server) handleAPIEntityScorecard(c echo.Context) error {
	snap, rec, err := s.observedEntity(c, "scorecards")
	if err != nil {
		return err
	}
	l := &scoreLine{rec: rec, card: s.cardOf(c.Request().Context(), snap, rec), owner: ownerOf(rec.Entity)}
	return c.JSON(http.StatusOK, toAPICard(l))
}
