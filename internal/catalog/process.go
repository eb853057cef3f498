package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
)

// Record is an entity as ingested: where it came from and whether its source still emits it.
type Record struct {
	Entity *Entity
	Source string
	File   string // path inside the source
	Line   int
	// Hash identifies the entity's content; the store rewrites a record only when it changes.
	Hash       string
	OrphanedAt time.Time // zero while the source still emits the entity
	UpdatedAt  time.Time
}

// Orphan reports whether the record's source no longer emits it.
func (r Record) Orphan() bool { return !r.OrphanedAt.IsZero() }

// DefaultMaxFileSize is the largest catalog file read unless configured otherwise.
const DefaultMaxFileSize = 1 << 20

// Reading is what reading a source produced: the entities it emits now, the problems found,
// and the files and entities that failed, whose last good versions must be kept.
type Reading struct {
	Records     []Record
	Problems    []Problem
	FailedFiles map[string]bool // files that could not be read or parsed at all
	FailedRefs  map[string]bool // entity keys whose document failed validation
	// Documents are the Markdown files entities link to as runbooks that live in the source
	// itself, by path inside the source.
	Documents map[string][]byte
}

// Reader reads the catalog files of one source.
type Reader struct {
	Source      string // source name, recorded on every entity
	Location    string // where the source lives, for the managed-by annotations
	FS          fs.FS
	Patterns    []string // globs of the files to read, relative to the root
	MaxFileSize int64
}

// Read reads every file matching the patterns, following Location entities to more files of
// the same source.
func (r *Reader) Read() *Reading {
	out := &Reading{FailedFiles: map[string]bool{}, FailedRefs: map[string]bool{}, Documents: map[string][]byte{}}
	maxSize := r.MaxFileSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	sub := &substituter{fsys: r.FS, maxSize: maxSize}
	seenFile := map[string]bool{}
	seenRef := map[string]Record{}
	var queue []string
	for _, pat := range r.Patterns {
		matches, err := doublestar.Glob(r.FS, pat, doublestar.WithFilesOnly())
		if err != nil {
			out.Problems = append(out.Problems, Problem{File: pat, Severity: SeverityError, Message: "invalid file pattern: " + err.Error()})
			continue
		}
		sort.Strings(matches)
		queue = append(queue, matches...)
	}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		if seenFile[file] {
			continue
		}
		seenFile[file] = true
		more := r.readFile(file, sub, seenRef, out)
		queue = append(queue, more...)
	}
	for i := range out.Problems {
		out.Problems[i].Source = r.Source
	}
	return out
}

// readFile reads one file into out and returns the files its Location entities point at.
func (r *Reader) readFile(file string, sub *substituter, seen map[string]Record, out *Reading) []string {
	data, err := readLimited(r.FS, file, sub.maxSize)
	if err != nil {
		out.FailedFiles[file] = true
		out.Problems = append(out.Problems, Problem{File: file, Severity: SeverityError, Message: "cannot read: " + err.Error()})
		return nil
	}
	docs, ps := parseDocuments(file, data)
	if len(ps) > 0 {
		out.FailedFiles[file] = true
		out.Problems = append(out.Problems, ps...)
		return nil
	}
	var targets []string
	for i := range docs {
		d := &docs[i]
		if _, ok := d.value["apiVersion"]; !ok {
			if _, ok := d.value["kind"]; !ok {
				continue // not an entity: e.g. an OpenAPI document next to the catalog files
			}
		}
		hint := refHint(d.value)
		sps := sub.resolve(d, hint)
		out.Problems = append(out.Problems, sps...)
		e, vps := validateDocument(d)
		out.Problems = append(out.Problems, vps...)
		if e == nil || HasErrors(sps) {
			if hint != "" {
				if ref, err := ParseRef(hint, "", DefaultNamespace); err == nil {
					out.FailedRefs[ref.Key()] = true
				}
			}
			continue
		}
		key := e.Ref().Key()
		line, _ := d.position()
		prev, dup := seen[key]
		if dup && prev.File != file {
			out.Problems = append(out.Problems, d.problem(SeverityError, hint,
				fmt.Sprintf("duplicate entity %s: already defined at %s:%d", e.Ref().Short(), prev.File, prev.Line), "metadata", "name"))
			continue
		}
		r.annotate(e, file)
		rec := Record{Entity: e, Source: r.Source, File: file, Line: line, Hash: Hash(e)}
		seen[key] = rec
		if dup {
			// Backstage accepts a file that defines an entity twice and keeps the later
			// definition; so do we, with a warning naming both.
			out.Problems = append(out.Problems, d.problem(SeverityWarning, hint,
				fmt.Sprintf("duplicate entity %s: defined twice in this file (documents at lines %d and %d); the later one is used, as Backstage does", e.Ref().Short(), prev.Line, line), "metadata", "name"))
			replaceRecord(out, key, rec)
			continue
		}
		out.Records = append(out.Records, rec)
		r.readRunbooks(e, file, sub.maxSize, out)
		if strings.EqualFold(e.Kind, KindLocation) && isCoreAPIVersion(e.APIVersion) {
			targets = append(targets, r.locationTargets(d, e, out)...)
		}
	}
	return targets
}

func (r *Reader) annotate(e *Entity, file string) {
	if e.Metadata.Annotations == nil {
		e.Metadata.Annotations = map[string]string{}
	}
	loc := r.Location + "/" + file
	if _, ok := e.Metadata.Annotations[AnnotationManagedBy]; !ok {
		e.Metadata.Annotations[AnnotationManagedBy] = loc
	}
	if _, ok := e.Metadata.Annotations[AnnotationOrigin]; !ok {
		e.Metadata.Annotations[AnnotationOrigin] = r.Location
	}
}

// locationTargets returns the files of this source a Location points at, and reports the
// targets that cannot be read without failing anything else.
func (r *Reader) locationTargets(d *document, e *Entity, out *Reading) []string {
	targets := e.SpecStrings("targets")
	if t := e.SpecString("target"); t != "" {
		targets = append([]string{t}, targets...)
	}
	optional := e.SpecString("presence") == "optional"
	ref := e.Ref().String()
	var files []string
	for i, t := range targets {
		at := []string{"spec", "targets", fmt.Sprint(i)}
		if strings.Contains(t, "://") {
			out.Problems = append(out.Problems, d.problem(SeverityWarning, ref,
				fmt.Sprintf("location target %s was not read: remote targets are not fetched; add its repository as a git source", t), at...))
			continue
		}
		p, err := resolveInSource(d.file, t)
		if err != nil {
			out.Problems = append(out.Problems, d.problem(SeverityError, ref, fmt.Sprintf("location target %s: %v", t, err), at...))
			continue
		}
		matches, _ := doublestar.Glob(r.FS, p, doublestar.WithFilesOnly())
		if len(matches) == 0 && !optional {
			out.Problems = append(out.Problems, d.problem(SeverityWarning, ref, fmt.Sprintf("location target %s was not found in the source", t), at...))
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	return files
}

// Hash returns a digest of the entity's content (relations excluded, as they are computed).
func Hash(e *Entity) string {
	c := *e
	c.Relations = nil
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// RunbookPaths returns the runbook paths an entity names, as written: the Portico annotation
// and metadata.links of type runbook or playbook that are not absolute URLs.
func RunbookPaths(e *Entity) []string {
	var out []string
	if p := e.Metadata.Annotations[AnnotationRunbook]; p != "" {
		out = append(out, p)
	}
	for _, l := range e.Metadata.Links {
		if (l.Type == "runbook" || l.Type == "playbook") && !strings.Contains(l.URL, "://") {
			out = append(out, l.URL)
		}
	}
	return out
}

// ResolveDocument resolves a relative document path written in file to a path inside the
// source, or "" when it leaves the source.
func ResolveDocument(file, p string) string {
	r, err := resolveInSource(file, strings.TrimPrefix(p, "/"))
	if err != nil {
		return ""
	}
	return r
}

// readRunbooks keeps the Markdown runbooks an entity links to that live next to it in the
// source (a service repository's docs/runbook.md). Links that are not in the source may name
// the portal's own runbooks folder; they are not errors.
func (r *Reader) readRunbooks(e *Entity, file string, maxSize int64, out *Reading) {
	for _, p := range RunbookPaths(e) {
		doc := ResolveDocument(file, p)
		if doc == "" || !strings.HasSuffix(strings.ToLower(doc), ".md") || out.Documents[doc] != nil {
			continue
		}
		if data, err := readLimited(r.FS, doc, maxSize); err == nil {
			out.Documents[doc] = data
		}
	}
}

// replaceRecord puts rec in place of the record already read under key.
func replaceRecord(out *Reading, key string, rec Record) {
	for i := range out.Records {
		if out.Records[i].Entity.Ref().Key() == key {
			out.Records[i] = rec
			return
		}
	}
}
