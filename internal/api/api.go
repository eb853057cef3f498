// Package api holds the JSON API's wire types: the shapes the server writes and that other
// front ends of the portal (the agent interface) read back. Types only, no behaviour; each
// names the route that returns it.
package api

import (
	"time"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/reach"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/internal/traces"
)

// Entity is an entity as GET /api/v1/entities/{kind}/{namespace}/{name} returns it:
// Backstage's shape, relations included, plus where it came from and whether it is an orphan.
type Entity struct {
	*catalog.Entity
	Orphan bool   `json:"orphan,omitempty"`
	Source string `json:"source"`
	File   string `json:"file"`
}

// EntityList is GET /api/v1/entities: one page and the cursor of the next.
type EntityList struct {
	Items []Entity `json:"items"`
	Total int      `json:"total"`
	Next  string   `json:"next,omitempty"`
}

// Logs is GET /api/v1/entities/…/logs: the last lines of a pod's (or a workload's pods')
// container, newest last.
type Logs struct {
	Cluster   string            `json:"cluster"`
	Namespace string            `json:"namespace"`
	Target    string            `json:"target"` // "pod x" or "all pods of y"
	Lines     []cluster.LogLine `json:"lines"`
	Capped    bool              `json:"capped"` // the tail limit was reached: older lines exist
}

// Alert is an alert as GET /api/v1/alerts lists it, with the service it is about and the
// team owning that service.
type Alert struct {
	alerts.Alert
	Fingerprint string `json:"fingerprint"`
	Entity      string `json:"entity,omitempty"` // the catalog service, e.g. component:default/payment
	Team        string `json:"team,omitempty"`   // its owning team's name
}

// Alerts is GET /api/v1/alerts (and, without entity and team, /api/v1/entities/…/alerts):
// the alerts and what could not be read.
type Alerts struct {
	Items  []Alert  `json:"items"`
	Errors []string `json:"errors"` // one per alert backend that failed, in words
}

// Traces is GET /api/v1/entities/…/traces: a service's traces in one order.
type Traces struct {
	Service string           `json:"service"`
	Order   string           `json:"order"` // recent, slowest or failed
	Items   []traces.Summary `json:"items"`
}

// CriticalPath is GET /api/v1/traces/{id}/critical-path: what decided the trace's duration.
type CriticalPath struct {
	TraceID      string               `json:"traceId"`
	Start        time.Time            `json:"start"`
	Duration     time.Duration        `json:"duration"`
	Services     []string             `json:"services"`
	Errors       int                  `json:"errors"`
	Segments     []traces.Segment     `json:"segments"`
	Contributors []traces.Contributor `json:"contributors"`
}

// Where is one running image as GET /api/v1/entities/…/where lists it.
type Where struct {
	Cluster     string `json:"cluster"`
	Environment string `json:"environment,omitempty"`
	Namespace   string `json:"namespace"`
	Workload    string `json:"workload"`
	Image       string `json:"image"`
	Build       *Build `json:"build,omitempty"` // absent: no CI run reported building it
	// CommitsBehind is how far the main branch has moved on since the build's commit.
	CommitsBehind *int `json:"commitsBehind,omitempty"`
}

// WhereList is GET /api/v1/entities/…/where.
type WhereList struct {
	Items []Where `json:"items"`
}

// Build is the CI run that built an image.
type Build struct {
	Project    string `json:"project"`
	RunID      string `json:"runId"`
	RunName    string `json:"runName,omitempty"`
	RunURL     string `json:"runUrl,omitempty"`
	Commit     string `json:"commit"`
	Branch     string `json:"branch,omitempty"`
	Status     string `json:"status"`
	ScanPassed bool   `json:"scanPassed"`
	Signed     bool   `json:"signed"`
}

// Run is a CI run as GET /api/v1/pipelines/runs lists it, with its jobs.
type Run struct {
	Source     string     `json:"source"`
	Project    string     `json:"project"`
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	URL        string     `json:"url,omitempty"`
	Branch     string     `json:"branch,omitempty"`
	Commit     string     `json:"commit"`
	Author     string     `json:"author,omitempty"`
	Trigger    string     `json:"trigger,omitempty"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Jobs       []Job      `json:"jobs"`
}

// Job is one job of a run.
type Job struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Stage      string     `json:"stage,omitempty"`
	Status     string     `json:"status"`
	Image      string     `json:"image,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Runs is GET /api/v1/pipelines/runs.
type Runs struct {
	Items []Run `json:"items"`
}

// Delivery is GET /api/v1/dora: DORA's four keys over the last weeks, and each week.
type Delivery struct {
	Deploys              int     `json:"deploys"`
	DeploysPerWeek       float64 `json:"deploysPerWeek"`
	LeadTimeSeconds      float64 `json:"leadTimeSeconds"`
	TimeToRestoreSeconds float64 `json:"timeToRestoreSeconds"`
	Failures             int     `json:"failures"`
	// ChangeFailureRate is absent when nothing was deployed.
	ChangeFailureRate *float64 `json:"changeFailureRate,omitempty"`
	Weeks             []Week   `json:"weeks"`
}

// Week is one week of delivery figures.
type Week struct {
	Start                time.Time `json:"start"`
	Deploys              int       `json:"deploys"`
	Failures             int       `json:"failures"`
	LeadTimeSeconds      float64   `json:"leadTimeSeconds"`
	FailureRate          *float64  `json:"failureRate,omitempty"`
	TimeToRestoreSeconds float64   `json:"timeToRestoreSeconds"`
}

// Card is a service's scorecard as GET /api/v1/entities/…/scorecard returns it.
type Card struct {
	Entity   catalog.Ref        `json:"entity"`
	Owner    *catalog.Ref       `json:"owner,omitempty"`
	Level    string             `json:"level"`
	Score    int                `json:"score"`
	Computed time.Time          `json:"computed"`
	Results  []scorecard.Result `json:"results"`
}

// Scorecards is GET /api/v1/scorecards: every visible service's card and the rollups.
type Scorecards struct {
	Levels   []string          `json:"levels"`
	Checks   []scorecard.Check `json:"checks"`
	Services []Card            `json:"services"`
	Summary  ScoreSummary      `json:"summary"`
}

// ScoreSummary rolls the cards up.
type ScoreSummary struct {
	Score    int            `json:"score"`
	Services int            `json:"services"`
	ByLevel  map[string]int `json:"byLevel"`
}

// Fire is GET /api/v1/fire: what is on fire now, most urgent first.
type Fire struct {
	Incidents []Incident `json:"incidents"`
	Services  int        `json:"services"` // services looked at
	Missing   []string   `json:"missing"`  // sources that could not be read
}

// Incident is one service in trouble.
type Incident struct {
	Entity  string     `json:"entity"`
	Health  string     `json:"health"`
	Onset   *time.Time `json:"onset"`
	Alerts  []string   `json:"alerts"`
	Suspect *Suspect   `json:"suspect,omitempty"`
	Affects []string   `json:"affects"`
}

// Suspect is an incident's most likely cause.
type Suspect struct {
	Kind       string  `json:"kind"`
	Entity     string  `json:"entity"`
	Summary    string  `json:"summary"`
	Confidence float64 `json:"confidence"`
}

// AuditPage is GET /api/v1/audit: entries newest first, and the cursor of the next page.
type AuditPage struct {
	Items []audit.Entry `json:"items"`
	Next  int           `json:"next,omitempty"` // pass as before= for the next page
}

// Error is every error answer: {"error": {"status": 404, "message": "…"}}.
type Error struct {
	Error struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"error"`
}

// Network is GET /api/v1/entities/…/network: the component's network reach, from the
// NetworkPolicies of each cluster where it runs.
type Network struct {
	Clusters []NetworkCluster `json:"clusters"`
}

// NetworkCluster is the reach in one cluster. Stale says the cluster is unreachable and
// this is its last known state.
type NetworkCluster struct {
	Cluster     string      `json:"cluster"`
	Environment string      `json:"environment,omitempty"`
	Stale       bool        `json:"stale,omitempty"`
	Policies    int         `json:"policies"` // NetworkPolicies in the cluster
	Reach       reach.Reach `json:"reach"`
}
