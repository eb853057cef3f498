package catalog

import (
	"sort"
	"strings"
	"sync"
)

// The views people open first — the whole catalog, or one kind, owner, system, lifecycle, type
// or tag of it, in any order, without a search — are answered from indexes the snapshot
// builds once, since it never changes: every order the UI offers, the entities holding each
// facet value, the facet counts of the unfiltered view, and those of every one-kind, one-type
// and one-lifecycle view (a handful of values each). The single-filter views of facets with
// thousands of values (owners, systems, tags) are counted on first use and kept, so a refresh
// does not pay for views nobody opens. A page of such a view costs a slice of an order
// instead of a filter, sort and count over every entity. Searches, several filters and views
// filtered for a scoped viewer take the general path.

// views are the snapshot's precomputed indexes.
type views struct {
	orders  map[string][]int32            // sort order → record indexes in that order
	rank    map[string][]int32            // sort order → each record's position in it
	members [numFacets]map[string][]int32 // facet value → indexes of the records holding it (ascending)
	counts  [numFacets]map[string]int     // facet counts over every record
	sorted  [numFacets][]FacetValue       // counts as the result lists them (count desc, value)
	single  sync.Map                      // "<facet>\x00<value>" → *singleView
}

// singleView is the view filtered by one facet value: which records it holds, and its facet
// counts.
type singleView struct {
	in     []bool // by record index
	sorted [numFacets][]FacetValue
	orders sync.Map // order → its records in that order, made on first use
}

// ordered is the view's records in order, computed once per order.
func (sv *singleView) ordered(order string, all []int32) []int32 {
	if o, ok := sv.orders.Load(order); ok {
		return o.([]int32)
	}
	var out []int32
	for _, i := range all {
		if sv.in[i] {
			out = append(out, i)
		}
	}
	actual, _ := sv.orders.LoadOrStore(order, out)
	return actual.([]int32)
}

// viewOrders are the orders precomputed ("relevance" without a search is "name").
var viewOrders = []string{"name", "-name", "kind", "owner", "lifecycle", "updated"}

func (s *Snapshot) buildViews() {
	v := &views{orders: map[string][]int32{}, rank: map[string][]int32{}}
	n := len(s.records)
	for f := range v.members {
		v.members[f] = map[string][]int32{}
		v.counts[f] = map[string]int{}
	}
	for i := range s.index {
		for f, vals := range s.index[i].facets {
			for _, val := range vals {
				v.members[f][val] = append(v.members[f][val], int32(i))
				v.counts[f][val]++
			}
		}
	}
	for f := range v.counts {
		v.sorted[f] = sortedFacet(v.counts[f])
	}
	for _, order := range viewOrders {
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
		less := s.lessFunc(order)
		sort.SliceStable(idx, func(a, b int) bool { return less(int(idx[a]), int(idx[b])) })
		v.orders[order] = idx
		rank := make([]int32, n)
		for pos, i := range idx {
			rank[i] = int32(pos)
		}
		v.rank[order] = rank
	}
	s.views = v
	for _, f := range []int{FacetKind, FacetType, FacetLifecycle} {
		for val, members := range v.members[f] {
			s.singleCounts(f, val, members)
		}
	}
}

func sortedFacet(counts map[string]int) []FacetValue {
	out := make([]FacetValue, 0, len(counts))
	for val, c := range counts {
		out = append(out, FacetValue{Value: val, Count: c})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Count != out[b].Count {
			return out[a].Count > out[b].Count
		}
		return out[a].Value < out[b].Value
	})
	return out
}

// searchView answers q from the indexes when it is a view they hold: no text, no visibility
// filter, and at most one facet value selected. ok is false otherwise.
func (s *Snapshot) searchView(q Query, order string) (Result, bool) {
	v := s.views
	if v == nil || strings.TrimSpace(q.Text) != "" || q.Visible != nil {
		return Result{}, false
	}
	facet, value := -1, ""
	for f, vals := range q.Filters {
		switch {
		case len(vals) == 0:
		case len(vals) == 1 && facet < 0:
			facet, value = f, strings.ToLower(vals[0])
		default:
			return Result{}, false
		}
	}
	idx, ok := v.orders[order]
	if !ok {
		return Result{}, false
	}
	res := Result{Offset: q.Offset, Limit: q.Limit}
	if res.Limit <= 0 {
		res.Limit = 25
	}
	if facet < 0 {
		res.Total = len(idx)
		for i := res.Offset; i < len(idx) && i < res.Offset+res.Limit; i++ {
			res.Items = append(res.Items, s.records[idx[i]])
		}
		res.Facets = v.sorted
		return res, true
	}
	members := v.members[facet][value]
	sv := s.singleCounts(facet, value, members)
	res.Total = len(members)
	ordered := sv.ordered(order, idx)
	for i := res.Offset; i < len(ordered) && i < res.Offset+res.Limit; i++ {
		res.Items = append(res.Items, s.records[ordered[i]])
	}
	res.Facets = sv.sorted
	// The filtered facet counts as if it were not selected (selecting another value would add
	// those entities), with the selected value marked.
	own := make([]FacetValue, 0, len(v.sorted[facet])+1)
	found := false
	for _, fv := range v.sorted[facet] {
		if fv.Value == value {
			fv.Selected, found = true, true
		}
		own = append(own, fv)
	}
	if !found {
		own = append(own, FacetValue{Value: value, Selected: true})
	}
	res.Facets[facet] = own
	return res, true
}

// singleCounts counts the facets over one facet value's records, once per snapshot.
func (s *Snapshot) singleCounts(facet int, value string, members []int32) *singleView {
	key := FacetNames[facet] + "\x00" + value
	if sv, ok := s.views.single.Load(key); ok {
		return sv.(*singleView)
	}
	var counts [numFacets]map[string]int
	for f := range counts {
		counts[f] = map[string]int{}
	}
	for _, m := range members {
		for f, vals := range s.index[m].facets {
			for _, val := range vals {
				counts[f][val]++
			}
		}
	}
	sv := &singleView{in: make([]bool, len(s.records))}
	for _, m := range members {
		sv.in[m] = true
	}
	for f := range counts {
		sv.sorted[f] = sortedFacet(counts[f])
	}
	actual, _ := s.views.single.LoadOrStore(key, sv)
	return actual.(*singleView)
}

// IndexBytes estimates the heap the precomputed views take (orders, facet members and counts;
// single-filter views counted so far included), for the benchmark's report.
func (s *Snapshot) IndexBytes() int {
	v := s.views
	if v == nil {
		return 0
	}
	const mapEntry, sliceHeader, fvSize = 48, 24, 48
	n := 0
	for _, o := range v.orders {
		n += 2 * (sliceHeader + 4*len(o)) // the order and its ranks
	}
	for f := range v.members {
		for val, m := range v.members[f] {
			n += mapEntry + len(val) + sliceHeader + 4*cap(m)
		}
		n += mapEntry * len(v.counts[f])
		n += sliceHeader + fvSize*len(v.sorted[f])
	}
	v.single.Range(func(_, x any) bool {
		sv := x.(*singleView)
		n += len(sv.in)
		sv.orders.Range(func(_, o any) bool { n += sliceHeader + 4*len(o.([]int32)); return true })
		for f := range sv.sorted {
			n += sliceHeader + fvSize*len(sv.sorted[f])
		}
		return true
	})
	return n
}
