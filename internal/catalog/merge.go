package catalog

import (
	"sort"
	"time"
)

// OrphanPolicy says what happens to an entity its source no longer emits: it is marked as an
// orphan at once, then removed after Grace unless Keep is set.
type OrphanPolicy struct {
	Keep  bool
	Grace time.Duration
}

// Merge combines what a source emits now with what it emitted before. Entities of files that
// failed, and entities whose document failed validation, keep their last good version; the
// others that disappeared become orphans.
func Merge(prev []Record, rd *Reading, now time.Time, policy OrphanPolicy) []Record {
	prevByKey := make(map[string]Record, len(prev))
	for _, p := range prev {
		prevByKey[p.Entity.Ref().Key()] = p
	}
	next := make(map[string]Record, len(rd.Records))
	for _, r := range rd.Records {
		key := r.Entity.Ref().Key()
		r.UpdatedAt = now
		if p, ok := prevByKey[key]; ok && p.Hash == r.Hash {
			r.UpdatedAt = p.UpdatedAt
		}
		next[key] = r
	}
	for key, p := range prevByKey {
		if _, ok := next[key]; ok {
			continue
		}
		if rd.FailedFiles[p.File] || rd.FailedRefs[key] {
			next[key] = p // last good version
			continue
		}
		if p.OrphanedAt.IsZero() {
			p.OrphanedAt = now
		}
		if !policy.Keep && now.Sub(p.OrphanedAt) >= policy.Grace {
			continue
		}
		next[key] = p
	}
	out := make([]Record, 0, len(next))
	for _, k := range sortedKeys(next) {
		out = append(out, next[k])
	}
	return out
}

// sortRecords orders records by kind then name, the catalog's natural order.
func sortRecords(rs []*Record) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Entity.Ref().Key() < rs[j].Entity.Ref().Key() })
}
