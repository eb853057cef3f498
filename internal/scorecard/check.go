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

// File is a checks file (scorecards.file).
type File struct {
	Checks []Check `yaml:"checks"`
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
func LoadFile(path string) ([]Check, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scorecards file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("scorecards file %s: %w", path, err)
	}
	for i := range f.Checks {
		f.Checks[i].Source = path
	}
	return f.Checks, nil
}
