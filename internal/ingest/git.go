package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// GitSource reads catalog files from a branch of a git repository (https, ssh or file URL),
// kept as a shallow clone under CacheDir.
type GitSource struct {
	SourceName string
	URL        string
	Branch     string
	Globs      []string
	CacheDir   string
	// Token authenticates https URLs (GitHub and GitLab accept a token as the password).
	Token string
	// SSHKeyFile authenticates ssh URLs; host keys are checked against known_hosts.
	SSHKeyFile string

	mu sync.Mutex // one fetch at a time per clone
}

// Name implements Source.
func (g *GitSource) Name() string { return g.SourceName }

// Location implements Source.
func (g *GitSource) Location() string { return "git:" + g.URL + "@" + g.branch() }

// Patterns implements Source.
func (g *GitSource) Patterns() []string { return g.Globs }

func (g *GitSource) branch() string {
	if g.Branch == "" {
		return "main"
	}
	return g.Branch
}

// Matches reports whether a push to one of urls on ref ("refs/heads/main") concerns this source.
func (g *GitSource) Matches(urls []string, ref string) bool {
	if ref != "" && ref != "refs/heads/"+g.branch() {
		return false
	}
	mine := normalizeRepoURL(g.URL)
	for _, u := range urls {
		if u != "" && normalizeRepoURL(u) == mine {
			return true
		}
	}
	return false
}

func (g *GitSource) auth() (transport.AuthMethod, error) {
	switch {
	case g.SSHKeyFile != "":
		return ssh.NewPublicKeysFromFile("git", g.SSHKeyFile, "")
	case g.Token != "":
		return &http.BasicAuth{Username: "x-access-token", Password: g.Token}, nil
	}
	return nil, nil
}

// Open implements Source: clone on first use, then fetch and reset to the branch's head.
func (g *GitSource) Open(ctx context.Context) (fs.FS, string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	auth, err := g.auth()
	if err != nil {
		return nil, "", fmt.Errorf("git credentials for %s: %w", g.SourceName, err)
	}
	dir := filepath.Join(g.CacheDir, "git", safeName(g.SourceName))
	rev, err := g.update(ctx, dir, auth)
	if err != nil {
		// A damaged or diverged clone must not block the source forever: clone afresh.
		os.RemoveAll(dir)
		if rev, err = g.update(ctx, dir, auth); err != nil {
			return nil, "", fmt.Errorf("git %s (%s): %w", redact(g.URL), g.branch(), err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	return root.FS(), rev, nil
}

func (g *GitSource) update(ctx context.Context, dir string, auth transport.AuthMethod) (string, error) {
	branch := plumbing.NewBranchReferenceName(g.branch())
	repo, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
			URL: g.URL, Auth: auth, ReferenceName: branch, SingleBranch: true, Depth: 1, Tags: git.NoTags,
		})
		if err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	} else {
		if remote, err := repo.Remote("origin"); err != nil || remote.Config().URLs[0] != g.URL {
			return "", fmt.Errorf("the cached clone points elsewhere; cloning again")
		}
		spec := config.RefSpec(fmt.Sprintf("+%s:refs/remotes/origin/%s", branch, g.branch()))
		err = repo.FetchContext(ctx, &git.FetchOptions{Auth: auth, RefSpecs: []config.RefSpec{spec}, Depth: 1, Force: true, Tags: git.NoTags})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return "", err
		}
		ref, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", g.branch()), true)
		if err != nil {
			return "", err
		}
		wt, err := repo.Worktree()
		if err != nil {
			return "", err
		}
		if err := wt.Reset(&git.ResetOptions{Commit: ref.Hash(), Mode: git.HardReset}); err != nil {
			return "", err
		}
	}
	head, err := repo.Head()
	if err != nil {
		return "", err
	}
	return head.Hash().String(), nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '.' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// redact drops credentials from a URL before it is logged or shown.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.Index(u[i+3:], "@"); at >= 0 {
			return u[:i+3] + "***@" + u[i+3+at+1:]
		}
	}
	return u
}
