package components

// Small view models several components share.

// Option is one choice of a select.
type Option struct {
	Value, Label string
	Selected     bool
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

// Person is a group member.
type Person struct {
	Name, Email, Href, Initials string
}

// Team is a group card.
type Team struct {
	Name, Title, Href, Description, Type, Email string
	Members, Owned                              int
	Parent                                      Link
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

// RunbookRow is a runbook in the index.
type RunbookRow struct {
	Title, Href, Path, Summary string
	Entities                   []Link
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
	Name, Phase, Node, NodeHref, Age, Reason, LastTermination string
	Ready                                                     bool
	Restarts                                                  int32
	LogsHref                                                  string
}

// ClusterCard is one cluster's overview.
type ClusterCard struct {
	Name, DisplayName, Environment, Version, Reachability, Error string
	OK                                                           bool
	Nodes, NodesReady                                            int
	Pods                                                         []Field
}

// HPABounds is the autoscaler that manages a workload.
type HPABounds struct {
	Name     string
	Min, Max int32
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

// DiffLine is one line of a unified diff, classed for colour.
type DiffLine struct {
	Kind string // add, del, hunk, ctx
	Text string
}

// RangeLink picks a time range.
type RangeLink struct {
	Label, Href string
	Active      bool
}

// AlertGroup is one team's alerts.
type AlertGroup struct {
	Team Link
	Rows []AlertRow
}

// TraceRow is a trace in a list.
type TraceRow struct {
	ID, Root, Start, Duration, Services string
	Spans, Errors                       int
	Href                                string
	Bar                                 float64 // duration relative to the slowest shown, 0..100
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
