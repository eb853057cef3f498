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

// handleAlertsPage is "firing now": every alert, grouped by the team owning its service.
func (s *Server) handleAlertsPage(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	res := s.Alerts.All(c.Request().Context())
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
	vm := components.AlertsPage{Errors: res.Errors, Refresh: c.Request().URL.RequestURI()}
	groups := map[string]*components.AlertGroup{}
	var order []string
	sc := s.scope(c, snap)
	for _, a := range res.Alerts {
		var owner *catalog.Record
		for _, x := range svcs {
			if x.m.Matches(a) {
				owner = x.rec
				break
			}
		}
		// Alerts of services the user may not view are left out, and so are alerts of no
		// catalog service unless the user may view everything.
		if owner == nil && !sc.All() || owner != nil && !sc.Record(owner) {
			continue
		}
		switch {
		case a.Silenced:
			vm.Silenced++
		case a.State == "firing":
			vm.Firing++
		default:
			vm.Pending++
		}
		row := s.alertRow(a)
		team := components.Link{Label: "No owning service in the catalog"}
		if owner != nil {
			row.Service = components.Link{Label: owner.Entity.DisplayName(), Href: entityHref(owner.Entity.Ref())}
			row.Triage = alertTriageHref(owner.Entity.Ref(), a)
			team = components.Link{Label: access.Target(snap, owner.Entity, "", "", "").Owner}
			for _, o := range snap.Related(owner.Entity, catalog.RelOwnedBy) {
				team = components.Link{Label: o.Entity.DisplayName(), Href: entityHref(o.Entity.Ref())}
			}
		}
		if row.Service.Label == "" {
			row.Service.Label = a.Labels["service"]
		}
		g, ok := groups[team.Label]
		if !ok {
			g = &components.AlertGroup{Team: team}
			groups[team.Label] = g
			order = append(order, team.Label)
		}
		g.Rows = append(g.Rows, row)
	}
	for _, k := range order {
		vm.Groups = append(vm.Groups, *groups[k])
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Firing now", Nav: "alerts"}, components.AlertsPageView(vm))
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
