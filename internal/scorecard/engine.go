package scorecard

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Status is a check's outcome for one service.
type Status string

const (
	Pass          Status = "pass"
	Fail          Status = "fail"
	NotApplicable Status = "n/a"
	Error         Status = "error" // the expression failed on these facts: a fault of the check
	Exempt        Status = "exempt"
)

// DefaultLevels is the ladder, lowest first.
var DefaultLevels = []string{"bronze", "silver", "gold"}

// costLimit bounds one evaluation, so a check cannot stall the scorer.
const costLimit = 1_000_000

// Set is the compiled checks, the level ladder and the initiatives.
type Set struct {
	levels      []string
	checks      []compiled
	index       map[string]int // check id → position in checks
	initiatives []Initiative
}

// WithInitiatives checks the initiatives against the set (known checks and level, a scope,
// dates) and adds them.
func (s *Set) WithInitiatives(ins []Initiative) error {
	var errs []error
	seen := map[string]bool{}
	for _, in := range ins {
		where := fmt.Sprintf("initiative %q", in.ID)
		switch {
		case in.ID == "" || in.Title == "":
			errs = append(errs, fmt.Errorf("%s: id and title are required", where))
		case seen[in.ID]:
			errs = append(errs, fmt.Errorf("%s: the id is already used", where))
		case len(in.Checks) == 0 && in.Level == "":
			errs = append(errs, fmt.Errorf("%s: name checks or a level", where))
		case in.Level != "" && !slices.Contains(s.levels, in.Level):
			errs = append(errs, fmt.Errorf("%s: level %q is not one of %s", where, in.Level, strings.Join(s.levels, ", ")))
		}
		seen[in.ID] = true
		for _, id := range in.Checks {
			if _, ok := s.Check(id); !ok {
				errs = append(errs, fmt.Errorf("%s: no check %q", where, id))
			}
		}
		due, err := time.Parse(time.DateOnly, in.Due)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: due %q is not a date (YYYY-MM-DD)", where, in.Due))
		}
		if in.Start != "" {
			if start, err := time.Parse(time.DateOnly, in.Start); err != nil || !start.Before(due) {
				errs = append(errs, fmt.Errorf("%s: start %q must be a date before due", where, in.Start))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.initiatives = ins
	return nil
}

// Initiatives are the set's initiatives.
func (s *Set) Initiatives() []Initiative { return s.initiatives }

type compiled struct {
	Check
	rank     int             // index of its level
	reads    map[string]bool // the facts (variables) its expressions read
	prog     cel.Program
	applies  cel.Program // nil: always
	snippet  *template.Template
	requires []string
}

// env is the facts a check may read; Facts.activation supplies them.
func env() (*cel.Env, error) {
	dyn, list := cel.DynType, cel.ListType(cel.DynType)
	return cel.NewEnv(
		cel.Variable("entity", dyn),
		cel.Variable("production", cel.BoolType),
		cel.Variable("workloads", list),
		cel.Variable("pods", list),
		cel.Variable("hpas", list),
		cel.Variable("pdbs", list),
		cel.Variable("networkPolicies", list),
		cel.Variable("namespacePolicies", list),
		cel.Variable("services", list),
		cel.Variable("alertRules", list),
		cel.Variable("runbook", dyn),
		cel.Variable("pipeline", dyn),
		cel.Variable("delivery", dyn),
		cel.Variable("crds", cel.MapType(cel.StringType, cel.BoolType)),
		cel.Variable("reports", cel.MapType(cel.StringType, list)),
		cel.OptionalTypes(), ext.Strings(), ext.Lists(), ext.Sets(),
		// quantity("250Mi") is a Kubernetes quantity as a number, to compare requests.
		cel.Function("quantity", cel.Overload("quantity_string", []*cel.Type{cel.StringType}, cel.DoubleType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				q, err := resource.ParseQuantity(fmt.Sprint(v.Value()))
				if err != nil {
					return types.NewErr("quantity: %v", err)
				}
				return types.Double(q.AsApproximateFloat64())
			}))),
	)
}

// Compile checks the checks: unique ids, known levels, expressions that compile to a bool or
// a list, and snippets that parse. The error names the check and, for an expression, the
// position in it.
func Compile(checks []Check, levels []string) (*Set, error) {
	if len(levels) == 0 {
		levels = DefaultLevels
	}
	e, err := env()
	if err != nil {
		return nil, err
	}
	s := &Set{levels: levels}
	seen := map[string]string{}
	var errs []error
	for _, c := range checks {
		where := fmt.Sprintf("check %q (%s)", c.ID, c.Source)
		if c.ID == "" {
			errs = append(errs, fmt.Errorf("a check in %s has no id", c.Source))
			continue
		}
		if prev, dup := seen[c.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: the id is already used in %s", where, prev))
			continue
		}
		seen[c.ID] = c.Source
		cc := compiled{Check: c, rank: slices.Index(levels, c.Level), requires: c.Requires, reads: map[string]bool{}}
		if cc.rank < 0 {
			errs = append(errs, fmt.Errorf("%s: level %q is not one of %s", where, c.Level, strings.Join(levels, ", ")))
			continue
		}
		if c.Title == "" || c.Expr == "" {
			errs = append(errs, fmt.Errorf("%s: title and expr are required", where))
			continue
		}
		if cc.prog, err = program(e, c.Expr, false, cc.reads); err != nil {
			errs = append(errs, fmt.Errorf("%s: expr: %w", where, err))
			continue
		}
		if c.Applies != "" {
			if cc.applies, err = program(e, c.Applies, true, cc.reads); err != nil {
				errs = append(errs, fmt.Errorf("%s: applies: %w", where, err))
				continue
			}
		}
		if c.Snippet != "" {
			if cc.snippet, err = template.New(c.ID).Option("missingkey=error").Parse(c.Snippet); err != nil {
				errs = append(errs, fmt.Errorf("%s: snippet: %w", where, err))
				continue
			}
			if !slices.Contains([]string{"patch", "apply", "catalog"}, c.SnippetKind) {
				errs = append(errs, fmt.Errorf("%s: snippetKind %q is not patch, apply or catalog", where, c.SnippetKind))
				continue
			}
		}
		s.checks = append(s.checks, cc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.index = make(map[string]int, len(s.checks))
	for i, c := range s.checks {
		s.index[c.ID] = i
	}
	return s, nil
}

// program compiles one expression; boolOnly refuses a list result (for applies). The
// variables it reads are added to reads.
func program(e *cel.Env, expr string, boolOnly bool, reads map[string]bool) (cel.Program, error) {
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, errors.New(strings.TrimSpace(iss.Err().Error()))
	}
	for _, r := range ast.NativeRep().ReferenceMap() {
		if r.Name != "" && len(r.OverloadIDs) == 0 {
			reads[r.Name] = true
		}
	}
	out := ast.OutputType()
	ok := out.IsExactType(types.BoolType) || out.IsExactType(types.DynType) || (!boolOnly && out.Kind() == types.ListKind)
	if !ok {
		want := "a bool or a list"
		if boolOnly {
			want = "a bool"
		}
		return nil, fmt.Errorf("the expression gives %s, not %s", out, want)
	}
	return e.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
}

// Checks are the compiled checks, in their order.
func (s *Set) Checks() []Check {
	out := make([]Check, len(s.checks))
	for i, c := range s.checks {
		out[i] = c.Check
	}
	return out
}

// Needs says whether any check that may apply reads the variable: one that requires custom
// resources applies only where one of them is served. Gathering a costly fact (every pod)
// is skipped when nothing would read it.
func (s *Set) Needs(variable string, served map[string]bool) bool {
	for _, c := range s.checks {
		if c.reads[variable] && (len(c.requires) == 0 || slices.ContainsFunc(c.requires, func(crd string) bool { return served[crd] })) {
			return true
		}
	}
	return false
}

// Levels is the ladder, lowest first.
func (s *Set) Levels() []string { return s.levels }

// Result is one check's outcome for one service.
type Result struct {
	Check   string   `json:"check"`
	Status  Status   `json:"status"`
	Failing []string `json:"failing,omitempty"` // what fails it, when the check says
	Message string   `json:"message,omitempty"` // why not applicable, or the evaluation error
	Snippet string   `json:"snippet,omitempty"` // the YAML to add, filled in for this service
}

// Card is a service's scorecard.
type Card struct {
	Results []Result `json:"results"`
	// Level is the highest rung whose checks, and those of every rung below, all pass ("" when
	// not even the first).
	Level string `json:"level"`
	// Score is the share of applicable checks that pass, 0–100.
	Score              int `json:"score"`
	Passed, Applicable int `json:"-"`
}

// Evaluate runs every check on one service's facts.
func (s *Set) Evaluate(f Facts) Card {
	act := f.activation()
	card := Card{Results: make([]Result, 0, len(s.checks))}
	failedRank := len(s.levels)
	for _, c := range s.checks {
		r := c.run(act, f)
		switch r.Status {
		case Pass, Exempt:
			card.Passed++
			card.Applicable++
		case Fail, Error:
			card.Applicable++
			failedRank = min(failedRank, c.rank)
		}
		card.Results = append(card.Results, r)
	}
	if failedRank > 0 {
		card.Level = s.levels[failedRank-1]
	}
	if card.Applicable > 0 {
		card.Score = card.Passed * 100 / card.Applicable
	} else {
		card.Score = 100
	}
	return card
}

func (c compiled) run(act map[string]any, f Facts) Result {
	r := Result{Check: c.ID}
	var missing []string
	for v := range c.reads {
		if f.Unknown[v] {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		r.Status, r.Message = NotApplicable, "reads "+strings.Join(missing, ", ")+", not known here"
		return r
	}
	if len(c.requires) > 0 && !slices.ContainsFunc(c.requires, func(crd string) bool { return f.CRDs[crd] }) {
		r.Status, r.Message = NotApplicable, "needs "+strings.Join(c.requires, " or ")+", which the service's clusters do not serve"
		return r
	}
	if c.applies != nil {
		v, _, err := c.applies.Eval(act)
		if err != nil {
			r.Status, r.Message = Error, "applies: "+err.Error()
			return r
		}
		if b, ok := v.Value().(bool); ok && !b {
			r.Status = NotApplicable
			return r
		}
	}
	v, _, err := c.prog.Eval(act)
	if err != nil {
		r.Status, r.Message = Error, err.Error()
		return r
	}
	pass, failing, err := verdict(v)
	if err != nil {
		r.Status, r.Message = Error, err.Error()
		return r
	}
	if pass {
		r.Status = Pass
		return r
	}
	r.Status, r.Failing = Fail, failing
	if why, ok := f.Exempt[c.ID]; ok {
		r.Status, r.Message = Exempt, why
		return r
	}
	if c.snippet != nil {
		var b bytes.Buffer
		if err := c.snippet.Execute(&b, f.snippetData()); err == nil {
			r.Snippet = strings.TrimSpace(b.String()) + "\n"
		}
	}
	return r
}

// verdict reads a check's value: a bool, or a list of what fails it.
func verdict(v ref.Val) (pass bool, failing []string, err error) {
	switch x := v.Value().(type) {
	case bool:
		return x, nil, nil
	}
	if l, ok := v.(traits.Lister); ok {
		native, err := l.ConvertToNative(reflect.TypeOf([]any{}))
		if err != nil {
			return false, nil, err
		}
		for _, item := range native.([]any) {
			failing = append(failing, fmt.Sprint(item))
		}
		sort.Strings(failing)
		return len(failing) == 0, failing, nil
	}
	return false, nil, fmt.Errorf("the check gave %s, not a bool or a list", v.Type().TypeName())
}

// Check is the check with the id.
func (s *Set) Check(id string) (Check, bool) {
	i, ok := s.index[id]
	if !ok {
		return Check{}, false
	}
	return s.checks[i].Check, true
}

// Reaches says whether level stands at or above want on the ladder ("" reaches nothing).
func Reaches(ladder []string, level, want string) bool {
	return level != "" && slices.Index(ladder, level) >= slices.Index(ladder, want)
}
