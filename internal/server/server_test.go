package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/store"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// testPortal is a real server over a real store and refresher.
type testPortal struct {
	*httptest.Server
	refresher *ingest.Refresher
	srv       *Server
}

const webhookSecret = "test-secret"

// newTestPortal serves the given catalog folder (and extra sources) with the repository's runbooks.
func newTestPortal(t *testing.T, catalogDir string, extra ...ingest.Source) *testPortal {
	return newTestPortalWith(t, catalogDir, nil, extra...)
}

// newTestPortalWith is newTestPortal with cluster caches (nil: no cluster configured).
func newTestPortalWith(t *testing.T, catalogDir string, clusters clusterService, extra ...ingest.Source) *testPortal {
	return newTestPortalWithDeps(t, catalogDir, func(d *Deps) { d.Clusters = clusters }, extra...)
}

// newTestPortalWithDeps is newTestPortal with the dependencies changed by opt.
func newTestPortalWithDeps(t *testing.T, catalogDir string, opt func(*Deps), extra ...ingest.Source) *testPortal {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sources := append([]ingest.Source{&ingest.DirSource{SourceName: "local", Dir: catalogDir, Globs: []string{"**/*.yaml"}}}, extra...)
	r := ingest.NewRefresher(st, sources, ingest.Options{})
	r.RefreshAll(ctx)
	books, err := runbooks.Open(filepath.Join("..", "..", "runbooks"))
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Catalog: r, Runbooks: books, DB: st, WebhookSecrets: []string{webhookSecret}, Version: "test", Anonymous: true}
	opt(&d)
	srv := New(d)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testPortal{Server: ts, refresher: r, srv: srv}
}

func demoPortal(t *testing.T) *testPortal {
	return newTestPortal(t, filepath.Join("..", "..", "catalog"))
}

func (p *testPortal) get(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (p *testPortal) doc(t *testing.T, path string, wantStatus int) *goquery.Document {
	t.Helper()
	res, body := p.get(t, path)
	if res.StatusCode != wantStatus {
		t.Fatalf("GET %s = %d, want %d\n%s", path, res.StatusCode, wantStatus, body)
	}
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func texts(sel *goquery.Selection) []string {
	var out []string
	sel.Each(func(_ int, s *goquery.Selection) { out = append(out, strings.TrimSpace(s.Text())) })
	return out
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ref(s string) catalog.Ref {
	r, _ := catalog.ParseRef(s, "", "default")
	return r
}

// catalogEnv is a SQLite store holding catalog dir (the demo catalog when empty) and any
// extra sources, refreshed once, with the demo runbooks; closed when the test ends.
func catalogEnv(t *testing.T, dir string, extra ...ingest.Source) (*store.Store, *ingest.Refresher, *runbooks.Library) {
	t.Helper()
	if dir == "" {
		dir = filepath.Join("..", "..", "catalog")
	}
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := ingest.NewRefresher(st, append([]ingest.Source{&ingest.DirSource{SourceName: "local", Dir: dir, Globs: []string{"**/*.yaml"}}}, extra...), ingest.Options{})
	r.RefreshAll(context.Background())
	books, err := runbooks.Open(filepath.Join("..", "..", "runbooks"))
	if err != nil {
		t.Fatal(err)
	}
	return st, r, books
}
