// Package ingest reads catalog sources (local folders and git repositories) on an interval and
// on push webhooks, stores what they emit and publishes a fresh catalog snapshot.
package ingest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Source is a place catalog files come from.
type Source interface {
	Name() string
	// Location names the source in the managed-by annotations and in messages.
	Location() string
	Patterns() []string
	// Open brings the source up to date and returns its files, confined to its root, and a
	// revision identifying their content (a git commit; empty for folders).
	Open(ctx context.Context) (fsys fs.FS, revision string, err error)
}

// DirSource reads catalog files from a local folder.
type DirSource struct {
	SourceName string
	Dir        string
	Globs      []string
}

// Name implements Source.
func (d *DirSource) Name() string { return d.SourceName }

// Location implements Source.
func (d *DirSource) Location() string {
	abs, err := filepath.Abs(d.Dir)
	if err != nil {
		abs = d.Dir
	}
	return "file:" + abs
}

// Patterns implements Source.
func (d *DirSource) Patterns() []string { return d.Globs }

// Open implements Source. The returned FS is an os.Root, so symbolic links cannot lead outside.
func (d *DirSource) Open(context.Context) (fs.FS, string, error) {
	root, err := os.OpenRoot(d.Dir)
	if err != nil {
		return nil, "", fmt.Errorf("open catalog folder %s: %w", d.Dir, err)
	}
	return root.FS(), "", nil
}

// normalizeRepoURL reduces the many spellings of a repository URL (https, ssh, scp-like,
// with or without .git) to host/path, so webhooks can be matched to sources.
func normalizeRepoURL(u string) string {
	u = strings.TrimSpace(strings.ToLower(u))
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if at := strings.Index(u, "@"); at >= 0 && strings.Contains(u[at:], ":") {
		u = strings.Replace(u[at+1:], ":", "/", 1) // git@host:org/repo
	}
	if at := strings.Index(u, "@"); at >= 0 && at < strings.Index(u+"/", "/") {
		u = u[at+1:] // user info
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	return u
}
