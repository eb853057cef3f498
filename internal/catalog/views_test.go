package catalog

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// viewsCatalog is a catalog with every facet varied: kinds, types, owners, systems,
// lifecycles, tags and update times.
func viewsCatalog(n int) *Snapshot {
	var recs []Record
	kinds := []string{"Component", "API", "Resource"}
	for i := range n {
		kind := kinds[i%3]
		spec := map[string]any{"owner": fmt.Sprintf("team-%d", i%7), "system": fmt.Sprintf("sys-%d", i%5), "type": []string{"service", "website", "database"}[i%3]}
		if i%4 != 0 {
			spec["lifecycle"] = []string{"production", "experimental", "deprecated"}[i%3]
		}
		e := &Entity{APIVersion: "backstage.io/v1alpha1", Kind: kind, Metadata: Metadata{Name: fmt.Sprintf("svc-%03d", (i*37)%n), Namespace: "default",
			Tags: []string{[]string{"go", "java", "rust"}[i%3], fmt.Sprintf("tier-%d", i%2)}}, Spec: spec}
		recs = append(recs, Record{Entity: e, Source: "t", File: "f.yaml", UpdatedAt: time.Unix(int64(1000+i%13), 0)})
	}
	return NewSnapshot(recs, nil)
}

// TestViewsMatchTheGeneralPath: every view the indexes answer gives exactly what the general
// path (filter, sort and count over every entity) gives: items, totals and facet counts.
func TestViewsMatchTheGeneralPath(t *testing.T) {
	s := viewsCatalog(300)
	queries := []Query{{}, {Offset: 25}, {Offset: 290}, {Offset: 400}, {Limit: 100}}
	for _, order := range append([]string{"", "relevance"}, viewOrders...) {
		for f, name := range FacetNames {
			for _, val := range []string{"component", "website", "group:default/team-3", "system:default/sys-2", "production", "GO", "tier-1", "nothing"} {
				q := Query{Sort: order, Limit: 20, Offset: 10}
				q.Filters[f] = []string{val}
				queries = append(queries, q)
				_ = name
			}
		}
		queries = append(queries, Query{Sort: order})
	}
	checked := 0
	for _, q := range queries {
		fast := s.Search(q)
		slow := s.searchScan(q, orderFor(q.Sort, nil), nil)
		if _, answered := s.searchView(q, orderOf(q)); !answered {
			t.Fatalf("query %+v did not take the view path", q)
		}
		if !reflect.DeepEqual(itemNames(fast.Items), itemNames(slow.Items)) || fast.Total != slow.Total {
			t.Errorf("query %+v: view %v (total %d), general %v (total %d)", q, itemNames(fast.Items), fast.Total, itemNames(slow.Items), slow.Total)
		}
		for f := range fast.Facets {
			if !reflect.DeepEqual(normal(fast.Facets[f]), normal(slow.Facets[f])) {
				t.Errorf("query %+v facet %s: view %v, general %v", q, FacetNames[f], fast.Facets[f], slow.Facets[f])
			}
		}
		checked++
	}
	if checked < 300 {
		t.Fatalf("only %d queries checked", checked)
	}
	// Searches and several filters take the general path.
	if _, ok := s.searchView(Query{Text: "svc"}, "relevance"); ok {
		t.Error("a search took the view path")
	}
	two := Query{}
	two.Filters[FacetKind], two.Filters[FacetTag] = []string{"component"}, []string{"go"}
	if _, ok := s.searchView(two, "name"); ok {
		t.Error("two filters took the view path")
	}
}

func orderOf(q Query) string {
	if q.Sort == "" || q.Sort == "relevance" {
		return "name"
	}
	return q.Sort
}

func itemNames(rs []*Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Entity.Kind+":"+r.Entity.Metadata.Name)
	}
	return out
}

// normal drops empty slices' nil/empty difference.
func normal(fv []FacetValue) []FacetValue {
	if len(fv) == 0 {
		return nil
	}
	return fv
}

// TestIndexedMatchesTheScan: searches, several filters (several values in a facet) and
// visibility filters answered from the indexes equal the scan of every entity.
func TestIndexedMatchesTheScan(t *testing.T) {
	s := viewsCatalog(400)
	odd := func(r *Record) bool {
		return len(r.Entity.Metadata.Name)%2 == 0 || r.Entity.Metadata.Name[len(r.Entity.Metadata.Name)-1]%2 == 0
	}
	var queries []Query
	for _, text := range []string{"", "svc", "svc-1", "SVC-12", "go", "tier-1", "no-match"} {
		for _, order := range append([]string{"", "relevance"}, viewOrders...) {
			for _, filters := range [][2][]string{
				{nil, nil}, {{"component"}, nil}, {{"component", "api"}, {"go"}}, {{"resource"}, {"java", "rust"}}, {nil, {"tier-0"}},
			} {
				for _, vis := range []func(*Record) bool{nil, odd} {
					q := Query{Text: text, Sort: order, Limit: 15, Offset: 5, Visible: vis}
					q.Filters[FacetKind], q.Filters[FacetTag] = filters[0], filters[1]
					if text == "go" {
						q.Filters[FacetLifecycle] = []string{"production", "experimental"}
					}
					queries = append(queries, q)
				}
			}
		}
	}
	for _, q := range queries {
		tokens := tokensOf(q.Text)
		got := s.searchIndexed(q, orderFor(q.Sort, tokens), tokens)
		want := s.searchScan(q, orderFor(q.Sort, tokens), tokens)
		if !reflect.DeepEqual(itemNames(got.Items), itemNames(want.Items)) || got.Total != want.Total {
			t.Errorf("query %q sort %q filters %v: indexed %v (total %d), scan %v (total %d)", q.Text, q.Sort, q.Filters, itemNames(got.Items), got.Total, itemNames(want.Items), want.Total)
			continue
		}
		for f := range got.Facets {
			if !reflect.DeepEqual(normal(got.Facets[f]), normal(want.Facets[f])) {
				t.Errorf("query %q filters %v facet %s: indexed %v, scan %v", q.Text, q.Filters, FacetNames[f], got.Facets[f], want.Facets[f])
			}
		}
	}
	if len(queries) < 500 {
		t.Fatalf("only %d queries", len(queries))
	}
}

func tokensOf(text string) []string { return strings.Fields(strings.ToLower(text)) }
