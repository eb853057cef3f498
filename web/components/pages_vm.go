package components

// Teams is the teams page.
type Teams struct {
	Teams []Team
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

// RunbookList is the runbook index.
type RunbookList struct {
	Query string
	Books []RunbookRow
}

// Runbook is a rendered runbook page.
type Runbook struct {
	Title    string
	Path     string
	HTML     string // sanitized by the runbooks package
	Entities []Link
}
