package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/triage"
)

// Limits of the read tools' answers.
const (
	maxSearch    = 50
	maxLogLines  = 500
	maxLineBytes = 2000
	maxTraces    = 50
	maxRuns      = 30
	maxAudit     = 100
)

// EntityRef names one entity.
type EntityRef struct {
	Ref string `json:"ref" jsonschema:"the entity: payment, component:payment or component:default/payment (kind defaults to component, namespace to default)"`
}

// SearchIn is search_catalog's input.
type SearchIn struct {
	Query     string   `json:"query,omitempty" jsonschema:"words to look for in names, titles, descriptions and tags"`
	Kind      string   `json:"kind,omitempty" jsonschema:"component, api, system, group, user, resource or domain"`
	Owner     string   `json:"owner,omitempty" jsonschema:"the owning team, e.g. team-payments"`
	System    string   `json:"system,omitempty"`
	Type      string   `json:"type,omitempty" jsonschema:"e.g. service, website, library"`
	Lifecycle string   `json:"lifecycle,omitempty" jsonschema:"production, experimental or deprecated"`
	Tags      []string `json:"tags,omitempty"`
	Limit     int      `json:"limit,omitempty" jsonschema:"at most this many (1 to 50; default 20)"`
	Cursor    string   `json:"cursor,omitempty" jsonschema:"the next cursor of a previous answer, for the following page"`
}

// EntitySummary is one search hit.
type EntitySummary struct {
	Ref         string   `json:"ref"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	System      string   `json:"system,omitempty"`
	Lifecycle   string   `json:"lifecycle,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// SearchOut is search_catalog's answer.
type SearchOut struct {
	Items []EntitySummary `json:"items"`
	Total int             `json:"total"`
	Next  string          `json:"next,omitempty"`
}

// LogsIn is pod_logs' input.
type LogsIn struct {
	EntityRef
	Cluster   string `json:"cluster" jsonschema:"the cluster's name, as service_runtime lists it"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod,omitempty" jsonschema:"one pod; or give workload for all of its pods"`
	Workload  string `json:"workload,omitempty" jsonschema:"a Deployment or StatefulSet: all of its pods"`
	Container string `json:"container,omitempty"`
	Tail      int    `json:"tail,omitempty" jsonschema:"the last this many lines (1 to 500; default 100)"`
	Previous  bool   `json:"previous,omitempty" jsonschema:"the previous (crashed) container's logs"`
}

// AlertsIn is alerts_firing's input.
type AlertsIn struct {
	Ref  string `json:"ref,omitempty" jsonschema:"one service's alerts; leave out for every service you may see"`
	Team string `json:"team,omitempty" jsonschema:"only alerts of services this team owns, e.g. team-payments"`
}

// AlertsOut is alerts_firing's answer.
type AlertsOut struct {
	Items  []api.Alert `json:"items"`
	Errors []string    `json:"errors"`
}

// TracesIn is service_traces' input.
type TracesIn struct {
	EntityRef
	Order       string `json:"order,omitempty" jsonschema:"recent (default), slowest or failed"`
	Operation   string `json:"operation,omitempty"`
	MinDuration string `json:"minDuration,omitempty" jsonschema:"only traces at least this long, like 250ms or 2s"`
	Limit       int    `json:"limit,omitempty" jsonschema:"1 to 50; default 10"`
}

// TraceIn names a trace.
type TraceIn struct {
	TraceID string `json:"traceId" jsonschema:"a trace ID, as service_traces lists them"`
}

// RunsIn is pipeline_runs' input.
type RunsIn struct {
	Ref     string `json:"ref,omitempty" jsonschema:"a service: its repositories' runs"`
	Project string `json:"project,omitempty" jsonschema:"a repository, e.g. acme/payment"`
	Limit   int    `json:"limit,omitempty" jsonschema:"1 to 30; default 10"`
}

// DeliveryIn is delivery_metrics' input.
type DeliveryIn struct {
	Ref  string `json:"ref,omitempty" jsonschema:"one service"`
	Team string `json:"team,omitempty" jsonschema:"a team's services; leave both out for every service"`
}

// ScorecardIn is scorecards' input.
type ScorecardIn struct {
	Ref  string `json:"ref,omitempty" jsonschema:"one service's card with every check"`
	Team string `json:"team,omitempty" jsonschema:"a team's services (levels and scores)"`
}

// ScorecardsOut is scorecards' answer: one card, or a list.
type ScorecardsOut struct {
	Levels   []string          `json:"levels,omitempty"`
	Services []api.Card        `json:"services"`
	Summary  *api.ScoreSummary `json:"summary,omitempty"`
}

// TriageIn is triage's input.
type TriageIn struct {
	EntityRef
	Alert string `json:"alert,omitempty" jsonschema:"an alert's fingerprint, to start from that alert"`
}

// AuditIn is audit_log's input.
type AuditIn struct {
	Ref    string `json:"ref,omitempty" jsonschema:"entries about this entity"`
	Actor  string `json:"actor,omitempty" jsonschema:"a user's e-mail"`
	Action string `json:"action,omitempty" jsonschema:"deploy, rollback, scale, restart or exempt"`
	Result string `json:"result,omitempty" jsonschema:"pending, succeeded, denied or failed"`
	Limit  int    `json:"limit,omitempty" jsonschema:"1 to 100; default 20"`
}

// NoInput is the input of tools that take none.
type NoInput struct{}

func (s *Server) addReadTools(srv *mcp.Server) {
	f := s.cfg.Features
	tool(s, srv, &mcp.Tool{Name: "search_catalog", Annotations: readOnly("Search the catalog"),
		Description: "Search the service catalog by words, kind, owner, system, type, lifecycle and tags. Paged: pass next as cursor."},
		s.searchCatalog)
	tool(s, srv, &mcp.Tool{Name: "get_entity", Annotations: readOnly("Get an entity"),
		Description: "One catalog entity in Backstage's shape: metadata, spec, annotations, links and its relations (owner, system, dependencies, APIs)."},
		entityTool(s, "", func(_ string, e api.Entity) string { return entitySummary(e) }))
	tool(s, srv, &mcp.Tool{Name: "service_runtime", Annotations: readOnly("Service runtime and health"),
		Description: "A service's live state in every cluster: health and why, workloads with ready/desired replicas, rollout state, images, pods with restarts and waiting reasons, autoscalers. Same as GET /api/v1/entities/{ref}/runtime."},
		entityTool(s, "/runtime", runtimeSummary))
	tool(s, srv, &mcp.Tool{Name: "pod_logs", Annotations: readOnly("Pod logs"),
		Description: "The last lines of one pod's container, or of every pod of a workload (at most 500 lines; long lines cut). Only pods of the named service can be read."},
		s.podLogs)
	tool(s, srv, &mcp.Tool{Name: "triage", Annotations: readOnly("Triage a service"),
		Description: "The on-call view of a service: what is wrong (health, alerts, error ratio), the change timeline (deploys, config, upstream problems) and the ranked suspects with evidence and the mitigations you may perform. Start here when something fails."},
		func(ctx context.Context, req *mcp.CallToolRequest, in TriageIn) (string, triage.Result, error) {
			var out triage.Result
			q := url.Values{}
			if in.Alert != "" {
				q.Set("alert", in.Alert)
			}
			err := s.getUnder(ctx, req, in.Ref, "/triage", q, &out)
			return triageSummary(in.Ref, out), out, err
		})
	tool(s, srv, &mcp.Tool{Name: "on_fire", Annotations: readOnly("What is on fire"),
		Description: "Every service in trouble now, most urgent first, with its alerts, its likely cause and the services it affects."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ NoInput) (string, api.Fire, error) {
			var out api.Fire
			if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/fire"}, &out); err != nil {
				return "", out, err
			}
			return fireSummary(out), out, nil
		})
	tool(s, srv, &mcp.Tool{Name: "scorecards", Annotations: readOnly("Scorecards"),
		Description: "Production-readiness scorecards: one service's card with each check's result and how to fix it, or a team's (or everyone's) levels and scores."},
		s.scorecards)
	if f.Alerts {
		tool(s, srv, &mcp.Tool{Name: "alerts_firing", Annotations: readOnly("Alerts firing"),
			Description: "Alerts firing or pending now, for one service, one team's services, or every service you may see, with severity, summary, since when and runbook."},
			s.alertsFiring)
	}
	if f.Traces {
		tool(s, srv, &mcp.Tool{Name: "service_traces", Annotations: readOnly("Service traces"),
			Description: "A service's traces from Jaeger: the most recent, the slowest or the failed ones, optionally of one operation and at least a duration."},
			s.serviceTraces)
		tool(s, srv, &mcp.Tool{Name: "trace_critical_path", Annotations: readOnly("Trace critical path"),
			Description: "One trace's critical path: the chain of spans that decided its duration, and each span's share of it."},
			func(ctx context.Context, req *mcp.CallToolRequest, in TraceIn) (string, api.CriticalPath, error) {
				var out api.CriticalPath
				id := strings.TrimSpace(in.TraceID)
				if id == "" || strings.ContainsAny(id, "/?#") {
					return "", out, fmt.Errorf("invalid: %q is not a trace ID", in.TraceID)
				}
				if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/traces/" + url.PathEscape(id) + "/critical-path"}, &out); err != nil {
					return "", out, err
				}
				return pathSummary(out), out, nil
			})
	}
	if f.Pipelines {
		tool(s, srv, &mcp.Tool{Name: "pipeline_runs", Annotations: readOnly("Pipeline runs"),
			Description: "Recent CI runs of a service's repositories (or one repository) with their jobs: build, test, scan, deploy stages, status and images."},
			s.pipelineRuns)
		tool(s, srv, &mcp.Tool{Name: "what_runs_where", Annotations: readOnly("What runs where"),
			Description: "For each cluster a service runs in: the image running, the CI run and commit that built it, whether its scan passed, and how far main has moved on."},
			entityTool(s, "/where", whereSummary))
		tool(s, srv, &mcp.Tool{Name: "delivery_metrics", Annotations: readOnly("Delivery metrics"),
			Description: "DORA's four keys over twelve weeks for a service, a team or everyone: deploy frequency, lead time for changes, change failure rate and time to restore, with each week."},
			s.deliveryMetrics)
	}
	if f.Audit {
		tool(s, srv, &mcp.Tool{Name: "audit_log", Annotations: readOnly("Audit log"),
			Description: "Who did what, newest first: every deploy, rollback, scale, restart and exemption attempted through the portal (UI, API or an agent), with its result."},
			s.auditLog)
	}
}

// getUnder reads one route under an entity: GET /api/v1/entities/{ref}{suffix}.
func (s *Server) getUnder(ctx context.Context, req *mcp.CallToolRequest, ref, suffix string, q url.Values, out any) error {
	p, err := entityPath(ref)
	if err != nil {
		return err
	}
	return s.call(ctx, req, Call{Method: http.MethodGet, Path: p + suffix, Query: q}, out)
}

// entityTool is a tool answering one route under the entity it names, summarised.
func entityTool[Out any](s *Server, suffix string, summary func(ref string, out Out) string) func(context.Context, *mcp.CallToolRequest, EntityRef) (string, Out, error) {
	return func(ctx context.Context, req *mcp.CallToolRequest, in EntityRef) (string, Out, error) {
		var out Out
		if err := s.getUnder(ctx, req, in.Ref, suffix, nil, &out); err != nil {
			return "", out, err
		}
		return summary(in.Ref, out), out, nil
	}
}

func (s *Server) searchCatalog(ctx context.Context, req *mcp.CallToolRequest, in SearchIn) (string, SearchOut, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			q.Set(k, v)
		}
	}
	set("q", in.Query)
	set("kind", strings.ToLower(in.Kind))
	set("owner", facetRef(in.Owner, catalog.KindGroup))
	set("system", facetRef(in.System, catalog.KindSystem))
	set("type", strings.ToLower(in.Type))
	set("lifecycle", strings.ToLower(in.Lifecycle))
	set("cursor", in.Cursor)
	for _, t := range in.Tags {
		q.Add("tag", t)
	}
	q.Set("limit", strconv.Itoa(bound(in.Limit, 20, maxSearch)))
	var list api.EntityList
	var out SearchOut
	if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/entities", Query: q}, &list); err != nil {
		return "", out, err
	}
	out = SearchOut{Items: make([]EntitySummary, 0, len(list.Items)), Total: list.Total, Next: list.Next}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d entities", len(list.Items), list.Total)
	if list.Next != "" {
		b.WriteString(" (more: pass next as cursor)")
	}
	b.WriteString(":\n")
	for _, e := range list.Items {
		x := summarize(e.Entity)
		out.Items = append(out.Items, x)
		fmt.Fprintf(&b, "- %s", x.Ref)
		if x.Owner != "" {
			fmt.Fprintf(&b, " (owner %s)", x.Owner)
		}
		if x.Description != "" {
			fmt.Fprintf(&b, ": %s", clip(x.Description, 140))
		}
		b.WriteString("\n")
	}
	return b.String(), out, nil
}

// facetRef is an owner or system as the catalog's facets hold it (group:default/team-payments)
// from what a person would type (team-payments, group:team-payments).
func facetRef(s, kind string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	r, err := catalog.ParseRef(strings.TrimSpace(s), kind, catalog.DefaultNamespace)
	if err != nil {
		return s
	}
	return r.Key()
}

func summarize(e *catalog.Entity) EntitySummary {
	x := EntitySummary{Ref: e.Ref().String(), Title: e.Metadata.Title, Description: e.Metadata.Description, Tags: e.Metadata.Tags,
		Type: e.SpecString("type"), Owner: e.SpecString("owner"), System: e.SpecString("system"), Lifecycle: e.SpecString("lifecycle")}
	return x
}

func entitySummary(e api.Entity) string {
	if e.Entity == nil {
		return "no entity"
	}
	x := summarize(e.Entity)
	var b strings.Builder
	fmt.Fprintf(&b, "%s", x.Ref)
	for _, kv := range [][2]string{{"type", x.Type}, {"owner", x.Owner}, {"system", x.System}, {"lifecycle", x.Lifecycle}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, ", %s %s", kv[0], kv[1])
		}
	}
	if x.Description != "" {
		fmt.Fprintf(&b, "\n%s", x.Description)
	}
	if n := len(e.Relations); n > 0 {
		fmt.Fprintf(&b, "\nRelations:")
		for _, r := range e.Relations {
			fmt.Fprintf(&b, " %s %s;", r.Type, r.Target.String())
		}
	}
	return b.String()
}

func runtimeSummary(ref string, rt cluster.Runtime) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is %s", ref, rt.Health.Level)
	if rt.Health.Reason != "" {
		fmt.Fprintf(&b, ": %s", rt.Health.Reason)
	}
	for _, cr := range rt.Clusters {
		fmt.Fprintf(&b, "\n%s (%s):", cr.Name, orDefault(cr.Environment, "no environment"))
		if cr.Reachability.Error != "" {
			fmt.Fprintf(&b, " unreachable (%s)", cr.Reachability.Error)
		}
		if len(cr.Workloads) == 0 {
			b.WriteString(" nothing runs here")
		}
		for _, w := range cr.Workloads {
			fmt.Fprintf(&b, "\n  %s %s/%s: %d/%d ready", w.Kind, w.Namespace, w.Name, w.Ready, w.Desired)
			if len(w.Images) > 0 {
				fmt.Fprintf(&b, ", image %s", strings.Join(w.Images, ", "))
			}
			if w.Health.Reason != "" {
				fmt.Fprintf(&b, " — %s", w.Health.Reason)
			}
		}
	}
	return b.String()
}

func (s *Server) podLogs(ctx context.Context, req *mcp.CallToolRequest, in LogsIn) (string, api.Logs, error) {
	var out api.Logs
	q := url.Values{"cluster": {in.Cluster}, "namespace": {in.Namespace}, "tail": {strconv.Itoa(bound(in.Tail, 100, maxLogLines))}}
	for k, v := range map[string]string{"pod": in.Pod, "workload": in.Workload, "container": in.Container} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if in.Previous {
		q.Set("previous", "1")
	}
	if err := s.getUnder(ctx, req, in.Ref, "/logs", q, &out); err != nil {
		return "", out, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines of %s in %s/%s", len(out.Lines), out.Target, out.Cluster, out.Namespace)
	if out.Capped {
		b.WriteString(" (older lines exist)")
	}
	b.WriteString(":\n")
	for i := range out.Lines {
		out.Lines[i].Text = clip(out.Lines[i].Text, maxLineBytes)
		l := out.Lines[i]
		if !l.Time.IsZero() {
			b.WriteString(l.Time.UTC().Format("15:04:05.000 "))
		}
		if in.Workload != "" {
			b.WriteString(l.Pod + " ")
		}
		b.WriteString(l.Text + "\n")
	}
	return b.String(), out, nil
}

func triageSummary(ref string, t triage.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Triage of %s: %s", ref, t.Health)
	if len(t.Reasons) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(t.Reasons, "; "))
	}
	if len(t.Suspects) == 0 {
		b.WriteString("; no suspect found")
	}
	for i, sus := range t.Suspects {
		fmt.Fprintf(&b, "\n%d. %s (confidence %.0f%%)", i+1, sus.Summary, sus.Confidence*100)
		for _, m := range sus.Mitigations {
			if m.Action == "open" {
				fmt.Fprintf(&b, "\n   look at %s", m.Entity)
				continue
			}
			fmt.Fprintf(&b, "\n   you may %s %s/%s in cluster %s", m.Action, m.Namespace, m.Workload, m.Cluster)
			if len(m.Params) > 0 {
				fmt.Fprintf(&b, " with %v", m.Params)
			}
		}
	}
	if len(t.Missing) > 0 {
		fmt.Fprintf(&b, "\nNot looked at (unavailable): %s", strings.Join(t.Missing, "; "))
	}
	return b.String()
}

func fireSummary(f api.Fire) string {
	if len(f.Incidents) == 0 {
		return fmt.Sprintf("Nothing is on fire among %d services.", f.Services)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d services in trouble:", len(f.Incidents), f.Services)
	for _, in := range f.Incidents {
		fmt.Fprintf(&b, "\n- %s is %s", in.Entity, in.Health)
		if len(in.Alerts) > 0 {
			fmt.Fprintf(&b, ", alerts %s", strings.Join(in.Alerts, ", "))
		}
		if in.Suspect != nil {
			fmt.Fprintf(&b, "; likely cause: %s", in.Suspect.Summary)
		}
	}
	return b.String()
}

func (s *Server) scorecards(ctx context.Context, req *mcp.CallToolRequest, in ScorecardIn) (string, ScorecardsOut, error) {
	var out ScorecardsOut
	if in.Ref != "" {
		var card api.Card
		if err := s.getUnder(ctx, req, in.Ref, "/scorecard", nil, &card); err != nil {
			return "", out, err
		}
		out.Services = []api.Card{card}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: level %s, score %d%%", card.Entity.String(), orDefault(card.Level, "none"), card.Score)
		for _, r := range card.Results {
			if r.Status == "fail" {
				fmt.Fprintf(&b, "\nfails %s", r.Check)
				if r.Message != "" {
					fmt.Fprintf(&b, ": %s", r.Message)
				}
			}
		}
		return b.String(), out, nil
	}
	q := url.Values{}
	if in.Team != "" {
		q.Set("team", strings.TrimPrefix(in.Team, "group:"))
	}
	var all api.Scorecards
	if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/scorecards", Query: q}, &all); err != nil {
		return "", out, err
	}
	out = ScorecardsOut{Levels: all.Levels, Services: all.Services, Summary: &all.Summary}
	for i := range out.Services {
		out.Services[i].Results = nil // the list: levels and scores; one service's card has the checks
	}
	if len(out.Services) > maxSearch {
		out.Services = out.Services[:maxSearch]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d services, average score %d%%", all.Summary.Services, all.Summary.Score)
	for _, l := range all.Levels {
		fmt.Fprintf(&b, ", %d at %s", all.Summary.ByLevel[l], l)
	}
	for _, c := range out.Services {
		fmt.Fprintf(&b, "\n- %s: %s, %d%%", c.Entity.String(), orDefault(c.Level, "no level"), c.Score)
	}
	return b.String(), out, nil
}

func (s *Server) alertsFiring(ctx context.Context, req *mcp.CallToolRequest, in AlertsIn) (string, AlertsOut, error) {
	out := AlertsOut{Items: []api.Alert{}, Errors: []string{}}
	if in.Ref != "" {
		var one struct {
			Items  []alerts.Alert `json:"items"`
			Errors []string       `json:"errors"`
		}
		if err := s.getUnder(ctx, req, in.Ref, "/alerts", nil, &one); err != nil {
			return "", out, err
		}
		for _, a := range one.Items {
			out.Items = append(out.Items, api.Alert{Alert: a, Fingerprint: a.Fingerprint(), Entity: in.Ref})
		}
		if one.Errors != nil {
			out.Errors = one.Errors
		}
	} else {
		q := url.Values{}
		if in.Team != "" {
			q.Set("team", strings.TrimPrefix(in.Team, "group:"))
		}
		var all api.Alerts
		if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/alerts", Query: q}, &all); err != nil {
			return "", out, err
		}
		out.Items, out.Errors = all.Items, all.Errors
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d alerts", len(out.Items))
	for _, a := range out.Items {
		fmt.Fprintf(&b, "\n- %s %s [%s]", a.Name, a.State, orDefault(a.Severity, "no severity"))
		if a.Entity != "" {
			fmt.Fprintf(&b, " on %s", a.Entity)
		}
		if !a.Since.IsZero() {
			fmt.Fprintf(&b, " since %s", a.Since.UTC().Format(time.RFC3339))
		}
		if a.Summary != "" {
			fmt.Fprintf(&b, ": %s", a.Summary)
		}
	}
	for _, e := range out.Errors {
		fmt.Fprintf(&b, "\nnot read: %s", e)
	}
	return b.String(), out, nil
}

func (s *Server) serviceTraces(ctx context.Context, req *mcp.CallToolRequest, in TracesIn) (string, api.Traces, error) {
	var out api.Traces
	q := url.Values{"order": {orDefault(in.Order, "recent")}, "limit": {strconv.Itoa(bound(in.Limit, 10, maxTraces))}}
	if in.Operation != "" {
		q.Set("operation", in.Operation)
	}
	if in.MinDuration != "" {
		q.Set("minDuration", in.MinDuration)
	}
	if err := s.getUnder(ctx, req, in.Ref, "/traces", q, &out); err != nil {
		return "", out, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s traces of %s", len(out.Items), out.Order, out.Service)
	for _, t := range out.Items {
		fmt.Fprintf(&b, "\n- %s %s %s, %d spans", t.ID, t.Root, t.Duration, t.Spans)
		if t.Errors > 0 {
			fmt.Fprintf(&b, ", %d errors", t.Errors)
		}
	}
	return b.String(), out, nil
}

func pathSummary(p api.CriticalPath) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Trace %s took %s across %s; on its critical path:", p.TraceID, p.Duration, strings.Join(p.Services, ", "))
	for i, c := range p.Contributors {
		if i == 8 {
			break
		}
		fmt.Fprintf(&b, "\n- %s %s: %s (%.0f%%)", c.Service, c.Operation, c.Duration, c.Share*100)
	}
	return b.String()
}

func (s *Server) pipelineRuns(ctx context.Context, req *mcp.CallToolRequest, in RunsIn) (string, api.Runs, error) {
	var out api.Runs
	q := url.Values{}
	if in.Project != "" {
		q.Add("project", in.Project)
	}
	if in.Ref != "" {
		var e api.Entity
		if err := s.getUnder(ctx, req, in.Ref, "", nil, &e); err != nil {
			return "", out, err
		}
		slugs := e.ProjectSlugs()
		if len(slugs) == 0 {
			return "", out, fmt.Errorf("not found: %s names no repository (github.com/project-slug or gitlab.com/project-slug)", in.Ref)
		}
		for _, sl := range slugs {
			q.Add("project", sl)
		}
	}
	if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/pipelines/runs", Query: q}, &out); err != nil {
		return "", out, err
	}
	if n := bound(in.Limit, 10, maxRuns); len(out.Items) > n {
		out.Items = out.Items[:n]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs", len(out.Items))
	for _, r := range out.Items {
		fmt.Fprintf(&b, "\n- %s %s #%s on %s (%s): %s", r.Project, r.Name, r.ID, orDefault(r.Branch, "?"), shortSHA(r.Commit), r.Status)
		for _, j := range r.Jobs {
			if j.Status != "success" && j.Status != "succeeded" {
				fmt.Fprintf(&b, "; job %s %s", j.Name, j.Status)
			}
		}
	}
	return b.String(), out, nil
}

func whereSummary(ref string, w api.WhereList) string {
	if len(w.Items) == 0 {
		return "Nothing of " + ref + " runs in a configured cluster."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s runs:", ref)
	for _, x := range w.Items {
		fmt.Fprintf(&b, "\n- %s %s/%s: %s", x.Cluster, x.Namespace, x.Workload, x.Image)
		if x.Build == nil {
			b.WriteString(" (no CI run reported building it)")
			continue
		}
		fmt.Fprintf(&b, ", built by %s #%s from %s", x.Build.Project, x.Build.RunID, shortSHA(x.Build.Commit))
		if !x.Build.ScanPassed {
			b.WriteString(", scan not passed")
		}
		if x.CommitsBehind != nil {
			fmt.Fprintf(&b, ", %d commits behind main", *x.CommitsBehind)
		}
	}
	return b.String()
}

func (s *Server) deliveryMetrics(ctx context.Context, req *mcp.CallToolRequest, in DeliveryIn) (string, api.Delivery, error) {
	var out api.Delivery
	q := url.Values{}
	who := "every service"
	switch {
	case in.Ref != "":
		r, err := catalog.ParseRef(in.Ref, catalog.KindComponent, catalog.DefaultNamespace)
		if err != nil {
			return "", out, fmt.Errorf("invalid: %v", err)
		}
		q.Set("entity", r.String())
		who = in.Ref
	case in.Team != "":
		q.Set("team", strings.TrimPrefix(in.Team, "group:"))
		who = in.Team
	}
	if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/dora", Query: q}, &out); err != nil {
		return "", out, err
	}
	cfr := "no deploys"
	if out.ChangeFailureRate != nil {
		cfr = fmt.Sprintf("%.0f%%", *out.ChangeFailureRate*100)
	}
	return fmt.Sprintf("Delivery of %s over %d weeks: %d deploys (%.1f a week), lead time %s, change failure rate %s, time to restore %s",
		who, len(out.Weeks), out.Deploys, out.DeploysPerWeek, seconds(out.LeadTimeSeconds), cfr, seconds(out.TimeToRestoreSeconds)), out, nil
}

func (s *Server) auditLog(ctx context.Context, req *mcp.CallToolRequest, in AuditIn) (string, api.AuditPage, error) {
	var out api.AuditPage
	q := url.Values{"limit": {strconv.Itoa(bound(in.Limit, 20, maxAudit))}}
	if in.Ref != "" {
		r, err := catalog.ParseRef(in.Ref, catalog.KindComponent, catalog.DefaultNamespace)
		if err != nil {
			return "", out, fmt.Errorf("invalid: %v", err)
		}
		q.Set("entity", r.String())
	}
	for k, v := range map[string]string{"actor": in.Actor, "action": in.Action, "result": in.Result} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if err := s.call(ctx, req, Call{Method: http.MethodGet, Path: "/api/v1/audit", Query: q}, &out); err != nil {
		return "", out, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d entries, newest first", len(out.Items))
	for _, e := range out.Items {
		fmt.Fprintf(&b, "\n- #%d %s %s %s %s/%s in %s: %s", e.ID, e.StartedAt.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Namespace, e.Name,
			orDefault(e.Cluster, "-"), e.Result)
		if e.Channel != "" {
			fmt.Fprintf(&b, " (via %s)", e.Channel)
		}
		if e.Error != "" {
			fmt.Fprintf(&b, ": %s", clip(e.Error, 200))
		}
	}
	return b.String(), out, nil
}

func bound(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func seconds(x float64) string {
	if x == 0 {
		return "n/a"
	}
	return (time.Duration(x) * time.Second).String()
}
