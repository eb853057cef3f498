package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/catalog"
)

var benchTeams = []string{"identity", "payments", "messaging", "geo", "discovery", "data", "platform", "growth", "ads", "mobile"}
var benchWords = []string{"payment", "profile", "search", "maps", "pricing", "notify", "ledger", "order", "cart", "route", "index", "session"}

// wordySnap is a catalog of n entities shaped like make bench's: names, titles and
// descriptions made of a dozen words, so a search matches a twelfth of it.
func wordySnap(n int) *catalog.Snapshot {
	var recs []catalog.Record
	for i := 0; i < n/5; i++ {
		team := fmt.Sprintf("team-%s-%d", benchTeams[i%len(benchTeams)], i%200)
		w := benchWords[i%len(benchWords)]
		recs = append(recs,
			catalog.Record{Entity: &catalog.Entity{Kind: "Group", Metadata: catalog.Metadata{Name: fmt.Sprintf("%s-%d", team, i), Namespace: "default"}, Spec: map[string]any{"type": "team"}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "User", Metadata: catalog.Metadata{Name: fmt.Sprintf("user-%d", i), Namespace: "default"}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "Component", Metadata: catalog.Metadata{Name: fmt.Sprintf("%s-svc-%d", w, i), Namespace: "default",
				Title: fmt.Sprintf("%s service %d", w, i), Description: fmt.Sprintf("Handles %s requests for shard %d of the %s domain.", w, i, benchTeams[i%len(benchTeams)]),
				Tags: []string{benchTeams[i%len(benchTeams)], fmt.Sprintf("tier-%d", i%3+1)}},
				Spec: map[string]any{"type": "service", "lifecycle": []string{"production", "experimental", "deprecated"}[i%3], "owner": team, "system": fmt.Sprintf("sys-%d", i%50)}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "API", Metadata: catalog.Metadata{Name: fmt.Sprintf("%s-api-%d", w, i), Namespace: "default", Description: fmt.Sprintf("API of %s service %d", w, i)}, Spec: map[string]any{"type": "openapi", "owner": team}}, UpdatedAt: time.Now()},
			catalog.Record{Entity: &catalog.Entity{Kind: "Resource", Metadata: catalog.Metadata{Name: fmt.Sprintf("%s-db-%d", w, i), Namespace: "default"}, Spec: map[string]any{"type": "database", "owner": team}}, UpdatedAt: time.Now()},
		)
	}
	return catalog.NewSnapshot(recs, nil)
}

// BenchmarkCatalogSearch is the catalog list with search and facets at 100,000 entities, in
// the four shapes make bench sends.
func BenchmarkCatalogSearch(b *testing.B) {
	srv := New(Deps{Catalog: staticCatalog{wordySnap(100000)}, Anonymous: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	shapes := map[string]url.Values{
		"word":             {"q": {"payment"}},
		"prefix+kind":      {"q": {"pay"}, "kind": {"component"}},
		"owner+sort":       {"owner": {"group:default/team-payments-1"}, "sort": {"name"}},
		"tag+lifecycle+p3": {"tag": {"payments"}, "lifecycle": {"production"}, "page": {"3"}},
	}
	for name, v := range shapes {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest("GET", "/catalog?"+v.Encode(), nil))
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
