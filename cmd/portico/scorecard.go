package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/scorecard"
)

const scorecardUsage = `Usage: portico scorecard check [flags] -f PATH [-f PATH...]

Grades a service's manifests (YAML or JSON files, or directories of them) with the
portal's production-readiness checks, before they reach a cluster. A catalog-info.yaml
among them is the service's entity. Checks that need the live estate (alert rules, pods,
CI reports, custom resources) are not applicable here. Prints file:line: level check: what
fails, and exits 1 when a check fails (below --fail-below, when given), 2 on bad input.
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runScorecardCheck(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("portico scorecard check", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, scorecardUsage); fl.PrintDefaults() }
	var paths stringList
	fl.Var(&paths, "f", "a manifest file or directory (repeatable)")
	format := fl.String("format", "text", "output format: text or json")
	checksFile := fl.String("checks", "", "a checks file to add to the built-in checks (as scorecards.file)")
	failBelow := fl.String("fail-below", "", "exit 1 only when the service does not reach this level")
	production := fl.Bool("production", false, "grade as a production service even without a catalog-info.yaml saying so")
	if err := fl.Parse(args); err != nil {
		return exitError(2)
	}
	paths = append(paths, fl.Args()...)
	if len(paths) == 0 || (*format != "text" && *format != "json") {
		fl.Usage()
		return exitError(2)
	}
	checks := scorecard.Builtin()
	if *checksFile != "" {
		more, err := scorecard.LoadFile(*checksFile)
		if err != nil {
			fmt.Fprintf(stderr, "portico: %v\n", err)
			return exitError(2)
		}
		checks = append(checks, more.Checks...)
	}
	set, err := scorecard.Compile(checks, nil)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return exitError(2)
	}
	if *failBelow != "" && !slices.Contains(set.Levels(), *failBelow) {
		fmt.Fprintf(stderr, "portico: --fail-below %q is not one of %s\n", *failBelow, strings.Join(set.Levels(), ", "))
		return exitError(2)
	}
	manifests, err := readManifestPaths(paths)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return exitError(2)
	}
	facts, where := manifestFacts(manifests)
	facts.Production = facts.Production || *production
	card := set.Evaluate(facts)

	type finding struct {
		File    string           `json:"file"`
		Line    int              `json:"line"`
		Level   string           `json:"level"`
		Check   string           `json:"check"`
		Title   string           `json:"title"`
		Status  scorecard.Status `json:"status"`
		Failing []string         `json:"failing,omitempty"`
		Fix     string           `json:"fix"`
		Snippet string           `json:"snippet,omitempty"`
	}
	var findings []finding
	for _, r := range card.Results {
		if r.Status != scorecard.Fail && r.Status != scorecard.Error {
			continue
		}
		c, _ := set.Check(r.Check)
		file, line := where(c, r)
		findings = append(findings, finding{File: file, Line: line, Level: c.Level, Check: c.ID, Title: c.Title, Status: r.Status,
			Failing: r.Failing, Fix: c.Fix, Snippet: r.Snippet})
	}
	failed := len(findings) > 0
	if *failBelow != "" {
		failed = !scorecard.Reaches(set.Levels(), card.Level, *failBelow)
	}
	if *format == "json" {
		if findings == nil {
			findings = []finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"level": card.Level, "score": card.Score, "findings": findings, "results": card.Results, "files": len(manifests)})
	} else {
		for _, f := range findings {
			what := f.Title
			if len(f.Failing) > 0 {
				what = strings.Join(f.Failing, "; ")
			}
			fmt.Fprintf(stdout, "%s:%d: %s %s: %s\n    fix: %s\n", f.File, f.Line, f.Level, f.Check, what, f.Fix)
		}
		level := card.Level
		if level == "" {
			level = "no level"
		}
		fmt.Fprintf(stderr, "%s, %d%% of applicable checks pass; %d failing; %d objects read\n", level, card.Score, len(findings), len(manifests))
	}
	if failed {
		return exitError(1)
	}
	return nil
}

// readManifestPaths reads every YAML and JSON file of the paths.
func readManifestPaths(paths []string) ([]scorecard.Manifest, error) {
	var out []scorecard.Manifest
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(path)); ext != ".yaml" && ext != ".yml" && ext != ".json" {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			ms, err := scorecard.ReadManifests(path, f)
			out = append(out, ms...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no manifest found in " + strings.Join(paths, ", "))
	}
	return out, nil
}

// manifestFacts is what manifests tell of a service, and where to point for each finding.
func manifestFacts(ms []scorecard.Manifest) (scorecard.Facts, func(scorecard.Check, scorecard.Result) (string, int)) {
	f := scorecard.Facts{Unknown: map[string]bool{"alertRules": true, "pods": true, "pipeline": true, "delivery": true, "reports": true}}
	var objs scorecard.Objects
	var entity *scorecard.Manifest
	workloads := map[string]scorecard.Manifest{}
	var first *scorecard.Manifest
	for i, m := range ms {
		api, _ := m.Object["apiVersion"].(string)
		switch {
		case strings.HasPrefix(api, "backstage.io/") && m.Kind() == "Component" && entity == nil:
			entity = &ms[i]
		case scorecard.IsWorkload(m.Object):
			objs.Workloads = append(objs.Workloads, m.Object)
			if md, ok := m.Object["metadata"].(map[string]any); ok {
				name, _ := md["name"].(string)
				workloads[name] = m
			}
			if first == nil {
				first = &ms[i]
			}
		default:
			objs.Others = append(objs.Others, m.Object)
		}
	}
	if entity != nil {
		f.Entity = entity.Object
		spec, _ := entity.Object["spec"].(map[string]any)
		f.Production = spec["lifecycle"] == "production"
		f.Runbook = map[string]any{"present": false}
		if md, ok := entity.Object["metadata"].(map[string]any); ok {
			ann, _ := md["annotations"].(map[string]any)
			for _, p := range runbookPaths(ann) {
				if _, err := os.Stat(filepath.Join(filepath.Dir(entity.File), p)); err == nil {
					f.Runbook = map[string]any{"present": true, "path": p}
				}
			}
		}
	} else {
		f.Unknown["entity"], f.Unknown["runbook"] = true, true
	}
	if objs.Workloads == nil {
		objs.Workloads = []map[string]any{}
	}
	f = scorecard.Assemble(f, objs)
	where := func(c scorecard.Check, r scorecard.Result) (string, int) {
		if c.SnippetKind == "catalog" || c.Category == "ownership" {
			if entity != nil {
				return entity.File, entity.Line
			}
		}
		for _, fail := range r.Failing {
			name, _, _ := strings.Cut(fail, "/")
			name, _, _ = strings.Cut(name, ":")
			if m, ok := workloads[name]; ok {
				return m.File, m.Line
			}
		}
		if first != nil {
			return first.File, first.Line
		}
		if entity != nil {
			return entity.File, entity.Line
		}
		return ms[0].File, ms[0].Line
	}
	return f, where
}

// runbookPaths are the local runbook files the entity's annotation names.
func runbookPaths(ann map[string]any) []string {
	p, _ := ann[catalog.AnnotationRunbook].(string)
	if p == "" || strings.Contains(p, "://") {
		return nil
	}
	return []string{p}
}
