package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/delivery"
	"github.com/portico-dev/portico/internal/dora"
	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/web/components"
)

// stageCells aggregates a run's jobs into the strip: per stage the worst status of its jobs.
func stageCells(jobs []store.Job) []components.StageCell {
	by := map[string][]store.Job{}
	for _, j := range jobs {
		by[j.Stage] = append(by[j.Stage], j)
	}
	out := make([]components.StageCell, 0, len(pipeline.Stages))
	for _, st := range pipeline.Stages {
		cell := components.StageCell{Stage: string(st), Status: "none", Title: string(st) + ": no job"}
		js := by[string(st)]
		if len(js) > 0 {
			cell.Status = worstStatus(js)
			var parts []string
			for _, j := range js {
				part := j.Name + " (" + j.Status
				if j.StartedAt != nil && j.FinishedAt != nil {
					part += ", " + fmtDuration(j.FinishedAt.Sub(*j.StartedAt).Round(time.Second))
				}
				parts = append(parts, part+")")
			}
			cell.Title = string(st) + ": " + strings.Join(parts, ", ")
		}
		out = append(out, cell)
	}
	return out
}

func worstStatus(js []store.Job) string {
	rank := map[string]int{"failed": 5, "cancelled": 4, "running": 3, "queued": 2, "success": 1, "skipped": 0}
	worst := ""
	for _, j := range js {
		if worst == "" || rank[j.Status] > rank[worst] {
			worst = j.Status
		}
	}
	return worst
}

func runRow(r store.RunWithJobs) components.RunRow {
	row := components.RunRow{Name: orDefault(r.Name, "run "+r.RunID), Status: r.Status, Branch: r.Branch, Author: r.Author, Trigger: r.Trigger,
		Message: r.Message, Project: r.Project, Stages: stageCells(r.Jobs)}
	if catalog.LinkURL(r.URL) { // from a CI payload: data, not markup
		row.URL = r.URL
	}
	for _, j := range r.Jobs {
		if j.Image != "" && !slices.Contains(row.Images, j.Image) {
			row.Images = append(row.Images, j.Image)
		}
	}
	if len(r.Commit) > 10 {
		row.Commit = r.Commit[:10]
	} else {
		row.Commit = r.Commit
	}
	when := r.ReceivedAt
	if r.StartedAt != nil {
		when = *r.StartedAt
	}
	row.When, row.WhenISO = age(when)+" ago", when.UTC().Format(time.RFC3339)
	if r.StartedAt != nil && r.FinishedAt != nil {
		row.Duration = fmtDuration(r.FinishedAt.Sub(*r.StartedAt).Round(time.Second))
	}
	return row
}

// handlePipelinesPanel is a service's recent runs (the entity page's panel).
func (s *Server) handlePipelinesPanel(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	projects := rec.Entity.ProjectSlugs()
	vm := components.PipelinesPanel{Title: "Pipelines", AllHref: "/pipelines", Projects: projects, Refresh: entityHref(rec.Entity.Ref()) + "/pipelines"}
	if len(projects) == 0 {
		vm.Empty = "This component names no repository: add github.com/project-slug or gitlab.com/project-slug to see its CI runs."
		return render(c, http.StatusOK, components.PipelinesView(vm))
	}
	ctx := c.Request().Context()
	runs, err := s.Pipelines.PipelineRuns(ctx, projects, 15)
	if err != nil {
		return err
	}
	for _, r := range runs {
		vm.Rows = append(vm.Rows, runRow(r))
	}
	if vm.Where, err = s.whatRunsWhere(ctx, rec.Entity, projects); err != nil {
		return err
	}
	vm.Empty = "No CI run reported yet for " + strings.Join(projects, ", ") + ". Point the repository's webhooks at /webhooks/github, /webhooks/gitlab or /webhooks/pipeline."
	return render(c, http.StatusOK, components.PipelinesView(vm))
}

// handleWherePanel is the overview's "what runs where".
func (s *Server) handleWherePanel(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	rows, err := s.whatRunsWhere(c.Request().Context(), rec.Entity, rec.Entity.ProjectSlugs())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.WhereView(rows, "Nothing of this component runs in a configured cluster."))
}

// whatRunsWhere ties each workload's running image to the run and commit that built it, and
// says how far the main branch has moved on since.
func (s *Server) whatRunsWhere(ctx context.Context, e *catalog.Entity, projects []string) ([]components.WhereRow, error) {
	where, err := s.whereOf(ctx, e, projects)
	if err != nil {
		return nil, err
	}
	var out []components.WhereRow
	for _, w := range where {
		row := components.WhereRow{Cluster: w.Cluster, Environment: w.Environment, Workload: w.Namespace + "/" + w.Workload, Image: w.Image,
			Run: components.Link{Label: "not reported by CI"}, Ahead: "unknown", Scan: "unknown"}
		if b := w.Build; b != nil {
			row.Run = components.Link{Label: orDefault(b.RunName, "run") + " #" + b.RunID}
			if catalog.LinkURL(b.RunURL) { // from a CI payload: data, not markup
				row.Run.Href = b.RunURL
			}
			row.RunStatus, row.Commit, row.Scan = b.Status, shortSHA(b.Commit), "not passed"
			if b.ScanPassed {
				row.Scan = "passed"
			}
			switch {
			case w.AheadKnown && w.Ahead == 0:
				row.Ahead = "up to date"
			case w.AheadKnown:
				row.Ahead = fmt.Sprintf("%d commits", w.Ahead)
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// whereOf is each running image of the entity's workloads with the CI run that built it.
func (s *Server) whereOf(ctx context.Context, e *catalog.Entity, projects []string) ([]delivery.Where, error) {
	rt, mapped, err := s.runtimeOf(e)
	if !mapped || err != nil {
		return nil, nil
	}
	return delivery.WhatRunsWhere(ctx, s.Pipelines, rt, projects)
}

// handleAPIWhere is GET /api/v1/entities/…/where: what runs where, and what built it.
func (s *Server) handleAPIWhere(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	where, err := s.whereOf(c.Request().Context(), rec.Entity, rec.Entity.ProjectSlugs())
	if err != nil {
		return err
	}
	items := make([]api.Where, 0, len(where))
	for _, w := range where {
		x := api.Where{Cluster: w.Cluster, Environment: w.Environment, Namespace: w.Namespace, Workload: w.Workload, Image: w.Image}
		if b := w.Build; b != nil {
			x.Build = &api.Build{Project: b.Project, RunID: b.RunID, RunName: b.RunName, RunURL: b.RunURL, Commit: b.Commit, Branch: b.Branch,
				Status: b.Status, ScanPassed: b.ScanPassed, Signed: b.Signed}
		}
		if w.AheadKnown {
			n := w.Ahead
			x.CommitsBehind = &n
		}
		items = append(items, x)
	}
	return c.JSON(http.StatusOK, api.WhereList{Items: items})
}

func shortSHA(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// handlePipelinesPage is every recent run, failures first, optionally one team's.
func (s *Server) handlePipelinesPage(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	team := c.QueryParam("team")
	byProject := map[string]*catalog.Record{}
	teams := map[string]bool{}
	projects := []string{"\x00none"} // no visible project: no run
	for _, r := range snap.Records() {
		if !sc.Record(r) {
			continue
		}
		for _, p := range r.Entity.ProjectSlugs() {
			owner := access.Target(snap, r.Entity, "", "", "").Owner
			teams[owner] = true
			if team != "" && owner != team {
				continue
			}
			byProject[p] = r
			projects = append(projects, p)
		}
	}
	runs, err := s.Pipelines.PipelineRuns(c.Request().Context(), projects, 100)
	if err != nil {
		return err
	}
	vm := components.PipelinesPanel{Title: "Pipelines", Full: true, Empty: "No CI run reported yet."}
	vm.Teams = append(vm.Teams, components.RangeLink{Label: "all teams", Href: "/pipelines", Active: team == ""})
	var names []string
	for t := range teams {
		if t != "" {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	for _, t := range names {
		vm.Teams = append(vm.Teams, components.RangeLink{Label: t, Href: "/pipelines?team=" + url.QueryEscape(t), Active: t == team})
	}
	rank := map[string]int{"failed": 0, "running": 1, "queued": 2}
	sort.SliceStable(runs, func(i, j int) bool {
		ri, ok := rank[runs[i].Status]
		if !ok {
			ri = 3
		}
		rj, ok := rank[runs[j].Status]
		if !ok {
			rj = 3
		}
		return ri < rj
	})
	for _, r := range runs {
		row := runRow(r)
		if rec, ok := byProject[r.Project]; ok {
			row.Service = components.Link{Label: rec.Entity.DisplayName(), Href: entityHref(rec.Entity.Ref())}
		}
		vm.Rows = append(vm.Rows, row)
	}
	changes, err := s.doraChanges(c.Request().Context(), teamEntities(snap, sc, team))
	if err != nil {
		return err
	}
	title := "Delivery metrics of every service"
	if team != "" {
		title = "Delivery metrics of " + team
	}
	now := time.Now()
	d := doraVM(title, dora.Compute(changes, now, doraWeeks, doraWindow), now)
	return s.page(c, http.StatusOK, components.Page{Title: "Pipelines", Nav: "pipelines"}, components.PipelinesPageView(d, vm))
}

// handleAPIRuns is GET /api/v1/pipelines/runs?project=…: runs with their jobs.
func (s *Server) handleAPIRuns(c echo.Context) error {
	snap := s.Catalog.Snapshot()
	sc := s.scope(c, snap)
	projects := c.QueryParams()["project"]
	if !sc.All() {
		// Only projects of entities the user may view.
		visible := map[string]bool{}
		for _, r := range snap.Records() {
			if sc.Record(r) {
				for _, p := range r.Entity.ProjectSlugs() {
					visible[p] = true
				}
			}
		}
		asked := projects
		projects = []string{"\x00none"}
		for p := range visible {
			if len(asked) == 0 || slices.Contains(asked, p) {
				projects = append(projects, p)
			}
		}
	}
	runs, err := s.Pipelines.PipelineRuns(c.Request().Context(), projects, 100)
	if err != nil {
		return err
	}
	out := []api.Run{}
	for _, r := range runs {
		x := api.Run{Source: r.Source, Project: r.Project, ID: r.RunID, Name: r.Name, URL: r.URL, Branch: r.Branch, Commit: r.Commit, Author: r.Author,
			Trigger: r.Trigger, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Jobs: []api.Job{}}
		for _, j := range r.Jobs {
			x.Jobs = append(x.Jobs, api.Job{ID: j.JobID, Name: j.Name, Stage: j.Stage, Status: j.Status, Image: j.Image, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt})
		}
		out = append(out, x)
	}
	return c.JSON(http.StatusOK, api.Runs{Items: out})
}
