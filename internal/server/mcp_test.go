package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/testenv"
)

// providerToken is the real provider's ID token of a demo user.
func providerToken(t *testing.T, prov *testenv.Provider, user string) string {
	t.Helper()
	tok, err := prov.Tokens(user, "portico")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return raw
}

// apiJSON reads a JSON API route with a bearer token, decoded loosely.
func apiJSON(t *testing.T, u, token string) any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", u, res.StatusCode, b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mcpAuth(t *testing.T, prov *testenv.Provider) func(*Deps) {
	return func(d *Deps) {
		a, err := auth.New(auth.Config{Issuer: prov.Issuer, ClientID: prov.ClientID, ClientSecret: prov.ClientSecret,
			RedirectURL: "http://127.0.0.1:9/auth/callback", SessionKey: []byte(strings.Repeat("k", 32))})
		if err != nil {
			t.Fatal(err)
		}
		d.Auth = a
		d.MCP = MCPConfig{Enabled: true, Issuer: prov.Issuer, PerSecond: 50, Burst: 200}
	}
}

// TestMCPServer drives /mcp with the SDK's client, as the real provider's users, on a real
// control plane: discovery and refusal without a token, tools listed by role, answers equal
// to the JSON API's, a deploy previewed then made and audited with the MCP channel, and a
// refusal by the policy.
func TestMCPServer(t *testing.T) {
	prov := testenv.OIDC(t)
	e := newActionEnv(t, "staging", "experimental", policy.Default(), mcpAuth(t, prov))
	ctx := context.Background()

	t.Run("discovery and refusal without a token", func(t *testing.T) {
		res, err := http.Post(e.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		challenge := res.Header.Get("WWW-Authenticate")
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `resource_metadata="`+e.URL+"/.well-known/oauth-protected-resource/mcp") {
			t.Fatalf("no token = %d %q, want 401 naming the resource metadata", res.StatusCode, challenge)
		}
		meta := apiJSON(t, e.URL+"/.well-known/oauth-protected-resource/mcp", "").(map[string]any)
		if meta["resource"] != e.URL+"/mcp" || !reflect.DeepEqual(meta["authorization_servers"], []any{prov.Issuer}) {
			t.Errorf("resource metadata = %v", meta)
		}
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/mcp", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer not-a-token")
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("forged token = %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})

	oscar, alice, carla, kemi := providerToken(t, prov, "oscar.lind"), providerToken(t, prov, "alice.nguyen"), providerToken(t, prov, "carla.mendes"), providerToken(t, prov, "kemi.adeyemi")
	acts := []string{"deploy", "rollback", "scale", "restart"}

	t.Run("tools by role", func(t *testing.T) {
		viewer := testenv.ToolsOf(t, testenv.MCPSession(t, e.URL, oscar, "portico-test"))
		for _, name := range []string{"search_catalog", "get_entity", "service_runtime", "pod_logs", "triage", "on_fire", "scorecards", "pipeline_runs", "what_runs_where", "delivery_metrics", "audit_log"} {
			tl, ok := viewer[name]
			if !ok {
				t.Errorf("viewer lacks read tool %s", name)
				continue
			}
			if !tl.Annotations.ReadOnlyHint || !tl.Annotations.IdempotentHint || tl.OutputSchema == nil {
				t.Errorf("%s: annotations %+v, output schema %v: want read-only, idempotent, with a schema", name, tl.Annotations, tl.OutputSchema != nil)
			}
		}
		for _, a := range acts {
			if _, ok := viewer[a]; ok {
				t.Errorf("a viewer is offered %s", a)
			}
		}
		owner := testenv.ToolsOf(t, testenv.MCPSession(t, e.URL, alice, "portico-test"))
		for _, a := range acts {
			tl, ok := owner[a]
			if !ok || tl.Annotations.DestructiveHint == nil || !*tl.Annotations.DestructiveHint || tl.Annotations.ReadOnlyHint {
				t.Errorf("an owner's %s tool = %+v, want it listed and destructive", a, tl)
			}
		}
		oncall := testenv.ToolsOf(t, testenv.MCPSession(t, e.URL, kemi, "portico-test"))
		if _, ok := oncall["deploy"]; ok || oncall["rollback"] == nil || oncall["restart"] == nil {
			t.Errorf("on-call tools: deploy %v rollback %v restart %v; want rollback and restart, no deploy", oncall["deploy"] != nil, oncall["rollback"] != nil, oncall["restart"] != nil)
		}
	})

	t.Run("reads match the JSON API", func(t *testing.T) {
		cs := testenv.MCPSession(t, e.URL, oscar, "portico-test")
		out, text, isErr := testenv.CallTool(t, cs, "search_catalog", map[string]any{"query": "ledger"})
		if isErr || !strings.Contains(text, "component:default/ledger") || len(out["items"].([]any)) == 0 {
			t.Fatalf("search for ledger: %v %s", out, text)
		}
		for _, tt := range []struct{ tool, path string }{{"service_runtime", "/runtime"}, {"triage", "/triage"}, {"get_entity", ""}} {
			got, text, isErr := testenv.CallTool(t, cs, tt.tool, map[string]any{"ref": "ledger"})
			want := apiJSON(t, e.URL+"/api/v1/entities/component/default/ledger"+tt.path, oscar)
			if isErr || !reflect.DeepEqual(any(got), want) {
				t.Errorf("%s differs from GET …%s:\nmcp: %v\napi: %v\n%s", tt.tool, tt.path, got, want, text)
			}
		}
		if _, text, _ := testenv.CallTool(t, cs, "service_runtime", map[string]any{"ref": "ledger"}); !strings.Contains(text, "Deployment "+e.ns+"/ledger") {
			t.Errorf("runtime summary names no workload: %s", text)
		}
		if _, text, isErr := testenv.CallTool(t, cs, "get_entity", map[string]any{"ref": "nosuch"}); !isErr || !strings.Contains(text, "not found") {
			t.Errorf("unknown entity: %v %s", isErr, text)
		}
		res, err := cs.ListResources(ctx, nil)
		if err != nil || len(res.Resources) == 0 {
			t.Fatalf("runbook resources: %v %v", res, err)
		}
		rb, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: res.Resources[0].URI})
		if err != nil || rb.Contents[0].MIMEType != "text/markdown" || !strings.Contains(rb.Contents[0].Text, "#") {
			t.Errorf("read runbook %s: %v %v", res.Resources[0].URI, rb, err)
		}
		p, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "triage_service", Arguments: map[string]string{"service": "ledger"}})
		if err != nil || !strings.Contains(p.Messages[0].Content.(*mcp.TextContent).Text, "Call triage for ledger") {
			t.Errorf("triage prompt: %v %v", p, err)
		}
	})

	t.Run("deploy: preview, then act, audited with the channel", func(t *testing.T) {
		cs := testenv.MCPSession(t, e.URL, alice, "portico-test")
		args := map[string]any{"ref": "ledger", "cluster": "east", "namespace": e.ns, "workload": "ledger", "image": "registry.acme.example/ledger:2.2.0", "reason": "from an agent"}
		out, text, isErr := testenv.CallTool(t, cs, "deploy", args)
		if isErr || out["preview"] != true || !strings.Contains(out["diff"].(string), "+") || !strings.Contains(out["diff"].(string), "ledger:2.2.0") {
			t.Fatalf("preview: %v\n%s", out, text)
		}
		d, err := e.admin.AppsV1().Deployments(e.ns).Get(ctx, "ledger", metav1.GetOptions{})
		if err != nil || d.Spec.Template.Spec.Containers[0].Image != "registry.acme.example/ledger:2.1.0" {
			t.Fatalf("the preview changed the Deployment: %v %v", d.Spec.Template.Spec.Containers[0].Image, err)
		}
		if entries, _ := e.audit.List(ctx, audit.Filter{Action: "deploy", Limit: 5}); len(entries) != 0 {
			t.Errorf("a preview is not an action, yet audit has %+v", entries)
		}
		args["confirm"] = true
		args["idempotencyKey"] = "mcp-test-1"
		out, text, isErr = testenv.CallTool(t, cs, "deploy", args)
		if isErr || out["preview"] != false || out["result"] != "succeeded" {
			t.Fatalf("deploy: %v\n%s", out, text)
		}
		d, _ = e.admin.AppsV1().Deployments(e.ns).Get(ctx, "ledger", metav1.GetOptions{})
		if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.acme.example/ledger:2.2.0" {
			t.Errorf("image after the deploy = %s", got)
		}
		entries, _ := e.audit.List(ctx, audit.Filter{Action: "deploy", Limit: 5})
		if len(entries) != 1 || entries[0].Actor != "alice.nguyen@acme.example" || entries[0].Channel != "mcp:portico-test" || entries[0].Result != audit.Succeeded || entries[0].Reason != "from an agent" {
			t.Fatalf("audit of the deploy: %+v", entries)
		}
		again, _, _ := testenv.CallTool(t, cs, "deploy", args)
		if again["duplicate"] != true || again["auditId"] != float64(entries[0].ID) {
			t.Errorf("the same idempotency key acted again: %v", again)
		}
		log, text, _ := testenv.CallTool(t, testenv.MCPSession(t, e.URL, oscar, "portico-test"), "audit_log", map[string]any{"ref": "ledger", "action": "deploy"})
		if !strings.Contains(text, "via mcp:portico-test") || len(log["items"].([]any)) != 1 {
			t.Errorf("audit_log: %v\n%s", log, text)
		}
	})

	t.Run("refused by the policy", func(t *testing.T) {
		cs := testenv.MCPSession(t, e.URL, carla, "portico-test") // team-identity may deploy vault, not ledger
		if _, ok := testenv.ToolsOf(t, cs)["deploy"]; !ok {
			t.Fatal("carla owns a service, so deploy is listed")
		}
		_, text, isErr := testenv.CallTool(t, cs, "deploy", map[string]any{"ref": "ledger", "cluster": "east", "namespace": e.ns, "workload": "ledger",
			"image": "registry.acme.example/ledger:9.9.9", "confirm": true, "reason": "not mine"})
		if !isErr || !strings.Contains(text, "forbidden") || !strings.Contains(text, "may not deploy ledger") {
			t.Errorf("carla deploying ledger: %v %s", isErr, text)
		}
		entries, _ := e.audit.List(ctx, audit.Filter{Actor: "carla.mendes@acme.example", Limit: 5})
		if len(entries) != 1 || entries[0].Result != audit.Denied || entries[0].Channel != "mcp:portico-test" {
			t.Errorf("the refusal is audited as denied with the channel: %+v", entries)
		}
	})
}

// TestMCPLimitsAndKubernetes: with the policy bypassed (everyone an admin), Kubernetes still
// refuses what the user may not do; production asks for the reason and the typed name; tool
// calls beyond the user's rate are refused; and the policy's agents section can take the
// action tools away.
func TestMCPLimitsAndKubernetes(t *testing.T) {
	prov := testenv.OIDC(t)
	open := &policy.Policy{Roles: policy.Default().Roles, Bindings: []policy.Binding{{Groups: []string{"*"}, Role: "admin"}}}
	e := newActionEnv(t, "production", "production", open, mcpAuth(t, prov), func(d *Deps) { d.MCP.PerSecond, d.MCP.Burst = 0.001, 4 })
	ctx := context.Background()
	target := map[string]any{"ref": "ledger", "cluster": "east", "namespace": e.ns, "workload": "ledger", "confirm": true}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range target {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	jonas := testenv.MCPSession(t, e.URL, providerToken(t, prov, "jonas.berg"), "portico-test")
	if _, text, isErr := testenv.CallTool(t, jonas, "restart", target); !isErr || !strings.Contains(text, "reason") {
		t.Errorf("a production restart without a reason: %v %s", isErr, text)
	}
	if _, text, isErr := testenv.CallTool(t, jonas, "restart", with(map[string]any{"reason": "stuck"})); !isErr || !strings.Contains(text, "ledger") {
		t.Errorf("a production restart without the typed name: %v %s", isErr, text)
	}
	if out, text, isErr := testenv.CallTool(t, jonas, "restart", with(map[string]any{"reason": "stuck", "confirmName": "ledger"})); isErr || out["result"] != "succeeded" {
		t.Errorf("a confirmed production restart: %v %s", out, text)
	}

	// carla's group may change vault in the cluster, not ledger: the API server refuses.
	carla := testenv.MCPSession(t, e.URL, providerToken(t, prov, "carla.mendes"), "portico-test")
	_, text, isErr := testenv.CallTool(t, carla, "restart", with(map[string]any{"reason": "policy says yes", "confirmName": "ledger"}))
	if !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("Kubernetes should refuse carla: %v %s", isErr, text)
	}
	entries, _ := e.audit.List(ctx, audit.Filter{Actor: "carla.mendes@acme.example", Limit: 5})
	if len(entries) != 1 || entries[0].Result != audit.Denied {
		t.Errorf("the cluster's refusal is audited as denied: %+v", entries)
	}

	oscar := testenv.MCPSession(t, e.URL, providerToken(t, prov, "oscar.lind"), "portico-test")
	for i := range 4 {
		if _, text, isErr := testenv.CallTool(t, oscar, "search_catalog", map[string]any{"query": "ledger"}); isErr {
			t.Fatalf("call %d within the burst: %s", i+1, text)
		}
	}
	if _, text, isErr := testenv.CallTool(t, oscar, "search_catalog", map[string]any{"query": "ledger"}); !isErr || !strings.Contains(text, "rate limited") {
		t.Errorf("the fifth call in a burst of 4: %v %s", isErr, text)
	}

	off := *open
	no := false
	off.Agents = policy.Agents{Actions: &no}
	e2 := newActionEnv(t, "staging", "experimental", &off, mcpAuth(t, prov))
	tools := testenv.ToolsOf(t, testenv.MCPSession(t, e2.URL, providerToken(t, prov, "jonas.berg"), "portico-test"))
	for _, a := range []string{"deploy", "rollback", "scale", "restart"} {
		if _, ok := tools[a]; ok {
			t.Errorf("agents.actions: false, yet %s is listed", a)
		}
	}
	if tools["search_catalog"] == nil || tools["triage"] == nil {
		t.Error("with agent actions off, the read tools stay")
	}
}

// TestMCPAnonymous: where anonymous read-only browsing is on (no identity provider), MCP
// clients read without a token and are offered no action; without it, nothing is reachable.
func TestMCPAnonymous(t *testing.T) {
	p := newTestPortalWithDeps(t, filepath.Join("..", "..", "catalog"), func(d *Deps) { d.MCP = MCPConfig{Enabled: true} })
	cs := testenv.MCPSession(t, p.URL, "", "portico-test")
	tools := testenv.ToolsOf(t, cs)
	for _, a := range []string{"deploy", "rollback", "scale", "restart"} {
		if tools[a] != nil {
			t.Errorf("an anonymous caller is offered %s", a)
		}
	}
	if _, text, isErr := testenv.CallTool(t, cs, "search_catalog", map[string]any{"owner": "team-payments", "kind": "component"}); isErr || !strings.Contains(text, "component:default/payment") {
		t.Errorf("anonymous search: %s", text)
	}
	closed := newTestPortalWithDeps(t, filepath.Join("..", "..", "catalog"), func(d *Deps) { d.MCP, d.Anonymous = MCPConfig{Enabled: true}, false })
	res, err := http.Post(closed.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token, anonymous off: %d, want 401", res.StatusCode)
	}
	off := newTestPortalWithDeps(t, filepath.Join("..", "..", "catalog"), func(d *Deps) {})
	if res, _ := off.get(t, "/mcp"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/mcp with MCP off: %d, want 404", res.StatusCode)
	}
}
