// Package components holds the portal's templ components. Each is a pure function of a view
// model declared here: plain structs shaped like the page, built by the HTTP handlers.
package components

import (
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/graph"
)

// Page is what the layout needs besides the body.
type Page struct {
	Title     string
	Nav       string // which navigation entry is active: catalog, teams, systems, apis, runbooks, health
	Query     string // the global search box's value
	RequestID string
	Version   string
	Problems  int    // catalog errors, shown as a badge on Catalog health
	User      string // signed-in user's name; empty when anonymous
	SignIn    bool   // sign-in is configured
	CSRF      string // token for the forms on the page
	Alerts    bool   // an alerts backend is configured: "Alerts" is in the navigation
	Pipelines bool   // CI webhooks are enabled: "Pipelines" is in the navigation
	// Assets is the version of the embedded static files, appended to their URLs so a new
	// release is never rendered with a browser's cached stylesheet.
	Assets string
}

// Link is a labelled href; an empty Href renders plain text.
type Link struct {
	Label string
	Href  string
}

// Option is one choice of a select.
type Option struct {
	Value, Label string
	Selected     bool
}

// CatalogList is the catalog list page (also used for Systems and APIs).
type CatalogList struct {
	Heading     string
	Intro       string
	Path        string // form action, e.g. /catalog
	Query       string
	Sort        []Option
	Hidden      []Hidden // filters carried by the search form
	Facets      []Facet
	Chips       []Chip
	ClearHref   string
	Rows        []EntityRow
	Total       int
	Page, Pages int
	PrevHref    string
	NextHref    string
	// CatalogEmpty is set when the catalog holds no entity at all (as opposed to no match).
	CatalogEmpty bool
}

// Hidden is a hidden form field.
type Hidden struct{ Name, Value string }

// Facet is one filter dimension with its values and counts.
type Facet struct {
	Name, Label string
	Values      []FacetValue
	More        int // values not shown
}

// FacetValue is one value of a facet; Href toggles it.
type FacetValue struct {
	Label    string
	Count    int
	Selected bool
	Href     string
}

// Chip is an active filter with a link that removes it.
type Chip struct {
	Label, RemoveHref string
}

// EntityRow is an entity in a list.
type EntityRow struct {
	Kind        string
	Name        string
	Title       string
	Href        string
	Description string
	Owner       Link
	System      Link
	Type        string
	Lifecycle   string
	Tags        []string
	Orphan      bool
	Health      *HealthBadge // live health for components that run in a cluster
}

// Entity is an entity page.
type Entity struct {
	Kind        string
	Name        string
	Namespace   string
	Title       string
	Description string
	Lifecycle   string
	Type        string
	Orphan      bool
	OrphanSince string
	About       []Field
	Tags        []string
	Links       []ExternalLink
	Runbooks    []Link
	Annotations []Field
	Labels      []Field
	Relations   []RelationGroup
	Graph       *Graph
	Definition  *Definition
	Members     []Person
	Owned       []EntityRow
	Children    []EntityRow // hasPart: a system's components, a domain's systems
	Source      string
	JSONHref    string
	Problems    []ProblemRow
	RuntimeURL  string // the live runtime panel, for components that run somewhere
	Observe     Observe
}

// Field is a labelled value, optionally linked.
type Field struct {
	Label string
	Value string
	Href  string
}

// ExternalLink is a metadata link.
type ExternalLink struct {
	Title, URL, Type string
	Text             string // the address as text, when it is not one to link to (URL empty)
}

// RelationGroup lists the targets of one relation type.
type RelationGroup struct {
	Type    string
	Targets []Link
}

// Definition is an API's definition text.
type Definition struct {
	Type     string
	Text     string
	Lines    int
	Language string
}

// Person is a group member.
type Person struct {
	Name, Email, Href, Initials string
}

// The graph view models are internal/graph's layout, drawn as SVG here.
type (
	Graph     = graph.Graph
	GraphNode = graph.Box
	GraphEdge = graph.Edge
)

// Teams is the teams page.
type Teams struct {
	Teams []Team
}

// Team is a group card.
type Team struct {
	Name, Title, Href, Description, Type, Email string
	Members, Owned                              int
	Parent                                      Link
}

// Health is the catalog health page.
type Health struct {
	Sources  []SourceRow
	Problems []ProblemRow
	Errors   int
	Warnings int
	Entities int
	Filter   string // "", "error" or "warning"
}

// SourceRow is a catalog source's status.
type SourceRow struct {
	Name, Location, Revision, RefreshedAt, Took, Error string
	Entities                                           int
	OK                                                 bool
}

// ProblemRow is one catalog problem.
type ProblemRow struct {
	Severity string
	Source   string
	Where    string // file:line:col
	Message  string
	Entity   Link
}

// RunbookList is the runbook index.
type RunbookList struct {
	Query string
	Books []RunbookRow
}

// RunbookRow is a runbook in the index.
type RunbookRow struct {
	Title, Href, Path, Summary string
	Entities                   []Link
}

// Runbook is a rendered runbook page.
type Runbook struct {
	Title    string
	Path     string
	HTML     string // sanitized by the runbooks package
	Entities []Link
}

// ErrorPage is shown for failed requests.
type ErrorPage struct {
	Status  int
	Title   string
	Message string
	Hint    string
}

// Runtime is the live runtime panel of a component.
type Runtime struct {
	Mapped   bool   // the component names its workloads (kubernetes annotations)
	Selector string // the label selector used
	Error    string // a mapping annotation that cannot be used
	Health   HealthBadge
	Clusters []ClusterRuntime
	Refresh  string // URL the panel reloads from
}

// HealthBadge is a health verdict for display.
type HealthBadge struct {
	Level  string // healthy, progressing, degraded, down, unknown
	Reason string
}

// ClusterRuntime is one cluster's part of the runtime panel.
type ClusterRuntime struct {
	Name, Environment string
	Stale             string // "stale since …" when the cluster is unreachable
	Error             string
	Health            HealthBadge
	Workloads         []Workload
	Services          []Field
	Ingresses         []Link
	Events            []Field
}

// Workload is a workload row with its pods.
type Workload struct {
	Kind, Namespace, Name  string
	Replicas               string // ready/desired
	Updated, Available     int32
	Revision, Image        string
	Rollout, RolloutReason string
	HPA, PDB               string
	Health                 HealthBadge
	Pods                   []PodRow
	LogsHref               string // every pod's logs, merged
	ManageHref             string // the workload page: deploy, roll back, scale, restart
}

// PodRow is one pod.
type PodRow struct {
	Name, Phase, Node, Age, Reason, LastTermination string
	Ready                                           bool
	Restarts                                        int32
	LogsHref                                        string
}

// Clusters is the clusters page.
type Clusters struct {
	Clusters []ClusterCard
}

// ClusterCard is one cluster's overview.
type ClusterCard struct {
	Name, Environment, Version, Reachability, Error string
	OK                                              bool
	Nodes, NodesReady                               int
	Pods                                            []Field
}

// Logs is the logs page of a pod or a workload.
type Logs struct {
	Entity    Link
	Target    string // "pod payments/payment-abc" or "all pods of Deployment payments/payment"
	Cluster   string
	Lines     []LogLine
	Error     string
	Tail      []Option // links to other tail sizes
	Previous  Link     // toggles the previous container
	FollowURL string   // SSE stream of new lines (single pods only)
	Capped    bool
}

// LogLine is one line of a log.
type LogLine struct {
	Time, Pod, Text string
	Level           string // error, warn or "" for colouring
}

// Home is a signed-in user's start page: their teams and what those own.
type Home struct {
	User     string
	Teams    []Link
	Services []EntityRow
}

// Flash is the outcome of the last action, shown at the top of a page.
type Flash struct {
	Kind    string // ok, warn, error
	Title   string
	Message string
	Link    *Link
}

// ActionState says whether the user may use an action here, and if not, why.
type ActionState struct {
	Allowed bool
	Why     string
}

// WorkloadPage is a Deployment's page: live progress, revisions and the actions.
type WorkloadPage struct {
	Entity                Link
	Cluster, Environment  string
	Namespace, Name       string
	Production            bool
	Base                  string // this page's URL; actions post to Base/<action>
	EventsURL             string // server-sent events when the workload changes
	CSRF                  string
	Flash                 *Flash
	Progress              Progress
	Revisions             []RevisionRow
	Containers            []string
	Images                []string // images this service ran before, newest first
	Generation            int64
	Replicas, MaxReplicas int32
	HPA                   *HPABounds
	Deploy, Rollback      ActionState
	Scale, Restart        ActionState
	Audit                 []AuditRow
	AuditHref             string
}

// HPABounds is the autoscaler that manages a workload.
type HPABounds struct {
	Name     string
	Min, Max int32
}

// Progress is a rollout's state: updated, ready and available replicas against the desired
// count, and the ReplicaSets coming up and going.
type Progress struct {
	URL                                string
	State, Reason                      string // complete, progressing, stalled
	Desired, Updated, Ready, Available int32
	Total                              int32
	Sets                               []ReplicaSetRow
	Pods                               []PodRow
	Health                             HealthBadge
}

// ReplicaSetRow is one revision's replicas during a rollout.
type ReplicaSetRow struct {
	Revision, Name, Image string
	Current               bool
	Desired, Ready        int32
}

// RevisionRow is one entry of the revision history.
type RevisionRow struct {
	Revision      int
	Images, Cause string
	Age, Created  string
	Who           string // from the audit log, or "outside Portico"
	Current       bool
	Replicas      string
}

// ConfirmAction is the dry-run preview of an action, with the form that applies it.
type ConfirmAction struct {
	Title, Verb       string
	Entity            Link
	Workload, Cluster string
	Environment       string
	Message           string
	Before, After     string
	Diff              []DiffLine
	Unchanged         bool
	Warning           string
	NeedReason        bool
	NeedName          bool
	Name              string
	Reason            string
	Post, Cancel      string
	Fields            []Hidden
	CSRF              string
}

// DiffLine is one line of a unified diff, classed for colour.
type DiffLine struct {
	Kind string // add, del, hunk, ctx
	Text string
}

// AuditPage is the audit log with its filters.
type AuditPage struct {
	Title      string
	Filters    []Hidden // current filter values
	Actor      string
	Action     string
	Result     string
	Cluster    string
	Entity     string
	Actions    []string
	Results    []string
	Rows       []AuditRow
	Next       string // URL of the next (older) page
	ExportJSON string
	ExportCSV  string
	Scoped     bool // one entity's log
}

// AuditRow is one audit entry.
type AuditRow struct {
	ID                 int
	When, WhenISO      string
	Actor, SourceIP    string
	Action, Params     string
	Reason             string
	Target, TargetHref string
	Entity             string
	Before, After      string
	Result, Error      string
	RequestID          string
}

// Me is the signed-in user's page.
type Me struct {
	Name, Email, Subject string
	Groups               []string
	Teams                []Link
	Roles                []Field // role → where
	Owned                []EntityRow
	Audit                []AuditRow
	AuditHref            string
}

// The chart view models are internal/chart's layout: pure geometry, drawn as SVG here.
type (
	Chart      = chart.Chart
	Tick       = chart.Tick
	ChartLine  = chart.Line
	Dot        = chart.Dot
	Band       = chart.Band
	LegendItem = chart.LegendItem
)

// Observe are the entity page's observability panels (URLs empty when not configured).
type Observe struct {
	MetricsURL, AlertsURL, TracesURL, DepsURL string
	PipelinesURL, DoraURL                     string
}

// MetricsPanel is a service's charts over a range.
type MetricsPanel struct {
	URL    string
	Ranges []RangeLink
	Charts []Chart
}

// RangeLink picks a time range.
type RangeLink struct {
	Label, Href string
	Active      bool
}

// AlertsPanel lists a service's alerts, or says what could not be read.
type AlertsPanel struct {
	Rows   []AlertRow
	Errors []string
	Hint   string
}

// AlertRow is one alert.
type AlertRow struct {
	Name, State, Severity string
	Since, SinceISO       string
	Summary, Description  string
	Silenced, Inhibited   bool
	Runbook               Link // Href empty without one; internal when it points at Portico
	RunbookExternal       bool
	Labels                string
	Service               Link
	GeneratorURL          string
}

// AlertsPage is every firing and pending alert, grouped by owning team.
type AlertsPage struct {
	Groups                    []AlertGroup
	Errors                    []string
	Firing, Pending, Silenced int
}

// AlertGroup is one team's alerts.
type AlertGroup struct {
	Team Link
	Rows []AlertRow
}

// TracesPanel lists a service's traces with filters.
type TracesPanel struct {
	Service     string
	Err         string
	Tabs        []RangeLink
	Tab         string
	Operations  []string
	Operation   string
	MinDuration string
	Rows        []TraceRow
	AllHref     string
	Action      string // the filter form's target
	Full        bool   // the traces page (filters shown) rather than the entity panel
}

// TraceRow is a trace in a list.
type TraceRow struct {
	ID, Root, Start, Duration, Services string
	Spans, Errors                       int
	Href                                string
	Bar                                 float64 // duration relative to the slowest shown, 0..100
}

// TracePage is a trace's waterfall.
type TracePage struct {
	ID, Start, Duration string
	Spans, Errors       int
	Services            []LegendItem
	Ticks               []Tick // positions 0..1000
	Rows                []SpanRow
	JaegerHref          string
	Back                Link
}

// SpanRow is one span of the waterfall.
type SpanRow struct {
	ID, Service, Operation, Duration, StartOffset string
	Depth                                         int
	X, W                                          float64 // on a 0..1000 axis
	Class                                         string  // svc-N colour
	Error                                         bool
	Tags                                          []Field
	Events                                        []Field
}

// DepMap is the observed dependency map of a service against the catalog.
type DepMap struct {
	Graph      *Graph
	Err        string
	Undeclared []string
	Unused     []string
	Lookback   string
}

// PipelinesPanel lists runs with their stage strips.
type PipelinesPanel struct {
	Title    string
	Rows     []RunRow
	Empty    string
	AllHref  string
	Teams    []RangeLink // the pipelines page's team filter
	Full     bool
	Projects []string
	Where    []WhereRow
	Refresh  string // the panel's URL, for live reloads (empty on the pipelines page)
}

// WhereRow is what one workload runs: its image, and the commit and run that built it.
type WhereRow struct {
	Cluster, Environment, Workload, Image string
	Commit, Ahead, RunStatus              string
	Run                                   Link
	Scan                                  string // passed, not passed, unknown
}

// RunRow is one CI run.
type RunRow struct {
	Name, Status, Branch, Commit, Author string
	Trigger, Message, When, WhenISO      string
	Duration, URL, Project               string
	Images                               []string // images the run produced
	Service                              Link
	Stages                               []StageCell
}

// StageCell is one stage of a run's strip.
type StageCell struct {
	Stage, Status, Title string
}

// DoraPanel is the delivery metrics of a service or team.
type DoraPanel struct {
	Title       string
	Deploys     string
	PerWeek     string
	LeadTime    string
	FailureRate string
	Restore     string
	Charts      []Chart
	Note        string
}
