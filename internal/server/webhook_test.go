package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/portico-dev/portico/internal/ingest"
)

func TestWebhookGit(t *testing.T) {
	repoDir := t.TempDir()
	repo, err := git.PlainInit(repoDir, false)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(desc string) {
		os.WriteFile(filepath.Join(repoDir, "catalog-info.yaml"), []byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\n  description: "+desc+"\nspec: {type: service, lifecycle: production, owner: team-payments}\n"), 0o644)
		wt, _ := repo.Worktree()
		wt.Add("catalog-info.yaml")
		h, err := wt.Commit(desc, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@x", When: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", h))
	}
	commit("first")
	src := &ingest.GitSource{SourceName: "checkout-repo", URL: "file://" + repoDir, Branch: "main", Globs: []string{"catalog-info.yaml"}, CacheDir: t.TempDir()}
	p := newTestPortal(t, writeFiles(t, nil), src)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := time.Now()
	go p.refresher.Run(ctx, time.Hour)
	// Run reads every source once at start; wait for that before changing the repository.
	for deadline := time.Now().Add(30 * time.Second); p.refresher.Statuses()[1].RefreshedAt.Before(started); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("waited 30 s for the refresher's first read of the git source")
		}
	}

	firstRead := p.refresher.Statuses()[1].RefreshedAt
	push := []byte(`{"ref":"refs/heads/main","repository":{"clone_url":"file://` + repoDir + `"}}`)
	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/webhooks/git", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		res, err := p.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	commit("second")
	if got := post(push, ""); got != http.StatusUnauthorized {
		t.Errorf("unsigned push = %d, want 401", got)
	}
	if got := post(push, ingest.Sign("wrong", push)); got != http.StatusUnauthorized {
		t.Errorf("forged push = %d, want 401", got)
	}
	if got := post(bytes.Repeat([]byte("x"), 2<<20), ingest.Sign(webhookSecret, push)); got != http.StatusRequestEntityTooLarge {
		t.Errorf("huge push = %d, want 413", got)
	}
	if got := post([]byte("{not json"), ingest.Sign(webhookSecret, []byte("{not json"))); got != http.StatusBadRequest {
		t.Errorf("malformed push = %d, want 400", got)
	}
	// Nothing was triggered: the refresher has not read the source since its first read, and
	// the catalog still holds the first commit (a refresh now would read the second).
	if d, at := description(t, p), p.refresher.Statuses()[1].RefreshedAt; d != "first" || at.After(firstRead) {
		t.Fatalf("rejected webhooks must change nothing; description = %q, source read again at %s", d, at)
	}
	// (How fast the change shows is make bench's "webhook push → entity visible" row.)
	if got := post(push, ingest.Sign(webhookSecret, push)); got != http.StatusAccepted {
		t.Fatalf("signed push = %d, want 202", got)
	}
	for deadline := time.Now().Add(30 * time.Second); description(t, p) != "second"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("waited 30 s for the pushed change to show in the API")
		}
	}

	// GitLab cannot sign its push hooks: it sends the secret as X-Gitlab-Token.
	gitlab := func(token, event string) int {
		body := []byte(`{"object_kind":"push","ref":"refs/heads/main","project":{"git_http_url":"file://` + repoDir + `"}}`)
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/webhooks/git", bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", event)
		req.Header.Set("X-Gitlab-Token", token)
		res, err := p.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	commit("third")
	if got := gitlab("wrong", "Push Hook"); got != http.StatusUnauthorized {
		t.Errorf("GitLab push with a wrong token = %d, want 401", got)
	}
	if got := gitlab(webhookSecret, "Merge Request Hook"); got != http.StatusAccepted {
		t.Errorf("another GitLab event = %d, want 202 (ignored)", got)
	}
	if d := description(t, p); d != "second" {
		t.Fatalf("a refused or ignored GitLab hook changed the catalog: %q", d)
	}
	if got := gitlab(webhookSecret, "Push Hook"); got != http.StatusAccepted {
		t.Fatalf("GitLab push with the token = %d, want 202", got)
	}
	for deadline := time.Now().Add(30 * time.Second); description(t, p) != "third"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the GitLab push's change is not visible after 30 s")
		}
	}
}

func description(t *testing.T, p *testPortal) string {
	t.Helper()
	_, body := p.get(t, "/api/v1/entities/component/default/checkout")
	i := strings.Index(body, `"description":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`"description":"`):]
	return rest[:strings.Index(rest, `"`)]
}
