package catalog

import (
	"slices"
	"sort"
	"strings"
)

// searchIndexed answers any query from the snapshot's indexes instead of scanning every
// entity: the facet filters are intersected from the lists of each value's records, the text
// is matched only on what remains, and results are sorted by their precomputed rank in the
// chosen order. Facet counts follow the scan's rule: an entity counts for a facet's values when
// it matches everything but that facet's own selection.
func (s *Snapshot) searchIndexed(q Query, order string, tokens []string) Result {
	v := s.views
	var lists [numFacets][]int32 // per filtered facet: records holding one of its selected values
	var selected [numFacets]map[string]bool
	filtered := 0
	for f, vals := range q.Filters {
		if len(vals) == 0 {
			continue
		}
		filtered++
		selected[f] = map[string]bool{}
		for _, val := range vals {
			val = strings.ToLower(val)
			if !selected[f][val] {
				selected[f][val] = true
				lists[f] = union(lists[f], v.members[f][val])
			}
		}
	}
	keep := func(i int32) bool {
		return matchesText(&s.index[i], tokens) && (q.Visible == nil || q.Visible(s.records[i]))
	}
	// matching are the records passing every filter except skip's (-1: every filter) and the
	// text and visibility checks.
	matching := func(skip int) []int32 {
		var set []int32
		first := true
		for f := range lists {
			if selected[f] == nil || f == skip {
				continue
			}
			if first {
				set, first = lists[f], false
			} else {
				set = intersect(set, lists[f])
			}
		}
		var out []int32
		if first { // no filter applies: every record
			for i := range s.index {
				if keep(int32(i)) {
					out = append(out, int32(i))
				}
			}
			return out
		}
		for _, i := range set {
			if keep(i) {
				out = append(out, i)
			}
		}
		return out
	}
	hits := matching(-1)

	var counts [numFacets]map[string]int
	for f := range counts {
		counts[f] = map[string]int{}
	}
	for _, i := range hits {
		for f, vals := range s.index[i].facets {
			if selected[f] != nil {
				continue // counted below, over what passes the other facets
			}
			for _, val := range vals {
				counts[f][val]++
			}
		}
	}
	for g := range lists {
		if selected[g] == nil {
			continue
		}
		for _, i := range matching(g) {
			for _, val := range s.index[i].facets[g] {
				counts[g][val]++
			}
		}
	}

	if order == "relevance" {
		scores := make(map[int32]int, len(hits))
		for _, i := range hits {
			scores[i] = score(&s.index[i], q.Text, tokens)
		}
		rank := v.rank["name"]
		sort.Slice(hits, func(a, b int) bool {
			x, y := hits[a], hits[b]
			if scores[x] != scores[y] {
				return scores[x] > scores[y]
			}
			return rank[x] < rank[y]
		})
	} else {
		rank := v.rank[order]
		sort.Slice(hits, func(a, b int) bool { return rank[hits[a]] < rank[hits[b]] })
	}
	res := Result{Total: len(hits), Offset: q.Offset, Limit: q.Limit}
	if res.Limit <= 0 {
		res.Limit = 25
	}
	for i := res.Offset; i < len(hits) && i < res.Offset+res.Limit; i++ {
		res.Items = append(res.Items, s.records[hits[i]])
	}
	for f := range counts {
		res.Facets[f] = sortedFacet(counts[f])
		for val := range selected[f] {
			j := slices.IndexFunc(res.Facets[f], func(fv FacetValue) bool { return fv.Value == val })
			if j >= 0 {
				res.Facets[f][j].Selected = true
			} else {
				res.Facets[f] = append(res.Facets[f], FacetValue{Value: val, Selected: true})
			}
		}
		sortFacetValues(res.Facets[f])
	}
	return res
}

// sortFacetValues orders values as results list them: by count, then value.
func sortFacetValues(fv []FacetValue) {
	sort.Slice(fv, func(a, b int) bool {
		if fv[a].Count != fv[b].Count {
			return fv[a].Count > fv[b].Count
		}
		return fv[a].Value < fv[b].Value
	})
}

// union merges two ascending lists.
func union(a, b []int32) []int32 {
	if len(a) == 0 {
		return b
	}
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// intersect keeps what two ascending lists share.
func intersect(a, b []int32) []int32 {
	var out []int32
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case b[j] < a[i]:
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}
