package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/triage"
	"github.com/portico-dev/portico/web/components"
)

// triageTTL is how long one triage is shared by everyone looking at the same incident: the
// signals move at the scrape interval, and twenty engineers opening the page at once should
// cost the backends one triage.
const triageTTL = 5 * time.Second

type triageEntry struct {
	g     gathered
	res   triage.Result
	found bool
}

// triage answers for rec (and the alert, when fingerprint is set) from the cache or afresh.
// The key carries the user's scope: which dependencies are read depends on what they may view.
func (s *Server) triage(ctx context.Context, snap *catalog.Snapshot, sc *access.Scope, rec *catalog.Record, fingerprint string) triageEntry {
	key := fmt.Sprintf("%p|%s|%s|%s", snap, rec.Entity.Ref(), fingerprint, sc.Key())
	return s.triages.get(key, triageTTL, func() triageEntry {
		// Detached from the first caller's request: the others wait on the same answer.
		g, found := s.gatherTriage(context.WithoutCancel(ctx), snap, sc, rec, fingerprint)
		return triageEntry{g: g, res: triage.Analyze(g.in), found: found}
	})
}

func triageHref(r catalog.Ref) string { return entityHref(r) + "/triage" }

// triageOf is the triage of the request's entity (and alert, ?alert=<fingerprint>).
func (s *Server) triageOf(c echo.Context) (*catalog.Snapshot, *access.Scope, *catalog.Record, triageEntry, error) {
	snap, rec, err := s.observedEntity(c, "a triage view")
	if err != nil {
		return nil, nil, nil, triageEntry{}, err
	}
	sc := s.scope(c, snap)
	return snap, sc, rec, s.triage(c.Request().Context(), snap, sc, rec, c.QueryParam("alert")), nil
}

func (s *Server) handleTriageShow(c echo.Context) error {
	snap, sc, rec, t, err := s.triageOf(c)
	if err != nil {
		return err
	}
	vm := s.triageVM(c, snap, sc, rec, t)
	vm.AlertGone = c.QueryParam("alert") != "" && !t.found
	return s.page(c, http.StatusOK, components.Page{Title: "Triage " + rec.Entity.DisplayName(), Nav: "fire"}, components.TriageView(vm))
}

// handleAPITriage is GET /api/v1/entities/{kind}/{ns}/{name}/triage[?alert=<fingerprint>].
func (s *Server) handleAPITriage(c echo.Context) error {
	snap, sc, rec, t, err := s.triageOf(c)
	if err != nil {
		return err
	}
	if fp := c.QueryParam("alert"); fp != "" && !t.found {
		return fmt.Errorf("%w: No alert with fingerprint %s is firing for %s", derrors.NotFound, fp, rec.Entity.Ref().Short())
	}
	res := t.res
	res.Suspects = make([]triage.Suspect, len(t.res.Suspects))
	for i, sus := range t.res.Suspects {
		sus.Mitigations, _, _ = s.mitigations(c, snap, sc, sus)
		if sus.Mitigations == nil {
			sus.Mitigations = []triage.Mitigation{}
		}
		res.Suspects[i] = sus
	}
	return c.JSON(http.StatusOK, res)
}

// mitigations keeps the suspect's mitigations the user may perform, with where to do them,
// as the API returns them and as buttons, and says why the others are not offered.
func (s *Server) mitigations(c echo.Context, snap *catalog.Snapshot, sc *access.Scope, sus triage.Suspect) ([]triage.Mitigation, []components.MitigationButton, []string) {
	var out []triage.Mitigation
	var buttons []components.MitigationButton
	var why []string
	for _, m := range sus.Mitigations {
		if m.Action == "open" {
			r, ok := snap.Get(mustRef(m.Entity))
			if !ok || !sc.Record(r) {
				continue
			}
			m.Href = triageHref(r.Entity.Ref())
			out = append(out, m)
			buttons = append(buttons, components.MitigationButton{Label: m.Label, Action: m.Action, Href: m.Href})
			continue
		}
		rec, ok := snap.Get(mustRef(sus.Subject.Entity))
		if !ok {
			continue
		}
		w, err := s.workloadAt(c.Request().Context(), snap, rec, m.Cluster, m.Namespace, m.Workload)
		if err != nil {
			continue
		}
		if st := s.actionState(c.Request().Context(), w, policy.Action(m.Action), nil); !st.Allowed {
			why = append(why, m.Label+": "+st.Why)
			continue
		}
		m.Href = w.base + "/" + m.Action
		out = append(out, m)
		b := components.MitigationButton{Label: m.Label, Action: m.Action, Post: m.Href}
		for _, k := range sortedMapKeys(m.Params) {
			b.Fields = append(b.Fields, components.Hidden{Name: k, Value: fmt.Sprint(m.Params[k])})
		}
		b.Fields = append(b.Fields, components.Hidden{Name: "generation", Value: strconv.FormatInt(w.view.Generation, 10)},
			components.Hidden{Name: "reason", Value: "triage: " + sus.Summary})
		buttons = append(buttons, b)
	}
	if len(buttons) > 0 {
		buttons[0].Primary = true
	}
	return out, buttons, why
}

func (s *Server) triageVM(c echo.Context, snap *catalog.Snapshot, sc *access.Scope, rec *catalog.Record, t triageEntry) components.Triage {
	e := rec.Entity
	res := t.res
	vm := components.Triage{Entity: components.Link{Label: e.DisplayName(), Href: entityHref(e.Ref())}, Health: components.HealthBadge{Level: res.Health},
		Reasons: res.Reasons, Missing: res.Missing, APIHref: "/api/v1/entities" + strings.TrimPrefix(entityHref(e.Ref()), "/catalog") + "/triage"}
	vm.CSRF, _ = c.Get("csrf").(string)
	for _, o := range snap.Related(e, catalog.RelOwnedBy) {
		vm.Owner = components.Link{Label: o.Entity.DisplayName(), Href: entityHref(o.Entity.Ref())}
	}
	for _, g := range e.OnCall() {
		l := refLink(g)
		if r, ok := snap.Get(g); ok {
			l.Label = r.Entity.DisplayName()
		}
		vm.OnCall = append(vm.OnCall, l)
	}
	if res.Onset != nil {
		vm.Onset = age(*res.Onset) + " ago (" + res.Onset.UTC().Format("15:04:05 UTC") + ")"
		vm.OnsetAt = res.Onset.UTC().Format(time.RFC3339)
	}
	for _, a := range t.g.alerts {
		vm.Alerts = append(vm.Alerts, s.alertRow(a))
		if fp := c.QueryParam("alert"); fp != "" && a.Fingerprint() == fp {
			vm.AlertName = a.Name
		}
	}
	vm.Charts = triageCharts(t.g, res)
	for _, en := range slices.Backward(res.Timeline) { // newest first: what just happened leads
		row := components.TimelineRow{At: en.At.UTC().Format("15:04:05"), AtISO: en.At.UTC().Format(time.RFC3339), Kind: en.Kind, Summary: en.Summary,
			Actor: en.Actor, Href: en.Href, Own: en.Entity == e.Ref().String()}
		if !row.Own {
			row.Entity = refLink(mustRef(en.Entity))
		}
		vm.Timeline = append(vm.Timeline, row)
	}
	for _, sus := range res.Suspects {
		row := components.SuspectRow{Rank: sus.Rank, Kind: sus.Kind, Summary: sus.Summary, Confidence: int(sus.Confidence*100 + 0.5), Subject: sus.Subject.Entity}
		for _, ev := range sus.Evidence {
			er := components.EvidenceRow{Signal: ev.Signal, Detail: ev.Detail, Href: ev.Href}
			if ev.At != nil {
				er.At = ev.At.UTC().Format("15:04:05")
			}
			row.Evidence = append(row.Evidence, er)
		}
		_, row.Mitigations, row.Hidden = s.mitigations(c, snap, sc, sus)
		vm.Suspects = append(vm.Suspects, row)
	}
	vm.Runbook = s.inlineRunbook(e)
	return vm
}

// triageCharts draws the error ratio and latency on one time axis, with the onset and the
// service's changes marked.
func triageCharts(g gathered, res triage.Result) []components.Chart {
	end := g.in.Now.Truncate(metrics.TriageRange.Step)
	start := end.Add(-metrics.TriageRange.Dur)
	var marks []chart.Marker
	if res.Onset != nil {
		marks = append(marks, chart.Marker{T: *res.Onset, Label: "onset", Class: "onset"})
	}
	for _, en := range res.Timeline {
		if en.Kind != triage.ChangeWarning {
			marks = append(marks, chart.Marker{T: en.At, Label: en.Kind + ": " + en.Summary, Class: en.Kind})
		}
	}
	var out []components.Chart
	for _, def := range []struct {
		title, unit, series string
		ps                  []triage.Point
	}{{"Error ratio (5xx)", "ratio", "errors", g.in.Service.Signals.Errors}, {"Latency p95", "seconds", "p95", g.in.Service.Signals.Latency}} {
		in := chart.Input{Title: def.title, Unit: def.unit, Start: start, End: end, Step: metrics.TriageRange.Step, Markers: marks}
		if def.ps == nil {
			in.Err = "not available"
		} else {
			cs := chart.Series{Name: def.series}
			for _, p := range def.ps {
				cs.Points = append(cs.Points, chart.Point{T: p.T, V: p.V})
			}
			in.Series = []chart.Series{cs}
		}
		out = append(out, chart.Layout(in))
	}
	return out
}

// inlineRunbook is the entity's runbook, with its mitigation section picked out.
func (s *Server) inlineRunbook(e *catalog.Entity) *components.InlineRunbook {
	p := e.Runbook()
	if p == "" {
		return nil
	}
	b, ok := s.Runbooks.Get(p)
	if !ok {
		return nil
	}
	html, err := s.Runbooks.HTML(b)
	if err != nil {
		return nil
	}
	rb := &components.InlineRunbook{Title: b.Title, Href: runbookHref(b.Path), HTML: html}
	rb.Mitigation, _ = s.Runbooks.SectionHTML(b, "mitigation")
	return rb
}

// handleTriageBanner is the service page's first line: a link to the triage view whenever
// the service is not healthy or an alert about it is firing, else nothing. It reads only
// the caches and the shared alert answer, so it is quick.
func (s *Server) handleTriageBanner(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "a triage view")
	if err != nil {
		return err
	}
	var b components.TriageBanner // on fire as the on-fire page judges it
	h := s.healthNow(rec.Entity)
	inc := incident{rec: rec, health: h.Level}
	if h.Level >= cluster.Degraded {
		b.Reasons = append(b.Reasons, h.Reason)
	}
	if s.Alerts != nil {
		inc.alerts = matcherOf(rec.Entity).Filter(firingOf(s.Alerts.All(c.Request().Context()).Alerts))
		if n := len(inc.alerts); n == 1 {
			b.Reasons = append(b.Reasons, "1 alert firing")
		} else if n > 1 {
			b.Reasons = append(b.Reasons, fmt.Sprintf("%d alerts firing", n))
		}
	}
	if inc.health >= cluster.Degraded || len(inc.alerts) > 0 {
		b.Health, b.Href = inc.level(), triageHref(rec.Entity.Ref())
	}
	return render(c, http.StatusOK, components.TriageBannerView(b))
}
