// Package runbooks reads the Markdown runbooks kept in the repository and renders them to
// sanitized HTML, with an index for listing and searching.
package runbooks

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
)

// Runbook is one Markdown file.
type Runbook struct {
	Path    string // relative to the runbook folder, e.g. "payment.md"
	Title   string // the first heading, else the file name
	Summary string // the first paragraph, as text
	text    string // lower-case source, for search
	source  []byte
}

// Library is the set of runbooks in a folder, read once and re-read on Reload.
type Library struct {
	dir string
	md  goldmark.Markdown
	// policy strips scripts, event handlers and unsafe URLs from rendered Markdown: runbooks
	// come from many repositories and must not be able to run code in the portal.
	policy *bluemonday.Policy

	mu    sync.RWMutex
	books []*Runbook // sorted by path
}

// Open reads the runbooks under dir. A missing folder is an empty library, not an error.
func Open(dir string) (*Library, error) {
	l := &Library{
		dir:    dir,
		md:     goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithParserOptions(parser.WithAutoHeadingID())),
		policy: bluemonday.UGCPolicy(),
	}
	l.policy.AllowAttrs("id").OnElements("h1", "h2", "h3", "h4", "h5", "h6")
	return l, l.Reload()
}

// Reload re-reads the folder.
func (l *Library) Reload() error {
	var books []*Runbook
	if _, err := os.Stat(l.dir); os.IsNotExist(err) {
		l.set(nil)
		return nil
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return fmt.Errorf("open runbooks folder: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(strings.ToLower(p), ".md") {
			return err
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		books = append(books, Parse(p, src))
		return nil
	})
	if err != nil {
		return fmt.Errorf("read runbooks: %w", err)
	}
	sort.Slice(books, func(i, j int) bool { return books[i].Path < books[j].Path })
	l.set(books)
	return nil
}

func (l *Library) set(b []*Runbook) {
	l.mu.Lock()
	l.books = b
	l.mu.Unlock()
}

// Parse reads a runbook's title and summary from its Markdown.
func Parse(p string, src []byte) *Runbook {
	rb := &Runbook{Path: p, Title: strings.TrimSuffix(path.Base(p), path.Ext(p)), source: src, text: strings.ToLower(string(src))}
	inPara := false
	var para []string
	for _, line := range strings.Split(string(src), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "# ") && rb.Title == strings.TrimSuffix(path.Base(p), path.Ext(p)):
			rb.Title = strings.TrimSpace(t[2:])
		case t == "" && inPara:
			rb.Summary = strings.Join(para, " ")
			return rb
		case t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, ">") && !strings.HasPrefix(t, "|") && !strings.HasPrefix(t, "-"):
			inPara = true
			para = append(para, t)
		}
	}
	rb.Summary = strings.Join(para, " ")
	return rb
}

// List returns the runbooks whose text contains every word of q (all of them when q is empty).
func (l *Library) List(q string) []*Runbook {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []*Runbook
	for _, b := range l.books {
		if b.Matches(q) {
			out = append(out, b)
		}
	}
	return out
}

// Matches reports whether the runbook's text contains every word of q.
func (b *Runbook) Matches(q string) bool {
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(b.text, w) {
			return false
		}
	}
	return true
}

// Get returns the runbook at p (relative to the folder; a leading "runbooks/" is accepted, as
// catalog annotations often name the path from the repository root).
func (l *Library) Get(p string) (*Runbook, bool) {
	p = Normalize(p)
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, b := range l.books {
		if b.Path == p {
			return b, true
		}
	}
	return nil, false
}

// Normalize turns "runbooks/payment.md", "./payment.md" or "/runbooks/payment.md" into "payment.md".
func Normalize(p string) string {
	p = path.Clean("/" + strings.TrimSpace(p))
	p = strings.TrimPrefix(p, "/")
	return strings.TrimPrefix(p, "runbooks/")
}

// HTML renders the runbook to sanitized HTML.
func (l *Library) HTML(b *Runbook) (string, error) {
	var buf bytes.Buffer
	if err := l.md.Convert(b.source, &buf); err != nil {
		return "", fmt.Errorf("render %s: %w", b.Path, err)
	}
	return l.policy.Sanitize(buf.String()), nil
}

// SectionHTML renders the runbook's first section whose heading contains word (any case),
// up to the next heading of the same or a higher level; "" when it has none.
func (l *Library) SectionHTML(b *Runbook, word string) (string, error) {
	lines := strings.Split(string(b.source), "\n")
	word = strings.ToLower(word)
	start, level := -1, 0
	var out []string
	fenced := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
		}
		lv := headingLevel(line)
		if fenced {
			lv = 0
		}
		switch {
		case start < 0 && lv > 0 && strings.Contains(strings.ToLower(line), word):
			start, level = i, lv
			out = append(out, line)
		case start >= 0 && lv > 0 && lv <= level:
			return l.HTML(&Runbook{Path: b.Path, source: []byte(strings.Join(out, "\n"))})
		case start >= 0:
			out = append(out, line)
		}
	}
	if start < 0 {
		return "", nil
	}
	return l.HTML(&Runbook{Path: b.Path, source: []byte(strings.Join(out, "\n"))})
}

// headingLevel is the level of an ATX heading ("## Mitigation" is 2), 0 for other lines.
func headingLevel(line string) int {
	n := 0
	for n < len(line) && n < 7 && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n >= len(line) || line[n] != ' ' {
		return 0
	}
	return n
}

// Markdown is the runbook's source, as its author wrote it.
func (b *Runbook) Markdown() string { return string(b.source) }
