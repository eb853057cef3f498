package components

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
	Channel            string // ui, api or mcp:<client>
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
