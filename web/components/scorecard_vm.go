package components

// ScorecardPanel is a service's scorecard on its page.
type ScorecardPanel struct {
	Level   string // "" when not even the first rung is reached
	Score   int
	Ladder  []LevelStep
	Failing []CheckResult // failing and erroring checks, lowest level first
	Exempt  []CheckResult
	Passing []CheckResult
	NA      []CheckResult
	Refresh string // the panel's URL (it reloads itself on a change)
	Events  string // its SSE stream
	Updated string // when the card was computed
	AllHref string
	Err     string
	Flash   *Flash
	// Badge is the service's badge and the Markdown that shows it in a README.
	BadgeURL, BadgeMarkdown string
	BadgePublic             bool
	// Exempting: the form's target and bounds, when the user may exempt.
	CanExempt          bool
	ExemptPost, CSRF   string
	UntilMin, UntilMax string // dates, YYYY-MM-DD
	UntilDefault       string
}

// LevelStep is one rung of the ladder and whether the service reached it.
type LevelStep struct {
	Name    string
	Reached bool
}

// CheckResult is one check's outcome for a service, with what to do about it.
type CheckResult struct {
	ID, Title, Level, Category string
	Rationale, Fix             string
	Status                     string // pass, fail, n/a, error, exempt
	Failing                    []string
	Message                    string
	Snippet, SnippetKind       string
	Command                    string // how to apply the snippet
}

// ScorecardsPage is the matrix of services × checks, the rollups and "fix first".
type ScorecardsPage struct {
	Levels      []string
	Company     ScoreSummary
	Teams       []ScoreSummary
	Systems     []ScoreSummary
	Checks      []CheckHead
	Rows        []ScoreRow
	FixFirst    []FixItem
	Filters     []ScoreFilter
	Empty       string
	Shown       int
	Pager       []RangeLink // pages of the matrix, when there are several
	Trend       *Chart      // score over time (and a check's pass share), from the daily snapshots
	Initiatives []InitiativeRow
	Updated     string
	APIHref     string
}

// ScoreSummary is a rollup: a team's, a system's or the company's.
type ScoreSummary struct {
	Name     Link
	Score    int
	Services int
	ByLevel  []LevelCount
}

// LevelCount is how many services stand at a level ("none" for below the first).
type LevelCount struct {
	Level string
	Count int
}

// CheckHead is a column of the matrix.
type CheckHead struct {
	ID, Title, Level string
	Failing          int
}

// ScoreRow is a service's line of the matrix.
type ScoreRow struct {
	Entity, Owner Link
	Level         string
	Score         int
	Cells         []ScoreCell
}

// ScoreCell is one check's status for one service.
type ScoreCell struct {
	Status, Title string
}

// FixItem is a failing check and the production services it affects, most first.
type FixItem struct {
	Check      CheckHead
	Fix        string
	Production int
	Services   []FixService
	More       Link // the matrix filtered to the check, when Services is not all of them
}

// FixService is one service a check fails on, with what fails and the YAML to add.
type FixService struct {
	Entity               Link
	Failing              []string
	Snippet, SnippetKind string
	Command              string
}

// ScoreFilter is one filter of the page: its name and choices.
type ScoreFilter struct {
	Name    string
	Choices []RangeLink
}

// InitiativeRow is an initiative on the scorecards page, with its progress now.
type InitiativeRow struct {
	Link           Link
	Due, Scope     string
	Meeting, Total int
	Percent        int
	Overdue        bool
}

// InitiativePage is one initiative: what it asks, its progress, burn-up and what is left.
type InitiativePage struct {
	Title, Description string
	Due, Scope, Level  string
	Checks             []string
	Meeting, Total     int
	Percent            int
	BurnUp             *Chart
	Remaining          []InitiativeService
}

// InitiativeService is a service that does not meet an initiative yet, and why.
type InitiativeService struct {
	Entity  Link
	Level   string
	Failing []string
}
