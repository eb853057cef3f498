package catalog

import (
	"sort"
	"strings"
)

// Query selects entities: a free-text search, facet filters (values OR-ed within a facet,
// facets AND-ed together), an order and a page.
type Query struct {
	Text    string
	Filters [numFacets][]string
	Sort    string // relevance, name, -name, kind, owner, lifecycle, updated
	Offset  int
	Limit   int
	// Visible, when set, keeps only the records it accepts: results, totals and facet counts
	// are all of what the asker may view.
	Visible func(*Record) bool
}

// Sort orders a Query accepts.
var SortOrders = []string{"relevance", "name", "-name", "kind", "owner", "lifecycle", "updated"}

// Result is one page of matching entities with facet counts over all matches. Its slices may
// be shared with the snapshot: read only.
type Result struct {
	Items  []*Record
	Total  int
	Offset int
	Limit  int
	Facets [numFacets][]FacetValue
}

// FacetValue is one value of a facet with how many entities would match if it were selected,
// given the other facets' selections (so counts stay meaningful while filtering).
type FacetValue struct {
	Value    string
	Count    int
	Selected bool
}

// Search answers a query: from the precomputed views when it is one of them, else from the
// indexes (facet filters intersected, the text matched on what remains, orders by rank).
func (s *Snapshot) Search(q Query) Result {
	tokens := strings.Fields(strings.ToLower(q.Text))
	order := orderFor(q.Sort, tokens)
	if res, ok := s.searchView(q, order); ok {
		return res
	}
	if s.views != nil {
		return s.searchIndexed(q, order, tokens)
	}
	return s.searchScan(q, order, tokens)
}

// orderFor is the order a query's results take: relevance when searching, else name, unless
// asked otherwise.
func orderFor(sort string, tokens []string) string {
	if sort == "" || (sort == "relevance" && len(tokens) == 0) {
		if len(tokens) > 0 {
			return "relevance"
		}
		return "name"
	}
	return sort
}

// searchScan answers a query by scanning every entity once: the reference the indexed paths
// are tested against.
func (s *Snapshot) searchScan(q Query, order string, tokens []string) Result {
	var selected [numFacets]map[string]bool
	for f, vals := range q.Filters {
		if len(vals) > 0 {
			selected[f] = map[string]bool{}
			for _, v := range vals {
				selected[f][strings.ToLower(v)] = true
			}
		}
	}
	var counts [numFacets]map[string]int
	for f := range counts {
		counts[f] = map[string]int{}
	}
	type hit struct {
		i     int
		score int
	}
	var hits []hit
	for i := range s.index {
		ie := &s.index[i]
		if !matchesText(ie, tokens) || q.Visible != nil && !q.Visible(s.records[i]) {
			continue
		}
		failed, failedFacet := 0, -1
		for f := range selected {
			if selected[f] != nil && !anySelected(ie.facets[f], selected[f]) {
				failed++
				failedFacet = f
			}
		}
		switch {
		case failed == 0:
			hits = append(hits, hit{i, score(ie, q.Text, tokens)})
			for f := range ie.facets {
				for _, v := range ie.facets[f] {
					counts[f][v]++
				}
			}
		case failed == 1:
			// Counts for the one facet this entity fails: selecting that value would add it.
			for _, v := range ie.facets[failedFacet] {
				counts[failedFacet][v]++
			}
		}
	}
	less := s.lessFunc(order)
	sort.SliceStable(hits, func(a, b int) bool {
		if order == "relevance" && hits[a].score != hits[b].score {
			return hits[a].score > hits[b].score
		}
		return less(hits[a].i, hits[b].i)
	})
	res := Result{Total: len(hits), Offset: q.Offset, Limit: q.Limit}
	if res.Limit <= 0 {
		res.Limit = 25
	}
	for i := res.Offset; i < len(hits) && i < res.Offset+res.Limit; i++ {
		res.Items = append(res.Items, s.records[hits[i].i])
	}
	for f := range counts {
		for v, c := range counts[f] {
			res.Facets[f] = append(res.Facets[f], FacetValue{Value: v, Count: c, Selected: selected[f][v]})
		}
		for v := range selected[f] {
			if _, ok := counts[f][v]; !ok {
				res.Facets[f] = append(res.Facets[f], FacetValue{Value: v, Selected: true})
			}
		}
		sort.Slice(res.Facets[f], func(a, b int) bool {
			x, y := res.Facets[f][a], res.Facets[f][b]
			if x.Count != y.Count {
				return x.Count > y.Count
			}
			return x.Value < y.Value
		})
	}
	return res
}

func matchesText(ie *indexEntry, tokens []string) bool {
	for _, t := range tokens {
		if !strings.Contains(ie.haystack, t) {
			return false
		}
	}
	return true
}

func anySelected(vals []string, sel map[string]bool) bool {
	for _, v := range vals {
		if sel[v] {
			return true
		}
	}
	return false
}

func score(ie *indexEntry, text string, tokens []string) int {
	q := strings.ToLower(strings.TrimSpace(text))
	switch {
	case q == "":
		return 0
	case ie.name == q:
		return 100
	case strings.HasPrefix(ie.name, q):
		return 60
	case strings.Contains(ie.name, q):
		return 40
	case strings.Contains(ie.title, q):
		return 20
	}
	n := 0
	for _, t := range tokens {
		if strings.Contains(ie.name, t) {
			n += 5
		}
	}
	return 1 + n
}

func (s *Snapshot) lessFunc(order string) func(a, b int) bool {
	byName := func(a, b int) bool {
		if s.index[a].name != s.index[b].name {
			return s.index[a].name < s.index[b].name
		}
		return a < b
	}
	byFacet := func(f int) func(a, b int) bool {
		return func(a, b int) bool {
			x, y := first(s.index[a].facets[f]), first(s.index[b].facets[f])
			if x != y {
				return x < y
			}
			return byName(a, b)
		}
	}
	switch order {
	case "-name":
		return func(a, b int) bool { return byName(b, a) }
	case "kind":
		return byFacet(FacetKind)
	case "owner":
		return byFacet(FacetOwner)
	case "lifecycle":
		return byFacet(FacetLifecycle)
	case "updated":
		return func(a, b int) bool {
			x, y := s.records[a].UpdatedAt, s.records[b].UpdatedAt
			if !x.Equal(y) {
				return x.After(y)
			}
			return byName(a, b)
		}
	}
	return byName
}

func first(vals []string) string {
	if len(vals) == 0 {
		return "\uffff" // entities without a value sort last
	}
	return vals[0]
}
