package catalog

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Snapshot is an immutable view of the whole catalog with computed relations and search data.
// Readers share it without locks; a refresh builds a new one and swaps it in. NEVER modify a
// Record or Entity reachable from a Snapshot: other requests are reading it concurrently.
type Snapshot struct {
	records  []*Record // sorted by key
	byKey    map[string]*Record
	index    []indexEntry // parallel to records
	problems []Problem
	docs     map[string]map[string][]byte // source → path → Markdown
	builtAt  time.Time
	views    *views // precomputed default views (views.go)
	errors   int    // problems of severity error, shown on every page
}

type indexEntry struct {
	name     string // lower-case name
	title    string // lower-case title
	haystack string // lower-case name, title, description and tags
	facets   [numFacets][]string
}

// Facets, in the order the UI shows them.
const (
	FacetKind = iota
	FacetType
	FacetOwner
	FacetSystem
	FacetLifecycle
	FacetTag
	numFacets
)

// FacetNames are the URL parameter names of the facets, indexed by the Facet constants.
var FacetNames = [numFacets]string{"kind", "type", "owner", "system", "lifecycle", "tag"}

// NewSnapshot builds a snapshot from every source's records and their stored problems. The
// records are copied (entities shallowly, so relations can be computed on the copies): the
// caller's records, which an older snapshot may share, are never modified.
func NewSnapshot(in []Record, problems []Problem) *Snapshot {
	return NewSnapshotWithDocuments(in, problems, nil)
}

// NewSnapshotWithDocuments is NewSnapshot plus the runbook documents read from each source
// (source → path → Markdown), which the snapshot shares read-only.
func NewSnapshotWithDocuments(in []Record, problems []Problem, docs map[string]map[string][]byte) *Snapshot {
	s := &Snapshot{byKey: make(map[string]*Record, len(in)), builtAt: time.Now(), docs: docs}
	s.problems = append(s.problems, problems...)
	entities := make(map[string]*Entity, len(in))
	records := make([]Record, len(in))
	for i := range in {
		records[i] = in[i]
		e := *in[i].Entity
		records[i].Entity = &e
		r := &records[i]
		key := r.Entity.Ref().Key()
		if other, dup := s.byKey[key]; dup {
			keep, drop := other, r
			if other.Orphan() && !r.Orphan() {
				keep, drop = r, other
			}
			s.byKey[key] = keep
			entities[key] = keep.Entity
			s.problems = append(s.problems, Problem{Source: drop.Source, File: drop.File, Line: drop.Line, Column: 1,
				Severity: SeverityError, Entity: key,
				Message: fmt.Sprintf("duplicate entity %s: source %q already defines it in %s; this copy is ignored", drop.Entity.Ref().Short(), keep.Source, keep.File)})
			continue
		}
		s.byKey[key] = r
		entities[key] = r.Entity
	}
	for _, r := range s.byKey {
		s.records = append(s.records, r)
	}
	sortRecords(s.records)
	for _, u := range linkRelations(entities) {
		r := s.byKey[u.From.Key()]
		s.problems = append(s.problems, Problem{Source: r.Source, File: r.File, Line: r.Line, Column: 1,
			Severity: SeverityWarning, Entity: u.From.String(), Message: u.String()})
	}
	for _, loop := range findCycles(entities) {
		r := s.byKey[loop[0].Key()]
		names := make([]string, len(loop))
		for i, ref := range loop {
			names[i] = ref.Short()
		}
		s.problems = append(s.problems, Problem{Source: r.Source, File: r.File, Line: r.Line, Column: 1,
			Severity: SeverityWarning, Entity: loop[0].String(), Message: "reference cycle: " + strings.Join(names, " → ")})
	}
	for _, r := range s.records {
		if r.Orphan() {
			s.problems = append(s.problems, Problem{Source: r.Source, File: r.File, Line: r.Line, Column: 1,
				Severity: SeverityWarning, Entity: r.Entity.Ref().String(),
				Message: fmt.Sprintf("orphan: its source no longer emits %s (since %s)", r.Entity.Ref().Short(), r.OrphanedAt.UTC().Format(time.RFC3339))})
		}
	}
	sortProblems(s.problems)
	for _, p := range s.problems {
		if p.Severity == SeverityError {
			s.errors++
		}
	}
	s.index = make([]indexEntry, len(s.records))
	for i, r := range s.records {
		s.index[i] = newIndexEntry(r.Entity)
	}
	s.buildViews()
	return s
}

func newIndexEntry(e *Entity) indexEntry {
	var ie indexEntry
	ie.name = strings.ToLower(e.Metadata.Name)
	ie.title = strings.ToLower(e.Metadata.Title)
	ie.haystack = strings.ToLower(strings.Join([]string{e.Metadata.Name, e.Metadata.Title, e.Metadata.Description, strings.Join(e.Metadata.Tags, " ")}, "\n"))
	ie.facets[FacetKind] = []string{strings.ToLower(e.Kind)}
	if t := e.SpecString("type"); t != "" {
		ie.facets[FacetType] = []string{strings.ToLower(t)}
	}
	if l := e.SpecString("lifecycle"); l != "" {
		ie.facets[FacetLifecycle] = []string{strings.ToLower(l)}
	}
	for _, rel := range e.Relations {
		switch {
		case rel.Type == RelOwnedBy:
			ie.facets[FacetOwner] = append(ie.facets[FacetOwner], rel.Target.Key())
		case rel.Type == RelPartOf && strings.EqualFold(rel.Target.Kind, KindSystem):
			ie.facets[FacetSystem] = append(ie.facets[FacetSystem], rel.Target.Key())
		}
	}
	for _, t := range e.Metadata.Tags {
		ie.facets[FacetTag] = append(ie.facets[FacetTag], strings.ToLower(t))
	}
	return ie
}

func sortProblems(ps []Problem) {
	rank := func(s Severity) int {
		if s == SeverityError {
			return 0
		}
		return 1
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) < rank(b.Severity)
		}
		if a.Source+a.File != b.Source+b.File {
			return a.Source+a.File < b.Source+b.File
		}
		return a.Line < b.Line
	})
}

// Len is the number of entities.
func (s *Snapshot) Len() int { return len(s.records) }

// BuiltAt is when the snapshot was made.
func (s *Snapshot) BuiltAt() time.Time { return s.builtAt }

// Get returns the record of the entity ref refers to.
func (s *Snapshot) Get(ref Ref) (*Record, bool) {
	r, ok := s.byKey[ref.Key()]
	return r, ok
}

// Records returns every record in key order. The slice is shared: do not modify it.
func (s *Snapshot) Records() []*Record { return s.records }

// Problems returns every problem: stored ones from reading sources plus those found across the
// whole catalog (unresolved references, cycles, duplicates, orphans), errors first.
func (s *Snapshot) Problems() []Problem { return s.problems }

// Errors is how many of the problems are errors (counted once, as every page shows it).
func (s *Snapshot) Errors() int { return s.errors }

// Related returns the records the entity has relations of type rel to, skipping missing ones.
func (s *Snapshot) Related(e *Entity, rel string) []*Record {
	var out []*Record
	for _, ref := range e.RelationsOf(rel) {
		if r, ok := s.byKey[ref.Key()]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Document returns a Markdown document of a source, by path inside the source.
func (s *Snapshot) Document(source, path string) ([]byte, bool) {
	d, ok := s.docs[source][path]
	return d, ok
}

// Documents returns every source's documents (source → path → Markdown). Do not modify them.
func (s *Snapshot) Documents() map[string]map[string][]byte { return s.docs }
