package catalog

import "fmt"

// Severity says whether a problem rejects an entity (error) or only deserves attention (warning).
type Severity string

// Problem severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is something wrong with a catalog file, reported with where it is.
type Problem struct {
	Source   string   `json:"source,omitempty"`
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Entity   string   `json:"entity,omitempty"`
}

// String formats the problem as "file:line:col: severity: message", as compilers and linters do.
func (p Problem) String() string {
	pos := p.File
	if p.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", p.File, p.Line, max(p.Column, 1))
	}
	return fmt.Sprintf("%s: %s: %s", pos, p.Severity, p.Message)
}

// HasErrors reports whether any problem is an error.
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}
