package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/internal/ingest"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	var ee exitError
	switch {
	case errors.As(err, &ee):
		code = int(ee)
	case err != nil:
		errOut.WriteString(err.Error())
		code = 1
	}
	return out.String(), errOut.String(), code
}

func TestLint(t *testing.T) {
	dir := t.TempDir()
	good := "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {type: service, lifecycle: production, owner: team-a}\n"
	bad := "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: bad name\nspec: {type: service, lifecycle: production, owner: team-a}\n"
	os.WriteFile(filepath.Join(dir, "catalog-info.yaml"), []byte(good), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "catalog-info.yaml"), []byte(bad), 0o644)

	out, _, code := runCmd(t, "catalog", "lint", filepath.Join(dir, "catalog-info.yaml"))
	if code != 0 || out != "" {
		t.Errorf("clean file: code %d, output %q", code, out)
	}
	out, _, code = runCmd(t, "catalog", "lint", dir)
	want := filepath.Join(dir, "sub", "catalog-info.yaml") + ":4:9: error: metadata.name \"bad name\" is not valid"
	if code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("folder with an error: code %d, output %q, want prefix %q", code, out, want)
	}
	out, _, code = runCmd(t, "catalog", "lint", "--format", "json", "--whole-catalog", filepath.Join(dir, "catalog-info.yaml"))
	var res struct {
		Problems []struct{ Message, Severity string }
		Errors   int
		Warnings int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if code != 0 || res.Warnings != 1 || !strings.Contains(res.Problems[0].Message, "group:team-a") {
		t.Errorf("--whole-catalog should warn about the missing owner without failing: code %d %+v", code, res)
	}
	twice := filepath.Join(dir, "twice.yaml")
	os.WriteFile(twice, []byte(good+"---\n"+good), 0o644)
	out, _, code = runCmd(t, "catalog", "lint", twice)
	if want := twice + ":8:18: warning: duplicate entity component:a: defined twice in this file (documents at lines 1 and 6)"; code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("an entity defined twice in a file: code %d, output %q, want exit 0 (as Backstage accepts it) and %q", code, out, want)
	}
	if _, errOut, code := runCmd(t, "catalog", "lint", filepath.Join(dir, "missing.yaml")); code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing path: code %d, %q", code, errOut)
	}
}

func TestCommands(t *testing.T) {
	if out, _, code := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "portico ") {
		t.Errorf("version: %d %q", code, out)
	}
	if _, errOut, code := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	cfg := filepath.Join(t.TempDir(), "portico.yaml")
	os.WriteFile(cfg, []byte("database: {driver: oracle}\n"), 0o644)
	if _, errOut, code := runCmd(t, "serve", "--config", cfg); code != 1 || !strings.Contains(errOut, "database.driver") {
		t.Errorf("bad config: %d %q", code, errOut)
	}
}

// TestPipelineReport sends events with the CLI to a real portal handler.
func TestPipelineReport(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if ingest.VerifySignature([]string{"s3cret"}, body, r.Header.Get("X-Portico-Signature-256")) != nil || r.URL.Path != "/webhooks/pipeline" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = append(got, string(body))
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"stored":"run"}`))
	}))
	defer srv.Close()
	env := func(k string) string {
		return map[string]string{"PORTICO_PIPELINE_SECRET": "s3cret", "WRONG": "nope"}[k]
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"pipeline", "report", "--url", srv.URL, "--source", "jenkins", "--project", "acme/payment", "--run-id", "77",
		"--status", "running", "--stage", "unit tests=success", "--stage", "trivy scan=running", "--image", "registry.acme.example/payment:1.4.3"}, env, &out, &errOut)
	if err != nil || len(got) != 1 || !strings.Contains(got[0], `"trivy scan"`) || !strings.Contains(out.String(), "202") {
		t.Fatalf("report: %v %q %q %v", err, out.String(), errOut.String(), got)
	}
	if err := run(context.Background(), []string{"pipeline", "report", "--url", srv.URL, "--project", "p", "--run-id", "1", "--secret-env", "WRONG"}, env, &out, &errOut); err == nil {
		t.Error("a refused event must exit non-zero")
	}
	for _, bad := range [][]string{{"--project", "p"}, {"--url", srv.URL, "--project", "p", "--run-id", "1", "--status", "great"}, {"--url", srv.URL, "--project", "p", "--run-id", "1", "--stage", "x"}} {
		if err := run(context.Background(), append([]string{"pipeline", "report"}, bad...), env, &out, &errOut); err != exitError(2) {
			t.Errorf("%v: %v, want exit 2", bad, err)
		}
	}
}

// TestScorecardCheck grades manifests in a service repo as CI would: a good repo passes at
// gold, a bad one fails with file:line findings and the fix, --fail-below decides the exit
// code, JSON carries the snippets, and a broken file or a bad checks file is exit 2.
func TestScorecardCheck(t *testing.T) {
	good, bad := filepath.Join("testdata", "scorecard", "good"), filepath.Join("testdata", "scorecard", "bad")
	_, errOut, code := runCmd(t, "scorecard", "check", "-f", good)
	if code != 0 || !strings.HasPrefix(errOut, "gold, 100%") {
		t.Errorf("good repo: code %d, %q", code, errOut)
	}
	out, _, code := runCmd(t, "scorecard", "check", "-f", bad)
	deploy := filepath.Join(bad, "deploy.yaml")
	for _, want := range []string{
		deploy + ":2: bronze readiness-probe: tills/api: no readinessProbe",
		deploy + ":2: silver pdb: A disruption budget in production",
		deploy + ":2: silver no-plaintext-secrets: tills/api: DB_PASSWORD is set in plain text",
		filepath.Join(bad, "catalog-info.yaml") + ":1: bronze on-call: Names its on-call",
		"    fix: Add a PodDisruptionBudget",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bad repo output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || strings.Contains(out, "hunter2") || strings.Contains(out, "alert-rules") {
		t.Errorf("bad repo: code %d (want 1), output:\n%s", code, out)
	}
	if _, _, code := runCmd(t, "scorecard", "check", "--fail-below", "bronze", "-f", good); code != 0 {
		t.Errorf("--fail-below bronze on the good repo: code %d", code)
	}
	out, _, code = runCmd(t, "scorecard", "check", "--format", "json", "-f", bad)
	var res struct {
		Level    string
		Findings []struct{ Check, Snippet, File string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 {
		t.Fatalf("json: code %d %v\n%s", code, err, out)
	}
	snippets := map[string]string{}
	for _, f := range res.Findings {
		snippets[f.Check] = f.Snippet
	}
	if !strings.Contains(snippets["pdb"], "kind: PodDisruptionBudget") || !strings.Contains(snippets["readiness-probe"], "readinessProbe") {
		t.Errorf("json snippets: %v", snippets)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "svc.yaml"), []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 80\n"), 0o644)
	if _, errOut, code := runCmd(t, "scorecard", "check", "-f", dir); code != 2 || !strings.Contains(errOut, "svc.yaml") {
		t.Errorf("broken YAML: code %d, %q", code, errOut)
	}
	checks := filepath.Join(dir, "checks.yaml")
	os.WriteFile(checks, []byte("checks:\n  - {id: x, title: X, level: bronze, expr: 'workloads.all(w, '}\n"), 0o644)
	if _, errOut, code := runCmd(t, "scorecard", "check", "--checks", checks, "-f", good); code != 2 || !strings.Contains(errOut, `check "x"`) {
		t.Errorf("bad checks file: code %d, %q", code, errOut)
	}
}
