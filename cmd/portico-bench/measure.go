package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/server"
	"github.com/portico-dev/portico/internal/store"
)

var teams = []string{"identity", "payments", "messaging", "geo", "discovery", "data", "platform", "growth", "ads", "mobile"}
var words = []string{"payment", "profile", "search", "maps", "pricing", "notify", "ledger", "order", "cart", "route", "index", "session"}

// generateCatalog writes files of five entities each: a team, a user, a service, its API and
// its database, with references between services so relations are computed too.
func generateCatalog(dir string, files int) (string, error) {
	root := filepath.Join(dir, fmt.Sprintf("catalog-%d", files))
	for i := 0; i < files; i++ {
		team := fmt.Sprintf("team-%s-%d", teams[i%len(teams)], i%200)
		w := words[i%len(words)]
		body := fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: %[1]s-%[2]d}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: user-%[2]d}
spec: {memberOf: [%[1]s]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: %[3]s-svc-%[2]d
  title: %[3]s service %[2]d
  description: Handles %[3]s requests for shard %[2]d of the %[4]s domain.
  tags: [%[4]s, tier-%[5]d]
spec:
  type: service
  lifecycle: %[6]s
  owner: %[1]s
  system: sys-%[7]d
  dependsOn: [component:%[8]s-svc-%[9]d, resource:%[3]s-db-%[2]d]
  providesApis: [%[3]s-api-%[2]d]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: %[3]s-api-%[2]d, description: API of %[3]s service %[2]d}
spec: {type: openapi, lifecycle: production, owner: %[1]s, system: sys-%[7]d, definition: "openapi: 3.0.0"}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: %[3]s-db-%[2]d}
spec: {type: database, owner: %[1]s, system: sys-%[7]d}
`, team, i, w, teams[i%len(teams)], i%3+1, []string{"production", "experimental", "deprecated"}[i%3], i%50,
			words[(i+1)%len(words)], (i+1)%files)
		p := filepath.Join(root, fmt.Sprintf("repo-%03d", i/20), fmt.Sprintf("svc-%d", i), "catalog-info.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

type portalEnv struct {
	url        string       // anonymous read-only access: no filtering
	scopedURL  string       // a viewer bound to one system
	indexBytes int          // what the snapshot's precomputed views take
	handler    http.Handler // the unscoped portal, for timing handlers without the network
	close      func()
}

// ingestCatalog reads the generated catalog into a fresh database and serves it.
func ingestCatalog(ctx context.Context, driver, dsn, catalogDir string, log *slog.Logger) (*portalEnv, time.Duration, error) {
	return ingestN(ctx, driver, dsn, catalogDir, 10000, log)
}

// ingestN is ingestCatalog for a catalog of want entities.
func ingestN(ctx context.Context, driver, dsn, catalogDir string, want int, log *slog.Logger) (*portalEnv, time.Duration, error) {
	st, err := store.Open(ctx, driver, dsn)
	if err != nil {
		return nil, 0, err
	}
	src := &ingest.DirSource{SourceName: "bench", Dir: catalogDir, Globs: []string{"**/catalog-info.yaml"}}
	r := ingest.NewRefresher(st, []ingest.Source{src}, ingest.Options{Log: log})
	start := time.Now()
	if err := r.Refresh(ctx, "bench"); err != nil {
		return nil, 0, err
	}
	took := time.Since(start)
	if n := r.Snapshot().Len(); n != want {
		return nil, 0, fmt.Errorf("ingested %d entities, want %d", n, want)
	}
	books, _ := runbooks.Open(filepath.Join(os.TempDir(), "no-runbooks"))
	srv := server.New(server.Deps{Catalog: r, Runbooks: books, DB: st, Log: log, Anonymous: true})
	ts := httptest.NewServer(srv)
	// The same catalog for a signed-in viewer whose one binding is scoped to a system (1 in
	// 50 of the services): every list is filtered entity by entity.
	pol := policy.Default()
	pol.Bindings = []policy.Binding{{Groups: []string{"viewers"}, Role: "viewer", Scope: policy.Scope{System: "sys-7"}}}
	scoped := httptest.NewServer(server.New(server.Deps{Catalog: r, Runbooks: books, DB: st, Log: log, Policy: pol,
		Auth: signedIn{auth.User{Subject: "oscar", Email: "oscar.lind@acme.example", Groups: []string{"viewers"}}}}))
	return &portalEnv{url: ts.URL, scopedURL: scoped.URL, indexBytes: r.Snapshot().IndexBytes(), handler: srv, close: func() { ts.Close(); scoped.Close(); st.Close() }}, took, nil
}

// signedIn signs every request in as one user, as a session cookie would.
type signedIn struct{ user auth.User }

func (s signedIn) Begin(http.ResponseWriter, *http.Request, string) (string, error) { return "/", nil }
func (s signedIn) Finish(http.ResponseWriter, *http.Request) (string, error)        { return "/", nil }
func (s signedIn) Current(http.ResponseWriter, *http.Request) (*auth.Session, error) {
	return &auth.Session{User: s.user}, nil
}
func (s signedIn) End(http.ResponseWriter, *http.Request, string) string { return "/" }
func (s signedIn) Bearer(context.Context, string) (auth.User, error) {
	return auth.User{}, errors.New("no bearer tokens in the benchmark")
}

type percentiles struct{ p50, p95, p99 time.Duration }

// listURL is the i-th of the catalog list's varied searches, facets, orders and pages.
func listURL(base string, i int) string {
	v := url.Values{}
	switch i % 4 {
	case 0:
		v.Set("q", words[i%len(words)])
	case 1:
		v.Set("q", words[i%len(words)][:3])
		v.Set("kind", "component")
	case 2:
		v.Set("owner", fmt.Sprintf("group:default/team-%s-%d", teams[i%len(teams)], i%200))
		v.Set("sort", "name")
	case 3:
		v.Set("tag", teams[i%len(teams)])
		v.Set("lifecycle", "production")
		v.Set("page", fmt.Sprint(i%5+1))
	}
	return base + "/catalog?" + v.Encode()
}

func load(requests, clients int, target func(int) string) (percentiles, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	durations := make([]time.Duration, requests)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				res, err := client.Get(target(i))
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						err = fmt.Errorf("status %d for %s", res.StatusCode, target(i))
					}
				}
				durations[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < requests; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return percentilesOf(durations), firstErr
}

// pushToVisible commits to a real git repository, posts a signed push webhook to a running
// portal and times until the API shows the change; five rounds, the worst is reported.
func pushToVisible(ctx context.Context, dir string, log *slog.Logger) (time.Duration, error) {
	repo := filepath.Join(dir, "repo")
	git := func(args ...string) error {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	os.MkdirAll(repo, 0o755)
	write := func(desc string) error {
		body := "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: checkout, description: " + desc + "}\nspec: {type: service, lifecycle: production, owner: team-payments}\n"
		if err := os.WriteFile(filepath.Join(repo, "catalog-info.yaml"), []byte(body), 0o644); err != nil {
			return err
		}
		if err := git("add", "."); err != nil {
			return err
		}
		return git("commit", "-qm", desc)
	}
	if err := git("init", "-q", "-b", "main"); err != nil {
		return 0, err
	}
	if err := write("v0"); err != nil {
		return 0, err
	}
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, "webhook.db"))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	src := &ingest.GitSource{SourceName: "checkout", URL: "file://" + repo, Branch: "main", Globs: []string{"catalog-info.yaml"}, CacheDir: filepath.Join(dir, "cache")}
	r := ingest.NewRefresher(st, []ingest.Source{src}, ingest.Options{Log: log})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := time.Now()
	go r.Run(runCtx, time.Hour)
	for r.Statuses()[0].RefreshedAt.Before(started) { // Run's own first read, before any push
		time.Sleep(5 * time.Millisecond)
	}
	books, _ := runbooks.Open(filepath.Join(dir, "none"))
	ts := httptest.NewServer(server.New(server.Deps{Catalog: r, Runbooks: books, DB: st, Log: log, WebhookSecrets: []string{"bench"}, Anonymous: true}))
	defer ts.Close()
	payload := []byte(`{"ref":"refs/heads/main","repository":{"clone_url":"file://` + repo + `"}}`)
	var worst time.Duration
	for round := 1; round <= 5; round++ {
		want := fmt.Sprintf("v%d", round)
		if err := write(want); err != nil {
			return 0, err
		}
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/webhooks/git", bytes.NewReader(payload))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", ingest.Sign("bench", payload))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("webhook answered %d", res.StatusCode)
		}
		for { // as a user would see it: polling the JSON API
			res, err := http.Get(ts.URL + "/api/v1/entities/component/default/checkout")
			if err != nil {
				return 0, err
			}
			var e struct{ Metadata struct{ Description string } }
			_ = json.NewDecoder(res.Body).Decode(&e)
			res.Body.Close()
			if e.Metadata.Description == want {
				break
			}
			if time.Since(start) > 30*time.Second {
				return 0, fmt.Errorf("change %s not visible after 30 s", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		worst = max(worst, time.Since(start))
	}
	return worst, nil
}
