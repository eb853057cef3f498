package components

// Triage is the on-call page of one service: what is broken, since when, what changed, the
// likely causes ranked, and what the user may do about them.
type Triage struct {
	Entity         Link
	Health         HealthBadge
	Reasons        []string
	Owner          Link
	OnCall         []Link
	Onset, OnsetAt string // words, and RFC 3339 for the machine-readable time element
	AlertName      string // set when opened from an alert
	AlertGone      bool   // the alert named in the address is no longer firing
	Missing        []string
	Alerts         []AlertRow
	Charts         []Chart // errors and latency on one time axis
	Timeline       []TimelineRow
	Suspects       []SuspectRow
	Runbook        *InlineRunbook
	APIHref        string
	CSRF           string
}

// TimelineRow is one change on the triage timeline.
type TimelineRow struct {
	At, AtISO, Kind, Summary, Actor string
	Entity                          Link
	Href                            string
	Own                             bool // about the service itself (not a dependency)
}

// SuspectRow is one ranked likely cause.
type SuspectRow struct {
	Rank        int
	Kind        string
	Summary     string
	Confidence  int // percent
	Subject     string
	Evidence    []EvidenceRow
	Mitigations []MitigationButton
	Hidden      []string // mitigations the user may not perform, with why
}

// EvidenceRow is one signal behind a suspect.
type EvidenceRow struct {
	Signal, Detail, At string
	Href               string
}

// MitigationButton is a suggested action: a form into the workload's action flow (preview,
// reason, confirmation, audit), or a link for "open".
type MitigationButton struct {
	Label, Action string
	Post          string // the action's address; empty for a link
	Href          string
	Fields        []Hidden
	Primary       bool
}

// InlineRunbook is a service's runbook shown on the triage page, its mitigation first.
type InlineRunbook struct {
	Title, Href string
	Mitigation  string // sanitized HTML of the mitigation section, if the runbook has one
	HTML        string // sanitized HTML of the whole runbook
}

// OnFire is every service degraded or alerting now, one line per incident.
type OnFire struct {
	Rows     []FireRow
	Missing  []string
	Services int // services looked at
	OnCall   bool
}

// FireRow is one incident: a service, and the others it takes down with it.
type FireRow struct {
	Entity          Link
	Triage          string
	Health          HealthBadge
	Severity        string
	Alerts          []string
	Since, SinceISO string
	TopSuspect      string
	SuspectKind     string
	Confidence      int
	Affects         []Link // services whose top suspect is this one
	Owner           Link
}
