package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestBuildFacts: the build of an image says whether its run passed a security scan and
// signed it, on SQLite and PostgreSQL; exemptions are granted, replaced, revoked and expire.
func TestBuildFactsAndExemptions(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "p.db")
			if driver == "postgres" {
				dsn = testenv.PostgresDSN(t)
			}
			ctx := context.Background()
			st, err := Open(ctx, driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i, runID := range []string{"1", "2"} {
				jobs := []pipeline.Job{{RunID: runID, ID: "build", Name: "docker build", Stage: pipeline.ImageBuild, Status: pipeline.Success, Image: "registry.acme.example/tills:" + runID, UpdatedAt: t0}}
				if runID == "2" {
					jobs = append(jobs, pipeline.Job{RunID: runID, ID: "scan", Name: "trivy scan", Stage: pipeline.SecurityScan, Status: pipeline.Success, UpdatedAt: t0},
						pipeline.Job{RunID: runID, ID: "sign", Name: "cosign sign", Stage: pipeline.Push, Status: pipeline.Success, UpdatedAt: t0})
				}
				ev := pipeline.Event{Source: "generic", Kind: "run", Project: "acme/tills", Run: &pipeline.Run{ID: runID, Name: "ci", Branch: "main", Commit: "c0ffee" + runID,
					Status: pipeline.Success, CreatedAt: t0, UpdatedAt: t0, FinishedAt: t0}, Jobs: jobs}
				if _, err := st.RecordDelivery(ctx, "generic", "d"+runID, ev); err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
			builds, err := st.BuildsOf(ctx, []string{"acme/tills"}, []string{"registry.acme.example/tills:1", "registry.acme.example/tills:2"})
			if err != nil {
				t.Fatal(err)
			}
			if b := builds["registry.acme.example/tills:1"]; b.ScanPassed || b.Signed {
				t.Errorf("run 1: %+v", b)
			}
			if b := builds["registry.acme.example/tills:2"]; !b.ScanPassed || !b.Signed {
				t.Errorf("run 2: %+v", b)
			}

			now := time.Now()
			grant := func(reason string, until time.Time) {
				if _, err := st.GrantExemption(ctx, Exemption{Entity: "component:default/tills", Check: "image-digest", Reason: reason, GrantedBy: "jonas", GrantedAt: now, ExpiresAt: until}); err != nil {
					t.Fatal(err)
				}
			}
			grant("first", now.Add(time.Hour))
			grant("second", now.Add(2*time.Hour)) // replaces the first
			active, err := st.ActiveExemptions(ctx, now)
			if err != nil || len(active) != 1 || active[0].Reason != "second" {
				t.Fatalf("active: %v %+v", err, active)
			}
			if active, _ := st.ActiveExemptions(ctx, now.Add(3*time.Hour)); len(active) != 0 {
				t.Errorf("expired still active: %+v", active)
			}
			if ok, err := st.RevokeExemption(ctx, "component:default/tills", "image-digest", "jonas", now); err != nil || !ok {
				t.Fatalf("revoke: %v %v", ok, err)
			}
			if ok, _ := st.RevokeExemption(ctx, "component:default/tills", "image-digest", "jonas", now); ok {
				t.Error("revoked twice")
			}
		})
	}
}
