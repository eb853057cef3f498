package components

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
