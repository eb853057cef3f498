package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/testenv"
)

// TestMCPOnTheDemo asks the demo estate what an on-call engineer's assistant would, over MCP
// with the SDK's client as kemi (on-call): search, a service's runtime, logs, traces and a
// trace's critical path, CI runs and what runs where, scorecards, alerts and what is on fire;
// then restarts a production service, previewed first, with the reason and typed name, and
// finds the audit entry naming the MCP channel on the audit page. An independent client (the
// MCP inspector's CLI, from npm) lists the tools and searches the catalog, to prove the
// transport interoperates.
func TestMCPOnTheDemo(t *testing.T) {
	s := startTriageStack(t)
	ctx := context.Background()
	// A CI run of search, so its pipeline runs have one.
	b := []byte(`{"source": "jenkins", "project": "acme/search", "timestamp": "2026-11-30T10:00:00Z", "run": {"id": "7", "name": "search-ci",
		"status": "success", "commit": "` + strings.Repeat("b", 40) + `", "branch": "main", "author": "mei.chen"}, "stages": [{"name": "unit tests", "status": "success"}]}`)
	req, _ := http.NewRequest(http.MethodPost, s.portal.URL+"/webhooks/pipeline", bytes.NewReader(b))
	req.Header.Set("X-Portico-Signature-256", ingest.Sign("e2e-secret", b))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("CI event: %v %v", err, res)
	}

	cs := testenv.MCPSession(t, s.portal.URL, s.token, "portico-e2e")
	call := func(name string, args map[string]any) (map[string]any, string) {
		t.Helper()
		out, text, isErr := testenv.CallTool(t, cs, name, args)
		if isErr {
			t.Fatalf("%s %v: %s", name, args, text)
		}
		return out, text
	}
	tools := testenv.ToolsOf(t, cs)
	for _, name := range []string{"alerts_firing", "service_traces", "trace_critical_path", "pipeline_runs", "restart", "rollback", "scale"} {
		if tools[name] == nil {
			t.Errorf("on-call on the full stack lacks %s", name)
		}
	}
	if tools["deploy"] != nil {
		t.Error("on-call may not deploy, yet the deploy tool is listed")
	}

	if _, text := call("search_catalog", map[string]any{"query": "payment", "kind": "component"}); !strings.Contains(text, "component:default/payment") {
		t.Errorf("search for payment:\n%s", text)
	}
	rt, text := call("service_runtime", map[string]any{"ref": "search"})
	if !strings.Contains(text, "Deployment discovery/search") || len(rt["clusters"].([]any)) == 0 {
		t.Errorf("runtime of search:\n%s", text)
	}
	if _, text := call("pod_logs", map[string]any{"ref": "notification", "cluster": "production", "namespace": "messaging", "workload": "notification", "tail": 20}); !strings.Contains(text, "all pods of notification") {
		t.Errorf("logs of notification:\n%s", text)
	}
	// (On a stack just started, Jaeger may take a while to hold notification's first traces.)
	var traces []any
	for deadline := time.Now().Add(2 * time.Minute); len(traces) == 0; time.Sleep(5 * time.Second) {
		out, _ := call("service_traces", map[string]any{"ref": "notification", "order": "slowest", "limit": 5})
		traces, _ = out["items"].([]any)
		if time.Now().After(deadline) {
			t.Fatal("no trace of notification within 2 minutes")
		}
	}
	id := traces[0].(map[string]any)["id"].(string)
	path, text := call("trace_critical_path", map[string]any{"traceId": id})
	var onPath float64
	for _, seg := range path["segments"].([]any) {
		onPath += seg.(map[string]any)["duration"].(float64)
	}
	if d := path["duration"].(float64); onPath < d*0.99 || onPath > d*1.01 || !strings.Contains(text, "on its critical path") {
		t.Errorf("the critical path covers %.0f of %.0f ns:\n%s", onPath, d, text)
	}
	if _, text := call("pipeline_runs", map[string]any{"ref": "search"}); !strings.Contains(text, "acme/search search-ci #7") {
		t.Errorf("runs of search:\n%s", text)
	}
	if _, text := call("what_runs_where", map[string]any{"ref": "search"}); !strings.Contains(text, "production discovery/search") {
		t.Errorf("what runs where:\n%s", text)
	}
	if _, text := call("scorecards", map[string]any{"ref": "search"}); !strings.Contains(text, "component:default/search: level") {
		t.Errorf("scorecard of search:\n%s", text)
	}
	if out, text := call("alerts_firing", map[string]any{"team": "team-discovery"}); len(out["errors"].([]any)) != 0 {
		t.Errorf("alerts: a backend could not be read:\n%s", text)
	}
	call("on_fire", nil)
	call("delivery_metrics", map[string]any{"ref": "search"})

	// A production restart: previewed, refused without the reason and typed name, then made.
	target := map[string]any{"ref": "search", "cluster": "production", "namespace": "discovery", "workload": "search"}
	preview, text := call("restart", target)
	if preview["preview"] != true || !strings.Contains(text, "Call again with confirm: true") {
		t.Errorf("preview:\n%s", text)
	}
	dep, err := s.admin.AppsV1().Deployments("discovery").Get(ctx, "search", metav1.GetOptions{})
	must(t, err)
	restartedBefore := dep.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]
	target["confirm"] = true
	if _, text, isErr := testenv.CallTool(t, cs, "restart", target); !isErr || !strings.Contains(text, "reason") {
		t.Errorf("a production restart without a reason: %s", text)
	}
	target["reason"], target["confirmName"] = "stale search index (e2e)", "search"
	done, text := call("restart", target)
	if done["result"] != "succeeded" {
		t.Fatalf("restart:\n%s", text)
	}
	dep, err = s.admin.AppsV1().Deployments("discovery").Get(ctx, "search", metav1.GetOptions{})
	must(t, err)
	if dep.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == restartedBefore {
		t.Error("the restart did not reach the Deployment")
	}
	if _, text := call("audit_log", map[string]any{"ref": "search", "action": "restart", "limit": 5}); !strings.Contains(text, "kemi.adeyemi@acme.example restart discovery/search in production: succeeded (via mcp:portico-e2e)") {
		t.Errorf("audit_log:\n%s", text)
	}
	page := newPage(t, s.portal)
	signIn(t, page, "/audit?entity=component:default/search", "kemi.adeyemi")
	must(t, playwright.NewPlaywrightAssertions().Locator(page.Locator("[data-testid=audit-channel]").First()).ToHaveText("via mcp:portico-e2e"))

	// The MCP inspector's CLI, an MCP client that is not ours.
	node, cli := testenv.MCPInspector(t)
	inspect := func(args ...string) string {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, node, append([]string{cli, "--cli", s.portal.URL + "/mcp", "--transport", "http",
			"--header", "Authorization: Bearer " + s.token}, args...)...)
		cmd.Env = append(cmd.Environ(), "MCP_CATALOG_PATH="+t.TempDir()+"/mcp.json", "HOME="+t.TempDir())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("inspector %v: %v\n%s\n%s", args, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	var listed struct {
		Tools []struct {
			Name         string         `json:"name"`
			OutputSchema map[string]any `json:"outputSchema"`
		} `json:"tools"`
	}
	out := inspect("--method", "tools/list")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Tools) < 10 {
		t.Fatalf("inspector tools/list: %v\n%s", err, out)
	}
	names := fmt.Sprint(listed.Tools)
	for _, want := range []string{"search_catalog", "triage", "restart"} {
		if !strings.Contains(names, want) {
			t.Errorf("the inspector does not list %s: %s", want, names)
		}
	}
	if out := inspect("--method", "tools/call", "--tool-name", "search_catalog", "--tool-arg", "query=payment"); !strings.Contains(out, "component:default/payment") {
		t.Errorf("inspector tools/call search_catalog:\n%s", out)
	}
}
