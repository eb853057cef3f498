// Package delivery answers what CI and the portal know about how services reach production:
// what runs where (each running image's build, scan and how far behind main it is) and the
// changes delivery metrics are computed from (internal/dora). It reads the audit log and the
// CI store through small interfaces and returns its own types; the HTTP layer maps them.
package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/dora"
	"github.com/portico-dev/portico/internal/store"
)

// auditLog is what delivery reads of the audit log.
type auditLog interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// ci is what delivery reads of the CI store.
type ci interface {
	BuildsOf(ctx context.Context, projects, images []string) (map[string]store.Build, error)
	Deployments(ctx context.Context, projects []string) ([]store.Deployment, error)
	CommitTime(ctx context.Context, project, sha string) time.Time
	CommitsAhead(ctx context.Context, project, branch, sha string) (int, bool, error)
}

// Source gathers delivery facts. Audit or CI may be nil (that source then adds nothing).
type Source struct {
	Audit auditLog
	CI    ci
	// Production says whether a cluster (by name) or a CI-reported environment is production.
	Production func(clusterOrEnvironment string) bool
}

// Changes are what reached production for entities since since: Portico's own deploys and
// rollbacks (the audit log) and the deployments CI reported — one audit query and one CI query
// for all the entities, however many.
func (s Source) Changes(ctx context.Context, entities []*catalog.Entity, since time.Time) ([]dora.Change, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	var refs, projects []string
	for _, e := range entities {
		refs = append(refs, e.Ref().String())
		projects = append(projects, e.ProjectSlugs()...)
	}
	var out []dora.Change
	if s.Audit != nil {
		entries, err := s.productionActions(ctx, refs, since)
		if err != nil {
			return nil, err
		}
		images := map[string]bool{}
		for _, en := range entries {
			if img := imageOf(en); img != "" {
				images[img] = true
			}
		}
		builds := map[string]store.Build{}
		if s.CI != nil && len(images) > 0 {
			list := make([]string, 0, len(images))
			for i := range images {
				list = append(list, i)
			}
			if b, err := s.CI.BuildsOf(ctx, projects, list); err == nil {
				builds = b
			}
		}
		for _, en := range entries {
			c := dora.Change{Target: en.Cluster + "/" + en.Namespace + "/" + en.Name, At: en.FinishedAt, Kind: en.Action}
			if b, ok := builds[imageOf(en)]; ok {
				c.CommitAt = b.CommitAt
			}
			out = append(out, c)
		}
	}
	if s.CI != nil {
		deps, err := s.CI.Deployments(ctx, projects)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			if !s.Production(d.Environment) || (d.Status != "success" && d.Status != "failed") || d.UpdatedAt == nil || d.UpdatedAt.Before(since) {
				continue
			}
			out = append(out, dora.Change{Target: d.Project + "/" + d.Environment, At: *d.UpdatedAt, Kind: "deploy", Failed: d.Status == "failed",
				CommitAt: s.CI.CommitTime(ctx, d.Project, d.Commit)})
		}
	}
	return out, nil
}

// productionActions are the succeeded production deploys and rollbacks of the entities since
// since, paging through the log.
func (s Source) productionActions(ctx context.Context, refs []string, since time.Time) ([]audit.Entry, error) {
	f := audit.Filter{Entities: refs, Actions: []string{"deploy", "rollback"}, Result: audit.Succeeded, Since: since, Limit: audit.MaxLimit}
	var out []audit.Entry
	for {
		page, err := s.Audit.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, en := range page {
			if s.Production(en.Cluster) {
				out = append(out, en)
			}
		}
		if len(page) < f.Limit {
			return out, nil
		}
		f.Before = page[len(page)-1].ID
	}
}

func imageOf(en audit.Entry) string {
	var p struct {
		Image string `json:"image"`
	}
	_ = json.Unmarshal([]byte(en.Params), &p)
	return p.Image
}

// Where is one running image: where it runs and what CI knows of it.
type Where struct {
	Cluster, Environment string // the cluster's display name and environment
	Namespace, Workload  string
	Image                string
	Build                *store.Build // nil: no CI run reported building it
	Ahead                int          // commits main (or master) is ahead of the build's commit
	AheadKnown           bool
}

// WhatRunsWhere is, for a component's runtime, each running image with its build.
func WhatRunsWhere(ctx context.Context, c ci, rt cluster.Runtime, projects []string) ([]Where, error) {
	var images []string
	for _, cr := range rt.Clusters {
		for _, w := range cr.Workloads {
			images = append(images, w.Images...)
		}
	}
	builds, err := c.BuildsOf(ctx, projects, images)
	if err != nil {
		return nil, err
	}
	var out []Where
	for _, cr := range rt.Clusters {
		for _, w := range cr.Workloads {
			for _, img := range w.Images {
				row := Where{Cluster: cr.DisplayName, Environment: cr.Environment, Namespace: w.Namespace, Workload: w.Name, Image: img}
				if b, ok := builds[img]; ok {
					row.Build = &b
					for _, branch := range []string{"main", "master"} {
						if n, known, err := c.CommitsAhead(ctx, b.Project, branch, b.Commit); err == nil && known {
							row.Ahead, row.AheadKnown = n, true
							break
						}
					}
				}
				out = append(out, row)
			}
		}
	}
	return out, nil
}
