package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/ingest"
)

func (e *actionEnv) sendCI(t *testing.T, path, event string, body string) {
	t.Helper()
	b := []byte(body)
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, bytes.NewReader(b))
	if path == "/webhooks/github" {
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-Hub-Signature-256", ingest.Sign("gh-secret", b))
	} else {
		req.Header.Set("X-Portico-Signature-256", ingest.Sign("generic-secret", b))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("CI event: %v %v", err, res)
	}
}

func sha(c byte) string { return strings.Repeat(string(c), 40) }

// TestWhatRunsWhereAndScanPolicy ties running images to the CI runs that built them, counts
// how far main moved on, offers successful runs' images for deploys, refuses images whose
// run did not pass its security scan, and shows the change after a deploy.
func TestWhatRunsWhereAndScanPolicy(t *testing.T) {
	e := newActionEnv(t, "production", "production", nil, func(d *Deps) {
		d.PipelineSecrets = PipelineSecrets{GitHub: []string{"gh-secret"}, Generic: []string{"generic-secret"}, RequireSecurityScan: true}
	})
	run := func(id, commit, image, scan string, at int) {
		e.sendCI(t, "/webhooks/pipeline", "", fmt.Sprintf(`{"source": "jenkins", "project": "acme/ledger", "timestamp": "2026-11-23T10:%02d:00Z",
			"run": {"id": %q, "name": "ledger-ci", "url": "https://ci.acme.example/ledger/%s", "status": "success", "commit": %q, "branch": "main"},
			"stages": [{"name": "unit tests", "status": "success"}, {"name": "trivy scan", "status": %q}], "image": %q}`, at, id, id, commit, scan, image))
	}
	run("10", sha('a'), "registry.acme.example/ledger:2.1.0", "success", 1) // what revision 2 runs
	run("11", sha('b'), "registry.acme.example/ledger:2.2.0", "failed", 2)
	run("12", sha('c'), "registry.acme.example/ledger:2.3.0", "success", 3)
	e.sendCI(t, "/webhooks/github", "push", fmt.Sprintf(`{"ref": "refs/heads/main", "before": "0", "after": %q, "repository": {"full_name": "acme/ledger"},
		"pusher": {"name": "alice"}, "commits": [{"id": %q, "message": "a"}, {"id": %q, "message": "b"}, {"id": %q, "message": "c", "timestamp": %q}]}`, sha('c'), sha('a'), sha('b'), sha('c'),
		time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339)))

	where := func() *goquery.Selection {
		_, html := getAs(t, e.URL+"/catalog/component/default/ledger/pipelines", "alice")
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
		return d.Find("[data-testid=where-row]")
	}
	row := where()
	if row.Length() != 1 || !strings.Contains(row.Text(), "ledger-ci #10") || !strings.Contains(row.Text(), "aaaaaaaaaa") ||
		row.Find("[data-testid=ahead]").Text() != "2 commits" || !strings.Contains(row.Text(), "passed") {
		t.Fatalf("what runs where: %q", row.Text())
	}
	_, html := getAs(t, e.URL+e.workloadPath("ledger"), "alice")
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(html))
	if first, _ := d.Find("datalist#images option").First().Attr("value"); first != "registry.acme.example/ledger:2.3.0" {
		t.Errorf("the deploy form offers %q first, want the newest successful run's image", first)
	}

	for image, want := range map[string]string{"registry.acme.example/ledger:2.2.0": "did not pass its security-scan", "registry.acme.example/ledger:9.9.9": "no run reported building"} {
		status, body := e.api(t, "alice", "ledger", "deploy", map[string]any{"image": image, "reason": "r", "confirm": "ledger"})
		if status != http.StatusForbidden || !strings.Contains(fmt.Sprint(body["error"]), want) {
			t.Errorf("deploy %s = %d %v, want 403 saying %q", image, status, body, want)
		}
	}
	denied, _ := e.audit.List(context.Background(), audit.Filter{Name: "ledger", Result: audit.Denied})
	if len(denied) != 2 {
		t.Errorf("denied deploys audited: %d, want 2", len(denied))
	}
	if status, body := e.api(t, "alice", "ledger", "deploy", map[string]any{"image": "registry.acme.example/ledger:2.3.0", "reason": "r", "confirm": "ledger"}); status != http.StatusOK {
		t.Fatalf("deploy of a scanned image = %d %v", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitUntil(ctx, t, "what runs where to show the new image", func() bool {
		r := where()
		return strings.Contains(r.Text(), "ledger-ci #12") && r.Find("[data-testid=ahead]").Text() == "up to date"
	})

	// Rolled back within the hour: a failed change, restored by the rollback.
	if status, body := e.api(t, "alice", "ledger", "rollback", map[string]any{"revision": 0, "reason": "errors", "confirm": "ledger"}); status != http.StatusOK {
		t.Fatalf("rollback = %d %v", status, body)
	}
	var m struct {
		Deploys, Failures    int
		ChangeFailureRate    float64 `json:"changeFailureRate"`
		LeadTimeSeconds      float64 `json:"leadTimeSeconds"`
		TimeToRestoreSeconds float64 `json:"timeToRestoreSeconds"`
	}
	_, body := getAs(t, e.URL+"/api/v1/dora?entity=component:default/ledger", "alice")
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Deploys != 1 || m.Failures != 1 || m.ChangeFailureRate != 1 ||
		m.LeadTimeSeconds < 500 || m.LeadTimeSeconds > 3600 || m.TimeToRestoreSeconds <= 0 {
		t.Errorf("DORA: %v %s", err, body)
	}
	_, html = getAs(t, e.URL+"/catalog/component/default/ledger/dora", "alice")
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
	if d.Find("[data-testid=dora-cfr]").Text() != "100%" || d.Find("[data-testid=dora-frequency]").Text() == "" || d.Find(".chart").Length() != 4 {
		t.Errorf("DORA panel: cfr %q, %d charts", d.Find("[data-testid=dora-cfr]").Text(), d.Find(".chart").Length())
	}
}
