package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/ingest"
)

// staticCatalog serves one snapshot, for benchmarks.
type staticCatalog struct{ s *catalog.Snapshot }

func (c staticCatalog) Snapshot() *catalog.Snapshot    { return c.s }
func (c staticCatalog) Statuses() []ingest.SourceInfo  { return nil }
func (c staticCatalog) Ready() bool                    { return true }
func (c staticCatalog) MatchPush(ingest.Push) []string { return nil }
func (c staticCatalog) Trigger(string)                 {}

// bigSnap is a catalog of n entities: groups, users, components, APIs and resources.
func bigSnap(n int) *catalog.Snapshot {
	var recs []catalog.Record
	for i := 0; i < n/5; i++ {
		team := fmt.Sprintf("team-x-%d", i)
		recs = append(recs,
			catalog.Record{Entity: &catalog.Entity{Kind: "Group", Metadata: catalog.Metadata{Name: team, Namespace: "default"}, Spec: map[string]any{"type": "team"}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "User", Metadata: catalog.Metadata{Name: fmt.Sprintf("user-%d", i), Namespace: "default"}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "Component", Metadata: catalog.Metadata{Name: fmt.Sprintf("svc-%d", i), Namespace: "default", Tags: []string{"go", fmt.Sprintf("tier-%d", i%3)}},
				Spec: map[string]any{"type": "service", "lifecycle": "production", "owner": team, "system": fmt.Sprintf("sys-%d", i%50)}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "API", Metadata: catalog.Metadata{Name: fmt.Sprintf("api-%d", i), Namespace: "default"}, Spec: map[string]any{"type": "openapi", "owner": team}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "Resource", Metadata: catalog.Metadata{Name: fmt.Sprintf("db-%d", i), Namespace: "default"}, Spec: map[string]any{"type": "database", "owner": team}}, UpdatedAt: time.Now()},
		)
	}
	return catalog.NewSnapshot(recs, nil)
}

// BenchmarkViews is the handler cost of the default catalog views at 10,000 and 100,000
// entities, without the network: flat when the indexes do their job.
func BenchmarkViews(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		srv := New(Deps{Catalog: staticCatalog{bigSnap(n)}, Anonymous: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		for _, path := range []string{"/catalog", "/catalog?kind=component", "/api/v1/entities?kind=component&limit=20"} {
			b.Run(fmt.Sprintf("%d%s", n, path), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rec := httptest.NewRecorder()
					srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				}
			})
		}
	}
}
