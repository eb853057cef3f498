package ingest

import (
	"context"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const svc = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: NAME
  description: DESC
spec:
  type: service
  lifecycle: production
  owner: team-payments
`

func component(name, desc string) string {
	return strings.NewReplacer("NAME", name, "DESC", desc).Replace(svc)
}

// testRepo is a real git repository on disk that tests commit to.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newTestRepo(t *testing.T) *testRepo {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: repo}
}

func (r *testRepo) commit(files map[string]string) {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(r.dir, name)
		if body == "" {
			os.Remove(p)
			if _, err := wt.Remove(name); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	_, err = wt.Commit("change", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}})
	if err != nil {
		r.t.Fatal(err)
	}
	// go-git's PlainInit names the branch master; sources here follow main.
	head, _ := r.repo.Head()
	_ = r.repo.Storer.SetReference(plumbingRef("refs/heads/main", head.Hash()))
}

func openStore(t *testing.T, driver string) *store.Store {
	dsn := filepath.Join(t.TempDir(), "p.db")
	if driver == "postgres" {
		dsn = testenv.PostgresDSN(t)
	}
	s, err := store.Open(context.Background(), driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func description(t *testing.T, r *Refresher, name string) (string, bool) {
	t.Helper()
	rec, ok := r.Snapshot().Get(catalog.Ref{Kind: "component", Namespace: "default", Name: name})
	if !ok {
		return "", false
	}
	return rec.Entity.Metadata.Description, true
}

func TestGitSourceRefreshKeepsLastGood(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			testRefreshKeepsLastGood(t, driver)
		})
	}
}

func testRefreshKeepsLastGood(t *testing.T, driver string) {
	ctx := context.Background()
	repo := newTestRepo(t)
	repo.commit(map[string]string{"payment/catalog-info.yaml": component("payment", "v1"), "pricing/catalog-info.yaml": component("pricing", "v1")})
	src := &GitSource{SourceName: "repo", URL: "file://" + repo.dir, Branch: "main", Globs: []string{"**/catalog-info.yaml"}, CacheDir: t.TempDir()}
	st := openStore(t, driver)
	r := NewRefresher(st, []Source{src}, Options{Policy: catalog.OrphanPolicy{Grace: time.Hour}})
	if err := r.Refresh(ctx, "repo"); err != nil {
		t.Fatal(err)
	}
	if d, ok := description(t, r, "payment"); !ok || d != "v1" {
		t.Fatalf("payment after first refresh: %q %v", d, ok)
	}

	// Break payment's file and delete pricing's: payment keeps v1, pricing is an orphan.
	repo.commit(map[string]string{"payment/catalog-info.yaml": "kind: [\n", "pricing/catalog-info.yaml": ""})
	if err := r.Refresh(ctx, "repo"); err != nil {
		t.Fatal(err)
	}
	if d, ok := description(t, r, "payment"); !ok || d != "v1" {
		t.Errorf("payment with a broken file should keep v1, got %q %v", d, ok)
	}
	rec, _ := r.Snapshot().Get(catalog.Ref{Kind: "component", Namespace: "default", Name: "pricing"})
	if rec == nil || !rec.Orphan() {
		t.Errorf("pricing should be an orphan: %+v", rec)
	}
	var found bool
	for _, p := range r.Snapshot().Problems() {
		if p.File == "payment/catalog-info.yaml" && p.Line == 1 && strings.Contains(p.Message, "invalid YAML") {
			found = true
		}
	}
	if !found {
		t.Errorf("catalog health should show the YAML error with file and line: %v", r.Snapshot().Problems())
	}

	// Fix it: the new version shows.
	repo.commit(map[string]string{"payment/catalog-info.yaml": component("payment", "v2")})
	if err := r.Refresh(ctx, "repo"); err != nil {
		t.Fatal(err)
	}
	if d, _ := description(t, r, "payment"); d != "v2" {
		t.Errorf("payment after the fix = %q, want v2", d)
	}

	// The repository becomes unreachable: everything is kept and the error is shown.
	if err := os.Rename(repo.dir, repo.dir+"-gone"); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx, "repo"); err == nil {
		t.Errorf("refresh of an unreachable repository should fail")
	}
	if d, _ := description(t, r, "payment"); d != "v2" {
		t.Errorf("payment while the source is down = %q, want v2 kept", d)
	}
	if s := r.Statuses()[0]; s.Error == "" {
		t.Errorf("status should carry the error")
	}

	// A restart serves the stored catalog before any source is read.
	r2 := NewRefresher(st, []Source{src}, Options{})
	if err := r2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := description(t, r2, "payment"); d != "v2" {
		t.Errorf("after restart payment = %q, want v2 from the database", d)
	}

	// The source is removed from the configuration: its entities are retired like orphans.
	r3 := NewRefresher(st, nil, Options{Policy: catalog.OrphanPolicy{Grace: 0}})
	if err := r3.Load(ctx); err != nil {
		t.Fatal(err)
	}
	r3.RefreshAll(ctx)
	if n := r3.Snapshot().Len(); n != 0 {
		t.Errorf("entities of a removed source after the grace period: %d, want 0", n)
	}
}

func TestPushMatching(t *testing.T) {
	src := &GitSource{SourceName: "s", URL: "https://github.com/Acme/payments.git", Branch: "main"}
	r := NewRefresher(nil, []Source{src, &DirSource{SourceName: "d"}}, Options{})
	tests := []struct {
		push Push
		want int
	}{
		{Push{Ref: "refs/heads/main", URLs: []string{"https://github.com/acme/payments"}}, 1},
		{Push{Ref: "refs/heads/main", URLs: []string{"git@github.com:acme/payments.git"}}, 1},
		{Push{Ref: "refs/heads/feature", URLs: []string{"https://github.com/acme/payments"}}, 0},
		{Push{Ref: "refs/heads/main", URLs: []string{"https://github.com/acme/other"}}, 0},
	}
	for _, tt := range tests {
		if got := r.MatchPush(tt.push); len(got) != tt.want {
			t.Errorf("MatchPush(%v) = %v, want %d match", tt.push, got, tt.want)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := Sign("s3cret", body)
	tests := []struct {
		name    string
		secrets []string
		header  string
		ok      bool
	}{
		{"valid", []string{"s3cret"}, good, true},
		{"rotated: second secret", []string{"new", "s3cret"}, good, true},
		{"unsigned", []string{"s3cret"}, "", false},
		{"forged", []string{"s3cret"}, Sign("guess", body), false},
		{"sha1 header", []string{"s3cret"}, "sha1=abc", false},
		{"no secret configured", nil, good, false},
	}
	for _, tt := range tests {
		err := VerifySignature(tt.secrets, body, tt.header)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// TestGitOverHTTP serves a repository with git's own smart-HTTP server (git http-backend as
// CGI) behind token authentication, as GitHub or GitLab would.
func TestGitOverHTTP(t *testing.T) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is required: apt-get install git")
	}
	repo := newTestRepo(t)
	repo.commit(map[string]string{"catalog-info.yaml": component("payment", "over http")})
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(repo.dir), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != "s3cret-token" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL + "/" + filepath.Base(repo.dir)
	ctx := context.Background()
	for _, tt := range []struct {
		name, token string
		wantErr     bool
	}{{"no token", "", true}, {"wrong token", "nope", true}, {"token", "s3cret-token", false}} {
		src := &GitSource{SourceName: "http", URL: url, Branch: "main", Globs: []string{"*.yaml"}, CacheDir: t.TempDir(), Token: tt.token}
		r := NewRefresher(openStore(t, "sqlite"), []Source{src}, Options{})
		err := r.Refresh(ctx, "http")
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), tt.token) && tt.token != "" {
			t.Errorf("%s: the error shows the token: %v", tt.name, err)
		}
		if d, _ := description(t, r, "payment"); !tt.wantErr && d != "over http" {
			t.Errorf("%s: payment = %q", tt.name, d)
		}
	}
}

// TestRunbookOfBrokenFileIsKept: when an entity's file breaks, the entity keeps its last good
// version and so does the runbook it links to; a runbook no entity links to any more goes.
func TestRunbookOfBrokenFileIsKept(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	withRunbook := strings.Replace(component("ledger", "v1"), "metadata:\n", "metadata:\n  annotations: {portico.dev/runbook: ./runbook.md}\n", 1)
	write("ledger/catalog-info.yaml", withRunbook)
	write("ledger/runbook.md", "# Ledger\n")
	r := NewRefresher(openStore(t, "sqlite"), []Source{&DirSource{SourceName: "d", Dir: dir, Globs: []string{"**/catalog-info.yaml"}}}, Options{})
	if err := r.Refresh(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Snapshot().Document("d", "ledger/runbook.md"); !ok {
		t.Fatal("runbook not read")
	}
	write("ledger/catalog-info.yaml", "kind: [\n")
	os.Remove(filepath.Join(dir, "ledger/runbook.md"))
	r.Refresh(ctx, "d")
	if _, ok := r.Snapshot().Document("d", "ledger/runbook.md"); !ok {
		t.Error("the last good entity's runbook should be kept while its file is broken")
	}
	write("ledger/catalog-info.yaml", component("ledger", "v2")) // fixed, no runbook link any more
	r.Refresh(ctx, "d")
	if _, ok := r.Snapshot().Document("d", "ledger/runbook.md"); ok {
		t.Error("a runbook nothing links to should be dropped")
	}
}

// A replica that does not read the sources (another leads) follows the stored catalog: it is
// ready only once every configured source has been read by some replica, and each reload
// replaces what it had (a removed entity goes). The reader says what it stored.
func TestFollowerReloadsTheStoredCatalog(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "postgres")
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ledger", component("ledger", "v1"))
	write("fx", component("fx-rates", "v1"))
	src := &DirSource{SourceName: "d", Dir: dir, Globs: []string{"*.yaml"}}
	var stored []string
	leader := NewRefresher(st, []Source{src}, Options{Stored: func(s string) { stored = append(stored, s) }})
	follower := NewRefresher(st, []Source{src}, Options{})
	if err := follower.Reload(ctx); err != nil || follower.Ready() {
		t.Fatalf("before any replica read the source the follower is ready=%v (%v)", follower.Ready(), err)
	}
	if err := leader.Refresh(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stored, []string{"d"}) {
		t.Errorf("stored hook heard %v", stored)
	}
	if err := follower.Reload(ctx); err != nil || !follower.Ready() {
		t.Fatalf("after the leader read the source: ready=%v (%v)", follower.Ready(), err)
	}
	if d, ok := description(t, follower, "fx-rates"); !ok || d != "v1" {
		t.Errorf("the follower's fx-rates: %q %v", d, ok)
	}
	os.Remove(filepath.Join(dir, "fx.yaml"))
	write("ledger", component("ledger", "v2"))
	if err := leader.Refresh(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := follower.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := description(t, follower, "ledger"); d != "v2" {
		t.Errorf("the follower's ledger after a reload: %q", d)
	}
	if _, ok := description(t, follower, "fx-rates"); ok {
		t.Error("an entity the leader deleted is still on the follower")
	}
}
