// Package scorecard grades each service against production-readiness checks written in CEL
// (the language of Kubernetes admission policies) over the service's live facts: its catalog
// entity, its workloads and their pod templates, the autoscalers, disruption budgets, network
// policies and Services around them, its alert rules, runbook, CI and delivery figures. A
// check says why it matters, how to fix it and, where it applies, the YAML to add.
//
// It is pure: the facts come in, results go out. Gathering them from the cluster caches (or
// from manifest files, for `portico scorecard check`) is the caller's.
package scorecard

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Check is one production-readiness rule.
type Check struct {
	ID        string `yaml:"id" json:"id"`
	Title     string `yaml:"title" json:"title"`
	Level     string `yaml:"level" json:"level"`
	Category  string `yaml:"category" json:"category,omitempty"`
	Rationale string `yaml:"rationale" json:"rationale"`
	Fix       string `yaml:"fix" json:"fix"`
	// Expr is the check: true passes; or a list of what fails it ("payment/api: no
	// readinessProbe"), where an empty list passes.
	Expr string `yaml:"expr" json:"expr"`
	// Applies, when set, says whether the check concerns the service at all; false makes the
	// result "not applicable", which counts neither for nor against it.
	Applies string `yaml:"applies" json:"applies,omitempty"`
	// Requires names the custom resources the check reads (for example
	// vulnerabilityreports.aquasecurity.github.io); where none of the service's clusters
	// serves them, the check is not applicable, never failed.
	Requires []string `yaml:"requires" json:"requires,omitempty"`
	// Snippet is the YAML to add, as a Go template over the failing workload (.Name,
	// .Namespace, .Containers, .Labels, .Service). SnippetKind says what to do with it:
	// "patch" (a strategic-merge patch of the workload), "apply" (a new object) or
	// "catalog" (lines for catalog-info.yaml).
	Snippet     string `yaml:"snippet" json:"snippet,omitempty"`
	SnippetKind string `yaml:"snippetKind" json:"snippetKind,omitempty"`
	// Source is where the check was defined: "built-in" or the file's path.
	Source string `yaml:"-" json:"source"`
}

// File is a checks file (scorecards.file): checks, and initiatives over them.
type File struct {
	Checks      []Check      `yaml:"checks"`
	Initiatives []Initiative `yaml:"initiatives"`
}

// Initiative is a push to bring a set of services up to a bar by a date (Cortex and
// OpsLevel have them): the checks to pass, or a level to reach, within a scope.
type Initiative struct {
	ID          string   `yaml:"id" json:"id"`
	Title       string   `yaml:"title" json:"title"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Checks      []string `yaml:"checks" json:"checks,omitempty"`
	Level       string   `yaml:"level" json:"level,omitempty"`
	Scope       Scope    `yaml:"scope" json:"scope"`
	Start       string   `yaml:"start" json:"start,omitempty"` // YYYY-MM-DD: where its burn-up begins
	Due         string   `yaml:"due" json:"due"`               // YYYY-MM-DD
}

// Scope narrows an initiative to services: empty fields match all.
type Scope struct {
	Team      string `yaml:"team" json:"team,omitempty"` // group:default/team-payments
	System    string `yaml:"system" json:"system,omitempty"`
	Lifecycle string `yaml:"lifecycle" json:"lifecycle,omitempty"`
}

// Meets says whether a card meets the initiative: each of its checks passes (or is exempt or
// not applicable), and the card reaches its level.
func (in Initiative) Meets(levels []string, c Card) bool {
	statuses := make(map[string]string, len(c.Results))
	for _, r := range c.Results {
		statuses[r.Check] = string(r.Status)
	}
	return in.MeetsStatuses(levels, c.Level, statuses)
}

// MeetsStatuses is Meets on a snapshot's level and statuses.
func (in Initiative) MeetsStatuses(levels []string, level string, statuses map[string]string) bool {
	if in.Level != "" && !Reaches(levels, level, in.Level) {
		return false
	}
	for _, id := range in.Checks {
		if st := Status(statuses[id]); st == Fail || st == Error {
			return false
		}
	}
	return true
}

//go:embed builtin.yaml
var builtinYAML []byte

// Builtin returns the checks Portico ships.
func Builtin() []Check {
	var f File
	if err := yaml.Unmarshal(builtinYAML, &f); err != nil {
		panic("scorecard: built-in checks: " + err.Error()) // a test parses them
	}
	for i := range f.Checks {
		f.Checks[i].Source = "built-in"
	}
	return f.Checks
}

// LoadFile reads a checks file.
func LoadFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("scorecards file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("scorecards file %s: %w", path, err)
	}
	for i := range f.Checks {
		f.Checks[i].Source = path
	}
	return f, nil
}
