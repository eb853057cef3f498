package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestDeliveriesInAnyOrder stores a run's deliveries in order, reversed and shuffled, with
// redeliveries, on SQLite and PostgreSQL: the stored state is the same every time.
func TestDeliveriesInAnyOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	run := func(st pipeline.Status, s int) pipeline.Event {
		r := &pipeline.Run{ID: "77", Name: "ci", Branch: "main", Commit: "c0ffee", Status: st, UpdatedAt: at(s), CreatedAt: at(0), StartedAt: at(1)}
		if st.Final() {
			r.FinishedAt = at(s)
		}
		return pipeline.Event{Source: "github", Kind: "run", Project: "acme/payment", Run: r}
	}
	job := func(name string, st pipeline.Status, s int) pipeline.Event {
		j := pipeline.Job{RunID: "77", ID: name, Name: name, Stage: pipeline.UnitTests, Status: st, UpdatedAt: at(s), StartedAt: at(2)}
		if st.Final() {
			j.FinishedAt = at(s)
		}
		return pipeline.Event{Source: "github", Kind: "job", Project: "acme/payment", Run: &pipeline.Run{ID: "77", Commit: "c0ffee", Partial: true}, Jobs: []pipeline.Job{j}}
	}
	events := []pipeline.Event{
		run(pipeline.Queued, 0), job("test", pipeline.Queued, 1), job("test", pipeline.Running, 2), run(pipeline.Running, 2),
		job("test", pipeline.Success, 30), job("scan", pipeline.Running, 31), job("scan", pipeline.Failed, 40), run(pipeline.Failed, 41),
	}
	orders := map[string][]int{"in order": {0, 1, 2, 3, 4, 5, 6, 7}, "reversed": {7, 6, 5, 4, 3, 2, 1, 0}, "shuffled": {4, 7, 0, 6, 2, 5, 1, 3}}
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var want string
			for name, order := range orders {
				dsn := filepath.Join(t.TempDir(), "p.db")
				if driver == "postgres" {
					dsn = testenv.PostgresDSN(t)
				}
				st, err := Open(context.Background(), driver, dsn)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				for _, i := range order {
					if dup, err := st.RecordDelivery(ctx, "github", "d"+string(rune('a'+i)), events[i]); err != nil || dup {
						t.Fatalf("%s: delivery %d: %v dup=%v", name, i, err, dup)
					}
				}
				// Redeliveries change nothing, whenever they come.
				for _, i := range []int{0, 3, 7} {
					if dup, err := st.RecordDelivery(ctx, "github", "d"+string(rune('a'+i)), events[i]); err != nil || !dup {
						t.Fatalf("%s: redelivery %d: dup=%v %v", name, i, dup, err)
					}
				}
				runs, err := st.PipelineRuns(ctx, []string{"acme/payment"}, 10)
				if err != nil || len(runs) != 1 {
					t.Fatalf("%s: runs %v %v", name, runs, err)
				}
				r := runs[0]
				got := r.Status + " " + r.Name + " " + r.Branch + " " + deref(r.FinishedAt).Format(time.RFC3339) + " " + deref(r.StartedAt).Format(time.RFC3339)
				for _, j := range r.Jobs {
					got += " | " + j.JobID + " " + j.Status + " " + deref(j.FinishedAt).Format(time.RFC3339)
				}
				if want == "" {
					want = got
				} else if got != want {
					t.Errorf("%s: stored state\n%s\ndiffers from\n%s", name, got, want)
				}
				if r.Status != "failed" || len(r.Jobs) != 2 {
					t.Errorf("%s: %s", name, got)
				}
				if n, _ := st.CountDeliveries(ctx); n != len(events) {
					t.Errorf("%s: %d deliveries stored, want %d", name, n, len(events))
				}
				st.Close()
			}
		})
	}
}
