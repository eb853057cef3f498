package delivery

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/store"
)

func entity(name string) *catalog.Entity {
	return &catalog.Entity{Kind: "Component", Metadata: catalog.Metadata{Name: name, Namespace: "default",
		Annotations: map[string]string{catalog.AnnotationProjectSlug: "acme/" + name}}}
}

// TestChanges on a real SQLite store and audit log: a team's production deploys and
// rollbacks through Portico and CI's production deployments, for several services at once;
// staging, failed actions, other services and changes before the window are left out.
func TestChanges(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := audit.New(st.Client, nil)
	act := func(ent, action, clusterName, params string, result audit.Result) {
		e, err := log.Begin(ctx, audit.Entry{RequestID: ent + action + clusterName + string(result), Actor: "alice", Action: action, Entity: ent,
			Cluster: clusterName, Namespace: "payments", Kind: "Deployment", Name: "x", Params: params})
		if err != nil {
			t.Fatal(err)
		}
		var cause error
		if result != audit.Succeeded {
			cause = errors.New("refused")
		}
		if err := log.Finish(ctx, e.ID, result, "", cause); err != nil {
			t.Fatal(err)
		}
	}
	act("component:default/ledger", "deploy", "east", `{"image":"registry.acme.example/ledger:2.0.0"}`, audit.Succeeded)
	act("component:default/ledger", "rollback", "east", `{}`, audit.Succeeded)
	act("component:default/ledger", "deploy", "staging-1", `{}`, audit.Succeeded) // not production
	act("component:default/ledger", "deploy", "east", `{}`, audit.Failed)         // did not happen
	act("component:default/vault", "restart", "east", `{}`, audit.Succeeded)      // not a delivery
	act("component:default/other", "deploy", "east", `{}`, audit.Succeeded)       // another team's
	now := time.Now()
	commit := now.Add(-2 * time.Hour)
	for i, ev := range []pipeline.Event{
		{Source: "generic", Kind: "push", Project: "acme/vault", Push: &pipeline.PushEvent{Branch: "main", Commits: []pipeline.Commit{{SHA: "c0ffee", At: commit}}}},
		{Source: "generic", Kind: "deployment", Project: "acme/vault", Deployment: &pipeline.Deployment{ID: "d1", Environment: "production", Commit: "c0ffee", Status: pipeline.Failed, UpdatedAt: now}},
		{Source: "generic", Kind: "deployment", Project: "acme/vault", Deployment: &pipeline.Deployment{ID: "d2", Environment: "qa", Commit: "c0ffee", Status: pipeline.Success, UpdatedAt: now}},
		{Source: "generic", Kind: "deployment", Project: "acme/vault", Deployment: &pipeline.Deployment{ID: "d3", Environment: "production", Commit: "c0ffee", Status: pipeline.Success, UpdatedAt: now.Add(-200 * 24 * time.Hour)}},
	} {
		if _, err := st.RecordDelivery(ctx, "generic", string(rune('a'+i)), ev); err != nil {
			t.Fatal(err)
		}
	}
	src := Source{Audit: log, CI: st, Production: func(x string) bool { return x == "east" || x == "production" }}
	changes, err := src.Changes(ctx, []*catalog.Entity{entity("ledger"), entity("vault")}, now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var deploys, rollbacks, failed int
	for _, c := range changes {
		switch {
		case c.Kind == "rollback":
			rollbacks++
		case c.Failed:
			failed++
			if !c.CommitAt.Equal(commit.Truncate(time.Second)) && c.CommitAt.Sub(commit).Abs() > time.Second {
				t.Errorf("CI deployment's commit time = %s, want %s", c.CommitAt, commit)
			}
		default:
			deploys++
		}
	}
	if deploys != 1 || rollbacks != 1 || failed != 1 || len(changes) != 3 {
		t.Errorf("changes = %+v: want ledger's production deploy and rollback and vault's failed production deployment", changes)
	}
}
