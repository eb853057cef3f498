package server

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

func matcherOf(e *catalog.Entity) alerts.Matcher {
	prom := e.Prometheus()
	return alerts.MatcherFor(prom.Alerts, prom.Labels, e.ServiceName())
}

func (s *Server) alertRow(a alerts.Alert) components.AlertRow {
	r := components.AlertRow{Name: a.Name, State: a.State, Severity: orDefault(a.Severity, "none"), Summary: a.Summary, Description: a.Description,
		Silenced: a.Silenced, Inhibited: a.Inhibited, GeneratorURL: a.GeneratorURL}
	if !a.Since.IsZero() {
		r.Since, r.SinceISO = age(a.Since)+" ago", a.Since.UTC().Format(time.RFC3339)
	}
	var extra []string
	for k, v := range a.Labels {
		if k != "alertname" && k != "severity" {
			extra = append(extra, k+"="+v)
		}
	}
	sort.Strings(extra)
	r.Labels = strings.Join(extra, " ")
	if a.RunbookURL != "" && catalog.LinkURL(a.RunbookURL) { // alert annotations are data, not markup
		r.Runbook = components.Link{Label: "runbook", Href: a.RunbookURL}
		r.RunbookExternal = true
		if u, err := url.Parse(a.RunbookURL); err == nil && strings.HasPrefix(u.Path, "/runbooks/") {
			if b, ok := s.Runbooks.Get(strings.TrimPrefix(u.Path, "/runbooks/")); ok {
				r.Runbook = components.Link{Label: b.Title, Href: runbookHref(b.Path)}
				r.RunbookExternal = false
			}
		}
	}
	return r
}

func (s *Server) handleAlertsPanel(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "alerts")
	if err != nil {
		return err
	}
	res := s.Alerts.All(c.Request().Context())
	vm := components.AlertsPanel{Errors: res.Errors, Refresh: c.Request().URL.Path}
	for _, a := range matcherOf(rec.Entity).Filter(res.Alerts) {
		row := s.alertRow(a)
		row.Triage = alertTriageHref(rec.Entity.Ref(), a)
		vm.Rows = append(vm.Rows, row)
	}
	if prom := rec.Entity.Prometheus(); prom.Alerts == "" && prom.Labels == "" {
		vm.Hint = "Alerts are matched by the label service=\"" + rec.Entity.ServiceName() + "\"; set prometheus.io/alert or prometheus.io/labels to choose others."
	}
	return render(c, http.StatusOK, components.AlertsView(vm))
}

func (s *Server) handleAPIAlerts(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "alerts")
	if err != nil {
		return err
	}
	res := s.Alerts.All(c.Request().Context())
	items := matcherOf(rec.Entity).Filter(res.Alerts)
	if items == nil {
		items = []alerts.Alert{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "errors": res.Errors})
}

// ownedAlert is a firing or pending alert with the catalog service it is about (nil: none
// matches) and the team owning that service.
type ownedAlert struct {
	alerts.Alert
	owner *catalog.Record
	team  components.Link
}

// visibleAlerts matches every alert to the first service whose matcher takes it and keeps
// those the user may see: alerts of services they may view, and alerts of no catalog service
// only for those who may view everything.
func (s *Server) visibleAlerts(c echo.Context, snap *catalog.Snapshot, res alerts.Result) []ownedAlert {
	type svc struct {
		rec *catalog.Record
		m   alerts.Matcher
	}
	var svcs []svc
	for _, r := range snap.Records() {
		if observes(r.Entity) {
			svcs = append(svcs, svc{r, matcherOf(r.Entity)})
		}
	}
	sc := s.scope(c, snap)
	var out []ownedAlert
	for _, a := range res.Alerts {
		var owner *catalog.Record
		for _, x := range svcs {
			if x.m.Matches(a) {
				owner = x.rec
				break
			}
		}
		if owner == nil && !sc.All() || owner != nil && !sc.Record(owner) {
			continue
		}
		team := components.Link{Label: "No owning service in the catalog"}
		if owner != nil {
			team = components.Link{Label: access.Target(snap, owner.Entity, "", "", "").Owner}
			for _, o := range snap.Related(owner.Entity, catalog.RelOwnedBy) {
				team = components.Link{Label: o.Entity.DisplayName(), Href: entityHref(o.Entity.Ref())}
			}
		}
		out = append(out, ownedAlert{Alert: a, owner: owner, team: team})
	}
	return out
}

// handleAlertsPage is "firing now": every alert, grouped by the team owning its service.
func (s *Server) handleAlertsPage(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	res := s.Alerts.All(c.Request().Context())
	vm := components.AlertsPage{Errors: res.Errors, Refresh: c.Request().URL.RequestURI()}
	groups := map[string]*components.AlertGroup{}
	var order []string
	for _, a := range s.visibleAlerts(c, snap, res) {
		switch {
		case a.Silenced:
			vm.Silenced++
		case a.State == "firing":
			vm.Firing++
		default:
			vm.Pending++
		}
		row := s.alertRow(a.Alert)
		if a.owner != nil {
			row.Service = components.Link{Label: a.owner.Entity.DisplayName(), Href: entityHref(a.owner.Entity.Ref())}
			row.Triage = alertTriageHref(a.owner.Entity.Ref(), a.Alert)
		}
		if row.Service.Label == "" {
			row.Service.Label = a.Labels["service"]
		}
		g, ok := groups[a.team.Label]
		if !ok {
			g = &components.AlertGroup{Team: a.team}
			groups[a.team.Label] = g
			order = append(order, a.team.Label)
		}
		g.Rows = append(g.Rows, row)
	}
	for _, k := range order {
		vm.Groups = append(vm.Groups, *groups[k])
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Firing now", Nav: "alerts"}, components.AlertsPageView(vm))
}

// handleAPIAlertList is GET /api/v1/alerts[?team=…][&state=firing]: every alert the user
// may see, each with its service and team.
func (s *Server) handleAPIAlertList(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	team := strings.TrimPrefix(c.QueryParam("team"), "group:")
	state := c.QueryParam("state")
	if state != "" && state != "firing" && state != "pending" {
		return fmt.Errorf("%w: state must be firing or pending", derrors.Invalid)
	}
	res := s.Alerts.All(c.Request().Context())
	items := []api.Alert{}
	for _, a := range s.visibleAlerts(c, snap, res) {
		x := api.Alert{Alert: a.Alert, Fingerprint: a.Fingerprint()}
		if a.owner != nil {
			x.Entity, x.Team = a.owner.Entity.Ref().String(), access.Target(snap, a.owner.Entity, "", "", "").Owner
		}
		if team != "" && !strings.EqualFold(x.Team, team) || state != "" && a.State != state {
			continue
		}
		items = append(items, x)
	}
	errs := res.Errors
	if errs == nil {
		errs = []string{}
	}
	return c.JSON(http.StatusOK, api.Alerts{Items: items, Errors: errs})
}

// alertTriageHref is the triage view of the service an alert is about, from its start.
func alertTriageHref(r catalog.Ref, a alerts.Alert) string {
	return triageHref(r) + "?alert=" + url.QueryEscape(a.Fingerprint())
}

// handleAlertTriage is /alerts/:fingerprint/triage, the link to put in alert notifications
// (Alertmanager templates know the fingerprint): it opens the owning service's triage view.
func (s *Server) handleAlertTriage(c echo.Context) error {
	fp := c.Param("fingerprint")
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	for _, a := range s.Alerts.All(c.Request().Context()).Alerts {
		if a.Fingerprint() != fp {
			continue
		}
		for _, r := range snap.Records() {
			if observes(r.Entity) && sc.Record(r) && matcherOf(r.Entity).Matches(a) {
				return c.Redirect(http.StatusSeeOther, alertTriageHref(r.Entity.Ref(), a))
			}
		}
		return fmt.Errorf("%w: Alert %s names no service in the catalog that you may view", derrors.NotFound, a.Name)
	}
	return fmt.Errorf("%w: No alert with fingerprint %s is firing or pending now; it may have resolved", derrors.NotFound, fp)
}
