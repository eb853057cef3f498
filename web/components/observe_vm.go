package components

// Observe are the entity page's observability panels (URLs empty when not configured).
type Observe struct {
	MetricsURL, AlertsURL, TracesURL, DepsURL string
	PipelinesURL, DoraURL                     string
	TriageURL                                 string // the banner that links the triage view when something is wrong
	WhereURL                                  string // what runs where (from CI and the clusters), for the overview
	ScorecardURL, ScorecardEvents             string // production readiness, live
}

// TriageBanner says that something is wrong with the service and links its triage view.
type TriageBanner struct {
	Href, Health string
	Reasons      []string
}

// MetricsPanel is a service's charts over a range.
type MetricsPanel struct {
	URL       string
	ID, Title string // the panel's element id and heading: metrics, Metrics unless set
	Ranges    []RangeLink
	Charts    []Chart
}

func (p MetricsPanel) id() string {
	if p.ID == "" {
		return "metrics"
	}
	return p.ID
}

func (p MetricsPanel) title() string {
	if p.Title == "" {
		return "Metrics"
	}
	return p.Title
}

// AlertsPanel lists a service's alerts, or says what could not be read.
type AlertsPanel struct {
	Rows    []AlertRow
	Errors  []string
	Hint    string
	Refresh string // the panel's URL: it reloads itself to show new alerts
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
	Triage                string // the owning service's triage view from this alert
}

// AlertsPage is every firing and pending alert, grouped by owning team.
type AlertsPage struct {
	Groups                    []AlertGroup
	Errors                    []string
	Firing, Pending, Silenced int
	Refresh                   string // the page's URL: its list reloads itself to show new alerts
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

// DepMap is the observed dependency map of a service against the catalog.
type DepMap struct {
	Graph      *Graph
	Err        string
	Undeclared []string
	Unused     []string
	Lookback   string
}
