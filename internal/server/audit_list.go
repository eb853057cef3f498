package server

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/web/components"
)

// auditFilter reads the audit filters from the query string.
func auditFilter(c echo.Context) (audit.Filter, error) {
	f := audit.Filter{Actor: strings.TrimSpace(c.QueryParam("actor")), Entity: c.QueryParam("entity"), Cluster: c.QueryParam("cluster"),
		Namespace: c.QueryParam("namespace"), Name: c.QueryParam("name"), Action: c.QueryParam("action"), Result: audit.Result(c.QueryParam("result"))}
	if f.Result != "" && !containsResult(f.Result) {
		return f, fmt.Errorf("%w: Result must be one of pending, succeeded, denied, failed", derrors.Invalid)
	}
	for key, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.QueryParam(key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%w: %s must be an RFC 3339 time such as 2026-11-23T10:00:00Z", derrors.Invalid, key)
			}
			*dst = t
		}
	}
	for key, dst := range map[string]*int{"before": &f.Before, "limit": &f.Limit} {
		if v := c.QueryParam(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return f, fmt.Errorf("%w: %s must be a positive number", derrors.Invalid, key)
			}
			*dst = n
		}
	}
	return f, nil
}

func containsResult(r audit.Result) bool {
	for _, x := range audit.Results {
		if x == r {
			return true
		}
	}
	return false
}

func auditRowVM(e audit.Entry) components.AuditRow {
	r := components.AuditRow{ID: e.ID, When: age(e.StartedAt) + " ago", WhenISO: e.StartedAt.UTC().Format(time.RFC3339), Actor: e.Actor,
		SourceIP: e.SourceIP, Channel: e.Channel, Action: e.Action, Params: e.Params, Reason: e.Reason, Entity: e.Entity, Before: e.Before, After: e.After,
		Result: string(e.Result), Error: e.Error, RequestID: e.RequestID}
	r.Params = paramsText(e.Params)
	r.Target = strings.Trim(e.Cluster+" "+e.Namespace+"/"+e.Name, " /")
	if ref, err := catalog.ParseRef(e.Entity, "", ""); err == nil && e.Entity != "" {
		r.TargetHref = workloadHref(ref, e.Cluster, e.Namespace, e.Name)
	}
	return r
}

// paramsText shows an action's parameters as key=value, leaving out the form's bookkeeping.
func paramsText(raw string) string {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return raw
	}
	delete(m, "generation")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func (s *Server) handleAuditList(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	rows, next, err := s.auditPage(c, f)
	if err != nil {
		return err
	}
	vm := components.AuditPage{Title: "Audit log", Actor: f.Actor, Action: f.Action, Result: string(f.Result), Cluster: f.Cluster,
		Entity: f.Entity, Scoped: f.Entity != ""}
	if f.Entity != "" {
		vm.Title = "Audit log of " + f.Entity
	}
	for _, a := range actions.Writes {
		vm.Actions = append(vm.Actions, string(a))
	}
	for _, r := range audit.Results {
		vm.Results = append(vm.Results, string(r))
	}
	for _, e := range rows {
		vm.Rows = append(vm.Rows, auditRowVM(e))
	}
	q := c.QueryParams()
	q.Del("before")
	q.Del("format")
	if next > 0 {
		nv := url.Values{}
		for k, v := range q {
			nv[k] = v
		}
		nv.Set("before", strconv.Itoa(next))
		vm.Next = "/audit?" + nv.Encode()
	}
	q.Del("limit")
	q.Set("format", "json")
	vm.ExportJSON = "/audit/export?" + q.Encode()
	q.Set("format", "csv")
	vm.ExportCSV = "/audit/export?" + q.Encode()
	return s.page(c, http.StatusOK, components.Page{Title: vm.Title, Nav: "audit"}, components.AuditView(vm))
}

// handleAuditExport streams every matching entry as JSON (an array) or CSV.
func (s *Server) handleAuditExport(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format != "json" && format != "csv" {
		return fmt.Errorf("%w: Format must be json or csv", derrors.Invalid)
	}
	ctx := c.Request().Context()
	w := c.Response()
	name := "portico-audit-" + time.Now().UTC().Format("20060102-150405") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	var cw *csv.Writer
	if format == "csv" {
		w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		cw = csv.NewWriter(w)
		_ = cw.Write([]string{"id", "started_at", "finished_at", "request_id", "actor", "actor_email", "groups", "source_ip", "action", "params",
			"reason", "entity", "cluster", "namespace", "kind", "name", "before", "after", "result", "error", "channel"})
	} else {
		w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSONCharsetUTF8)
		_, _ = w.Write([]byte("["))
	}
	w.WriteHeader(http.StatusOK)
	f.Limit = audit.MaxLimit
	first := true
	sc := s.scope(c, s.Catalog.Snapshot())
	for {
		rows, err := s.Audit.List(ctx, f)
		if err != nil {
			s.Log.Error("audit export interrupted", "err", err)
			return nil // the status is sent; the truncated file shows the failure
		}
		for _, e := range rows {
			if !entryVisible(sc, e) {
				continue
			}
			if cw != nil {
				fin := ""
				if !e.FinishedAt.IsZero() {
					fin = e.FinishedAt.UTC().Format(time.RFC3339Nano)
				}
				_ = cw.Write([]string{strconv.Itoa(e.ID), e.StartedAt.UTC().Format(time.RFC3339Nano), fin, e.RequestID, e.Actor, e.ActorEmail,
					strings.Join(e.Groups, " "), e.SourceIP, e.Action, e.Params, e.Reason, e.Entity, e.Cluster, e.Namespace, e.Kind, e.Name,
					e.Before, e.After, string(e.Result), e.Error, e.Channel})
				continue
			}
			b, _ := json.Marshal(e)
			if !first {
				_, _ = w.Write([]byte(",\n"))
			}
			first = false
			_, _ = w.Write(b)
		}
		if len(rows) < f.Limit {
			break
		}
		f.Before = rows[len(rows)-1].ID
	}
	if cw != nil {
		cw.Flush()
	} else {
		_, _ = w.Write([]byte("]\n"))
	}
	return nil
}

// handleAPIAudit is GET /api/v1/audit: a page of entries, newest first, with a cursor.
func (s *Server) handleAPIAudit(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	rows, next, err := s.auditPage(c, f)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []audit.Entry{}
	}
	return c.JSON(http.StatusOK, api.AuditPage{Items: rows, Next: next})
}

// auditPage is one page of the entries matching f that are about entities the user may view
// (entries about no entity are shown to everyone who may read the log), newest first, and the
// cursor (an entry ID for "before") of the next page, or 0 when there is none.
func (s *Server) auditPage(c echo.Context, f audit.Filter) ([]audit.Entry, int, error) {
	sc := s.scope(c, s.Catalog.Snapshot())
	want := f.Limit
	var out []audit.Entry
	for {
		rows, err := s.Audit.List(c.Request().Context(), f)
		if err != nil {
			return nil, 0, err
		}
		for i, e := range rows {
			if !entryVisible(sc, e) {
				continue
			}
			out = append(out, e)
			if len(out) == want {
				if i < len(rows)-1 || len(rows) == f.Limit {
					return out, e.ID, nil
				}
				return out, 0, nil
			}
		}
		if len(rows) < f.Limit {
			return out, 0, nil
		}
		f.Before = rows[len(rows)-1].ID
	}
}

func entryVisible(sc *access.Scope, e audit.Entry) bool {
	return e.Entity == "" || sc.RefString(e.Entity)
}

// handleMe is the signed-in user's page: identity, teams, roles, what the teams own, and
// their recent actions.
func (s *Server) handleMe(c echo.Context) error {
	ctx := c.Request().Context()
	u := userFrom(ctx)
	if u == nil {
		return fmt.Errorf("%w: Sign in to see your page", derrors.Unauthenticated)
	}
	snap := s.Catalog.Snapshot()
	vm := components.Me{Name: u.Name, Email: u.Email, Subject: u.Subject, Groups: u.Groups, AuditHref: auditHref("actor", userLabel(u))}
	if vm.Name == "" {
		vm.Name = userLabel(u)
	}
	teams, owned := teamsAndOwned(snap, s.scope(c, snap), teamsOf(snap, u))
	vm.Teams = teams
	for _, o := range owned {
		vm.Owned = append(vm.Owned, s.entityRowWithHealth(o))
	}
	sub := s.subject(ctx)
	for _, b := range s.Policy.Bindings {
		if !b.Covers(*sub) {
			continue
		}
		var acts []string
		for _, a := range s.Policy.Roles[b.Role] {
			acts = append(acts, string(a))
		}
		vm.Roles = append(vm.Roles, components.Field{Label: b.Role + " (" + strings.Join(acts, ", ") + ")", Value: scopeText(b.Scope)})
	}
	if s.Audit != nil {
		entries, _, _ := s.auditPage(c, audit.Filter{Actor: userLabel(u), Limit: 10})
		for _, e := range entries {
			vm.Audit = append(vm.Audit, auditRowVM(e))
		}
	}
	return s.page(c, http.StatusOK, components.Page{Title: vm.Name, Nav: "me"}, components.MeView(vm))
}

func scopeText(sc policy.Scope) string {
	var parts []string
	if sc.Owned {
		parts = append(parts, "services your teams own")
	}
	for _, kv := range [][2]string{{"system", sc.System}, {"namespace", sc.Namespace}, {"cluster", sc.Cluster}, {"environment", sc.Environment}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, ", ")
}
