package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// MustOpen opens a fresh database of the given driver: a SQLite file in a temp folder, or a new
// database on the test PostgreSQL server.
func MustOpen(tb testing.TB, driver string) *Store {
	tb.Helper()
	dsn := filepath.Join(tb.TempDir(), "portico.db")
	if driver == "postgres" {
		dsn = testenv.PostgresDSN(tb)
	}
	s, err := Open(context.Background(), driver, dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", driver, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func record(name, team string, at time.Time) catalog.Record {
	e := &catalog.Entity{APIVersion: "backstage.io/v1alpha1", Kind: "Component",
		Metadata: catalog.Metadata{Name: name, Namespace: "default", Tags: []string{"go"}},
		Spec:     map[string]any{"type": "service", "lifecycle": "production", "owner": team}}
	return catalog.Record{Entity: e, Source: "demo", File: name + ".yaml", Line: 1, Hash: catalog.Hash(e), UpdatedAt: at}
}

func TestSaveAndLoad(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			s := MustOpen(t, driver)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			recs := []catalog.Record{record("payment", "payments", now), record("pricing", "payments", now)}
			probs := []catalog.Problem{{File: "bad.yaml", Line: 3, Column: 1, Severity: catalog.SeverityError, Message: "invalid YAML"}}
			docs := map[string][]byte{"payment/runbook.md": []byte("# Payment")}
			if err := s.SaveSource(ctx, "demo", recs, probs, docs, SourceStatus{RefreshedAt: now, Entities: 2}); err != nil {
				t.Fatal(err)
			}
			// Second save: pricing changes owner, payment becomes an orphan, search is new.
			recs[1] = record("pricing", "pricing", now)
			recs[0].OrphanedAt = now
			recs = append(recs, record("search", "discovery", now))
			docs["search/runbook.md"] = []byte("# Search")
			if err := s.SaveSource(ctx, "demo", recs, nil, docs, SourceStatus{RefreshedAt: now, Entities: 3, Revision: "abc"}); err != nil {
				t.Fatal(err)
			}
			// Another source is independent.
			if err := s.SaveSource(ctx, "other", []catalog.Record{func() catalog.Record { r := record("maps", "geo", now); r.Source = "other"; return r }()}, nil, nil, SourceStatus{RefreshedAt: now}); err != nil {
				t.Fatal(err)
			}
			loaded, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, gotProbs, states := loaded.Records, loaded.Problems, loaded.Sources
			if len(loaded.Documents["demo"]) != 2 || string(loaded.Documents["demo"]["search/runbook.md"]) != "# Search" {
				t.Errorf("documents = %v", loaded.Documents)
			}
			if len(got) != 4 {
				t.Fatalf("loaded %d entities, want 4", len(got))
			}
			byName := map[string]catalog.Record{}
			for _, r := range got {
				byName[r.Entity.Metadata.Name] = r
			}
			if o := byName["pricing"].Entity.SpecString("owner"); o != "pricing" {
				t.Errorf("pricing owner = %q, want the updated value", o)
			}
			if !byName["payment"].Orphan() {
				t.Errorf("payment should be stored as an orphan")
			}
			if byName["payment"].Hash != catalog.Hash(byName["payment"].Entity) {
				t.Errorf("stored hash does not match the stored body")
			}
			if len(gotProbs) != 0 {
				t.Errorf("problems of the source should be replaced: %v", gotProbs)
			}
			if len(states) != 2 || states[0].Revision != "abc" || states[0].Entities != 3 {
				t.Errorf("states = %+v", states)
			}
		})
	}
}
