package server

import (
	"path"
	"sort"
	"strings"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/web/components"
)

// Runbooks come from two places: the portal's runbooks folder ("payment.md") and Markdown
// files kept in catalog sources next to the entities that link to them, addressed as
// "source/<source name>/<path in the source>".
const sourceRunbookPrefix = "source/"

// runbook finds a runbook by its address under /runbooks/.
func (s *Server) runbook(snap *catalog.Snapshot, p string) (*runbooks.Runbook, bool) {
	if rest, ok := strings.CutPrefix(p, sourceRunbookPrefix); ok {
		source, doc, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, false
		}
		body, ok := snap.Document(source, path.Clean(doc))
		if !ok {
			return nil, false
		}
		return runbooks.Parse(sourceRunbookPrefix+source+"/"+path.Clean(doc), body), true
	}
	return s.Runbooks.Get(p)
}

// allRunbooks lists the folder's runbooks and every source's, those matching q.
func (s *Server) allRunbooks(snap *catalog.Snapshot, q string) []*runbooks.Runbook {
	out := s.Runbooks.List(q)
	var fromSources []*runbooks.Runbook
	for source, docs := range snap.Documents() {
		for p, body := range docs {
			if b := runbooks.Parse(sourceRunbookPrefix+source+"/"+p, body); b.Matches(q) {
				fromSources = append(fromSources, b)
			}
		}
	}
	sort.Slice(fromSources, func(i, j int) bool { return fromSources[i].Path < fromSources[j].Path })
	return append(out, fromSources...)
}

// entityRunbooks resolves an entity's runbook links: a file in its own source first, else one
// in the runbooks folder. Links to neither are left for the caller to show as plain links.
func (s *Server) entityRunbooks(snap *catalog.Snapshot, rec *catalog.Record) map[string]*runbooks.Runbook {
	out := map[string]*runbooks.Runbook{}
	for _, p := range catalog.RunbookPaths(rec.Entity) {
		if doc := catalog.ResolveDocument(rec.File, p); doc != "" {
			if b, ok := s.runbook(snap, sourceRunbookPrefix+rec.Source+"/"+doc); ok {
				out[p] = b
				continue
			}
		}
		if b, ok := s.Runbooks.Get(runbooks.Normalize(p)); ok {
			out[p] = b
		}
	}
	return out
}

// runbookOwners maps each runbook path to the entities linking to it that the user may view.
func (s *Server) runbookOwners(snap *catalog.Snapshot, sc *access.Scope) map[string][]components.Link {
	out := map[string][]components.Link{}
	for _, r := range snap.Records() {
		if !sc.Record(r) {
			continue
		}
		seen := map[string]bool{}
		for _, b := range s.entityRunbooks(snap, r) {
			if !seen[b.Path] {
				seen[b.Path] = true
				out[b.Path] = append(out[b.Path], components.Link{Label: r.Entity.DisplayName(), Href: entityHref(r.Entity.Ref())})
			}
		}
	}
	return out
}
