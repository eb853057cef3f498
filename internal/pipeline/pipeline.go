// Package pipeline turns CI/CD webhook deliveries — GitHub (workflow_run, workflow_job,
// check_run, push, deployment, deployment_status), GitLab (Pipeline, Job and Deployment
// hooks) and Portico's generic JSON event — into one model of runs, jobs mapped to delivery
// stages, pushes and deployments. It is pure: parsing and stage mapping only.
package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/portico-dev/portico/internal/limits"
)

// Status is a run's, job's or deployment's state.
type Status string

// Statuses, from first to last.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Success   Status = "success"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
	Skipped   Status = "skipped"
)

// Final reports whether the status will not change again (short of a re-run).
func (s Status) Final() bool { return s == Success || s == Failed || s == Cancelled || s == Skipped }

// Rank orders statuses for deliveries with the same timestamp: a final state wins.
func (s Status) Rank() int {
	switch s {
	case Queued:
		return 0
	case Running:
		return 1
	}
	return 2
}

// Stage is a step of the delivery pipeline.
type Stage string

// The stages, in the order a change goes through them.
const (
	Review         Stage = "review"
	StaticAnalysis Stage = "static-analysis"
	UnitTests      Stage = "unit-tests"
	ImageBuild     Stage = "image-build"
	SecurityScan   Stage = "security-scan"
	Push           Stage = "push"
	Deploy         Stage = "deploy"
	SmokeTest      Stage = "smoke-test"
	Canary         Stage = "canary"
	Production     Stage = "production"
	Other          Stage = "other"
)

// Stages lists the stages in order.
var Stages = []Stage{Review, StaticAnalysis, UnitTests, ImageBuild, SecurityScan, Push, Deploy, SmokeTest, Canary, Production}

// DefaultPatterns map job (or GitLab stage) names to stages; the first stage whose pattern
// matches wins, so the more specific come first.
var DefaultPatterns = []struct {
	Stage   Stage
	Pattern string
}{
	{Canary, `canary`},
	{Production, `\bprod(uction)?\b|promote|release-prod`},
	{SecurityScan, `scan|trivy|snyk|grype|security|vuln|sast|dast|codeql`},
	{SmokeTest, `smoke|e2e|end-to-end|acceptance|verify`},
	{StaticAnalysis, `lint|static|vet|sonar|analy[sz]|format|check-style|golangci`},
	{UnitTests, `test|spec|unit`},
	{ImageBuild, `build|docker|image|package|compile|kaniko|buildx`},
	{Push, `push|publish|upload|registry`},
	{Deploy, `deploy|rollout|helm|argocd|kubectl|staging`},
	{Review, `review|pull[-_ ]?request|\bpr\b|approv|merge[-_ ]?request`},
}

// Mapper maps job names to stages.
type Mapper struct {
	rules []rule
}

type rule struct {
	stage Stage
	re    *regexp.Regexp
}

// NewMapper builds a mapper from (stage, pattern) pairs, case-insensitive; nil: the defaults.
func NewMapper(patterns map[Stage][]string) (*Mapper, error) {
	m := &Mapper{}
	if patterns == nil {
		for _, p := range DefaultPatterns {
			m.rules = append(m.rules, rule{p.Stage, regexp.MustCompile(`(?i)` + p.Pattern)})
		}
		return m, nil
	}
	for _, st := range append(append([]Stage{}, Stages...), Other) {
		for _, p := range patterns[st] {
			re, err := regexp.Compile(`(?i)` + p)
			if err != nil {
				return nil, fmt.Errorf("stage %s: pattern %q: %v", st, p, err)
			}
			m.rules = append(m.rules, rule{st, re})
		}
	}
	for st := range patterns {
		if st != Other && !validStage(st) {
			return nil, fmt.Errorf("unknown stage %q (want one of %v)", st, Stages)
		}
	}
	return m, nil
}

func validStage(s Stage) bool {
	for _, x := range Stages {
		if x == s {
			return true
		}
	}
	return false
}

// Stage maps a job by its names (job name first, then a CI stage name).
func (m *Mapper) Stage(names ...string) Stage {
	for _, n := range names {
		if n == "" {
			continue
		}
		for _, r := range m.rules {
			if r.re.MatchString(n) {
				return r.stage
			}
		}
	}
	return Other
}

// Event is one delivery, normalized.
type Event struct {
	Source     string // github, gitlab, generic
	Kind       string // run, job, push, deployment
	Project    string // the repository's slug: owner/repo or group/project
	Run        *Run
	Jobs       []Job
	Push       *PushEvent
	Deployment *Deployment
}

// Run is one pipeline run (a GitHub workflow run or check suite, a GitLab pipeline, …).
type Run struct {
	ID, Name, URL   string
	Branch, Commit  string
	Author, Message string
	Trigger         string // push, pull_request, schedule, merge_request_event, …
	Status          Status
	Partial         bool // known from a job event only: fields other than IDs may be empty
	CreatedAt       time.Time
	StartedAt       time.Time
	FinishedAt      time.Time
	UpdatedAt       time.Time // when the provider last changed it: orders late and duplicate deliveries
}

// Job is one job of a run, mapped to a stage.
type Job struct {
	RunID, ID, Name string
	StageName       string // the CI's own stage, where it has one
	Stage           Stage
	Status          Status
	URL             string
	Image           string // the image the job produced, when the event says
	StartedAt       time.Time
	FinishedAt      time.Time
	UpdatedAt       time.Time
}

// PushEvent is commits pushed to a branch.
type PushEvent struct {
	Branch, Before, After, Pusher string
	Commits                       []Commit
	At                            time.Time
}

// Commit is one pushed commit.
type Commit struct {
	SHA, Message, Author string
	At                   time.Time
}

// Deployment is a deployment's state in an environment.
type Deployment struct {
	ID, Environment, Commit, Ref string
	Status                       Status
	Creator, URL, Image          string
	UpdatedAt                    time.Time
}

// ErrIgnored means a delivery of a kind Portico does not use (it is acknowledged, not stored).
var ErrIgnored = errors.New("event not used")

// ErrMalformed means a delivery that cannot be read.
var ErrMalformed = errors.New("malformed event")

// MaxPayload bounds a delivery's body (the webhook handlers read no more).
const MaxPayload = 1 << 20

// bounded refuses a delivery over MaxPayload or nested deeper than limits.MaxDepth, as
// malformed.
func bounded(what string, body []byte) error {
	if err := limits.Size(what, len(body), MaxPayload); err != nil {
		return malformed("%v", err)
	}
	if err := limits.JSONDepth(what, body, limits.MaxDepth); err != nil {
		return malformed("%v", err)
	}
	return nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700", "2006-01-02T15:04:05.000Z07:00", "2006-01-02 15:04:05"}

// parseTime reads the time formats the providers use; "" and null are the zero time.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
