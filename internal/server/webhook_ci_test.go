package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/store"
)

type ciPortal struct {
	*httptest.Server
	st *store.Store
}

func newCIPortal(t *testing.T) ciPortal {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := ingest.NewRefresher(st, []ingest.Source{&ingest.DirSource{SourceName: "local", Dir: filepath.Join("..", "..", "catalog"), Globs: []string{"**/*.yaml"}}}, ingest.Options{})
	r.RefreshAll(ctx)
	srv := New(Deps{Catalog: r, DB: st, Anonymous: true, Pipelines: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PipelineSecrets: PipelineSecrets{GitHub: []string{"old-secret", "new-secret"}, GitLab: []string{"gl-token"}, Generic: []string{"generic-secret"}}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ciPortal{Server: ts, st: st}
}

func (p ciPortal) post(t *testing.T, path string, body []byte, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (p ciPortal) deliveries(t *testing.T) int {
	n, err := p.st.CountDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func examples(t *testing.T, event string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", "github", event+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var xs []json.RawMessage
	json.Unmarshal(b, &xs)
	return xs
}

// TestGitHubDeliveries posts every published example, signed, and the refusals the issue lists.
func TestGitHubDeliveries(t *testing.T) {
	p := newCIPortal(t)
	n := 0
	for _, event := range []string{"workflow_run", "workflow_job", "check_run", "push", "deployment", "deployment_status"} {
		for i, body := range examples(t, event) {
			n++
			secret := "new-secret"
			if n%2 == 0 {
				secret = "old-secret" // both secrets are valid while rotating
			}
			status, out := p.post(t, "/webhooks/github", body, "X-GitHub-Event", event, "X-GitHub-Delivery", event+"-"+strconv.Itoa(i),
				"X-Hub-Signature-256", ingest.Sign(secret, body))
			if status != http.StatusAccepted {
				t.Errorf("%s[%d] = %d %v", event, i, status, out)
			}
		}
	}
	runs, _ := p.st.PipelineRuns(context.Background(), []string{"octo-org/octo-repo"}, 10)
	if len(runs) != 1 || runs[0].Status != "success" || runs[0].Commit != "3484a3fb816e0859fd6e1cea078d76385ff50625" {
		t.Errorf("octo-repo's run after its requested and completed deliveries: %+v", runs)
	}
	stored := p.deliveries(t)
	body := examples(t, "workflow_run")[1]
	// A redelivery (same delivery ID) is acknowledged and changes nothing.
	status, out := p.post(t, "/webhooks/github", body, "X-GitHub-Event", "workflow_run", "X-GitHub-Delivery", "workflow_run-1", "X-Hub-Signature-256", ingest.Sign("new-secret", body))
	if status != http.StatusOK || out["duplicate"] != true {
		t.Errorf("redelivery = %d %v", status, out)
	}
	for name, sig := range map[string]string{"forged": ingest.Sign("guess", body), "missing": "", "garbage": "sha256=zz"} {
		status, _ := p.post(t, "/webhooks/github", body, "X-GitHub-Event", "workflow_run", "X-GitHub-Delivery", "x-"+name, "X-Hub-Signature-256", sig)
		if status != http.StatusUnauthorized {
			t.Errorf("%s signature = %d, want 401", name, status)
		}
	}
	bad := []byte(`{"workflow_run": {"id": "not a number"}}`)
	if status, _ := p.post(t, "/webhooks/github", bad, "X-GitHub-Event", "workflow_run", "X-GitHub-Delivery", "bad", "X-Hub-Signature-256", ingest.Sign("new-secret", bad)); status != http.StatusBadRequest {
		t.Errorf("malformed = %d, want 400", status)
	}
	huge := bytes.Repeat([]byte(" "), 2<<20)
	if status, _ := p.post(t, "/webhooks/github", huge, "X-GitHub-Event", "push", "X-Hub-Signature-256", ingest.Sign("new-secret", huge)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized = %d, want 413", status)
	}
	if got := p.deliveries(t); got != stored {
		t.Errorf("deliveries stored %d → %d: a refused or repeated delivery was stored", stored, got)
	}
}

var (
	docComment    = regexp.MustCompile(`(?m)\s*//[^"\n]*$`)
	docTrailComma = regexp.MustCompile(`,(\s*[}\]])`)
)

func gitlabDoc(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", "gitlab", name+".jsonc"))
	if err != nil {
		t.Fatal(err)
	}
	return docTrailComma.ReplaceAll(docComment.ReplaceAll(b, nil), []byte("$1"))
}

func TestGitLabAndGenericDeliveries(t *testing.T) {
	p := newCIPortal(t)
	for hook, file := range map[string]string{"Pipeline Hook": "pipeline", "Job Hook": "job", "Deployment Hook": "deployment"} {
		body := gitlabDoc(t, file)
		if status, out := p.post(t, "/webhooks/gitlab", body, "X-Gitlab-Event", hook, "X-Gitlab-Token", "gl-token", "X-Gitlab-Event-UUID", file); status != http.StatusAccepted {
			t.Errorf("%s = %d %v", hook, status, out)
		}
		if status, _ := p.post(t, "/webhooks/gitlab", body, "X-Gitlab-Event", hook, "X-Gitlab-Token", "wrong"); status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token = %d", hook, status)
		}
	}
	runs, _ := p.st.PipelineRuns(context.Background(), []string{"gitlab-org/gitlab-test"}, 10)
	// The hooks are posted in map order, so the runs' order is not fixed: find run 31 by ID.
	i := slices.IndexFunc(runs, func(r store.RunWithJobs) bool { return r.RunID == "31" })
	if len(runs) != 2 || i < 0 || runs[i].Status != "success" || len(runs[i].Jobs) != 5 {
		t.Errorf("gitlab runs: %+v", runs)
	}
	ev := []byte(`{"source": "jenkins", "project": "acme/payment", "run": {"id": "88", "status": "running", "commit": "c0ffee", "branch": "main"},
		"stages": [{"name": "unit tests", "status": "success"}]}`)
	if status, out := p.post(t, "/webhooks/pipeline", ev, "X-Portico-Signature-256", ingest.Sign("generic-secret", ev), "X-Portico-Delivery", "j-88-1"); status != http.StatusAccepted {
		t.Errorf("generic = %d %v", status, out)
	}
	if status, _ := p.post(t, "/webhooks/pipeline", ev); status != http.StatusUnauthorized {
		t.Errorf("unsigned generic = %d", status)
	}
	bad := []byte(`{"project": "acme/payment", "run": {"id": "88", "status": "amazing"}}`)
	if status, out := p.post(t, "/webhooks/pipeline", bad, "X-Portico-Signature-256", ingest.Sign("generic-secret", bad)); status != http.StatusBadRequest ||
		!strings.Contains(strings.ToLower(jsonText(out)), "unknown status") {
		t.Errorf("bad generic = %d %v", status, out)
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestPipelineStripsAndPage: a service's runs with their stage strips, and the pipelines page
// with failures first and a team filter.
func TestPipelineStripsAndPage(t *testing.T) {
	p := newCIPortal(t)
	send := func(body string) {
		t.Helper()
		b := []byte(body)
		if status, out := p.post(t, "/webhooks/pipeline", b, "X-Portico-Signature-256", ingest.Sign("generic-secret", b)); status != http.StatusAccepted {
			t.Fatalf("%d %v", status, out)
		}
	}
	send(`{"source": "jenkins", "project": "acme/payment", "timestamp": "2026-11-23T10:00:00Z", "run": {"id": "1", "name": "payment-ci", "status": "success", "commit": "aaaaaaaaaaaa1", "branch": "main",
		"startedAt": "2026-11-23T09:50:00Z", "finishedAt": "2026-11-23T10:00:00Z"}, "stages": [{"name": "lint", "status": "success"}, {"name": "unit tests", "status": "success"},
		{"name": "docker build", "status": "success"}, {"name": "trivy scan", "status": "success"}, {"name": "deploy staging", "status": "success"},
		{"name": "canary", "status": "success"}, {"name": "production rollout", "status": "success"}], "image": "registry.acme.example/payment:1.4.3"}`)
	send(`{"source": "jenkins", "project": "acme/payment", "timestamp": "2026-11-23T11:00:00Z", "run": {"id": "2", "name": "payment-ci", "status": "failed", "commit": "bbbbbbbbbbbb2", "branch": "main"},
		"stages": [{"name": "unit tests", "status": "success"}, {"name": "trivy scan", "status": "failed"}]}`)
	send(`{"source": "jenkins", "project": "acme/search", "timestamp": "2026-11-23T11:30:00Z", "run": {"id": "9", "name": "search-ci", "status": "running", "commit": "ccccccc", "branch": "main"},
		"stages": [{"name": "unit tests", "status": "running"}]}`)

	status, html := getBody(t, p.URL+"/catalog/component/default/payment/pipelines")
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
	if status != http.StatusOK || d.Find("[data-testid=run]").Length() != 2 {
		t.Fatalf("payment's runs: %d, %d rows", status, d.Find("[data-testid=run]").Length())
	}
	cell := func(row int, stage string) string {
		v, _ := d.Find("[data-testid=run]").Eq(row).Find(`[data-stage="` + stage + `"]`).Attr("data-status")
		return v
	}
	if cell(0, "security-scan") != "failed" || cell(0, "production") != "none" || cell(1, "production") != "success" || cell(1, "review") != "none" {
		t.Errorf("strips: run 2 scan=%s prod=%s; run 1 prod=%s review=%s", cell(0, "security-scan"), cell(0, "production"), cell(1, "production"), cell(1, "review"))
	}
	_, html = getBody(t, p.URL+"/pipelines")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
	var statuses []string
	d.Find("[data-testid=run-status]").Each(func(_ int, s *goquery.Selection) { statuses = append(statuses, s.Text()) })
	if strings.Join(statuses, ",") != "failed,running,success" {
		t.Errorf("pipelines page order: %v, want failures first", statuses)
	}
	if !strings.Contains(d.Find("[data-testid=run]").First().Text(), "Payment Service") {
		t.Error("runs are not tied to their service")
	}
	_, html = getBody(t, p.URL+"/pipelines?team=team-discovery")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
	if d.Find("[data-testid=run]").Length() != 1 || !strings.Contains(d.Find("[data-testid=run]").Text(), "search-ci") {
		t.Errorf("team filter: %d rows", d.Find("[data-testid=run]").Length())
	}
	var api struct {
		Items []struct {
			ID, Status string
			Jobs       []struct{ Stage, Image string }
		} `json:"items"`
	}
	_, body := getBody(t, p.URL+"/api/v1/pipelines/runs?project=acme/payment")
	if err := json.Unmarshal([]byte(body), &api); err != nil || len(api.Items) != 2 || api.Items[1].Jobs[len(api.Items[1].Jobs)-1].Image == "" && !strings.Contains(body, "payment:1.4.3") {
		t.Errorf("API: %v %s", err, body)
	}
}
