package scorecard

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// objects reads a multi-document manifest file into JSON-shaped objects.
func objects(t *testing.T, path string) Objects {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := ReadManifests(path, f)
	if err != nil {
		t.Fatal(err)
	}
	var o Objects
	for _, m := range ms {
		if IsWorkload(m.Object) {
			o.Workloads = append(o.Workloads, m.Object)
		} else {
			o.Others = append(o.Others, m.Object)
		}
	}
	return o
}

func entity(annotations map[string]any) map[string]any {
	return map[string]any{"kind": "Component", "metadata": map[string]any{"name": "tills", "annotations": annotations},
		"spec": map[string]any{"type": "service", "lifecycle": "production", "owner": "group:default/team-payments"}}
}

func statuses(c Card) map[string]Status {
	out := map[string]Status{}
	for _, r := range c.Results {
		out[r.Check] = r.Status
	}
	return out
}

func builtin(t *testing.T) *Set {
	t.Helper()
	s, err := Compile(Builtin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBuiltinOnBadAndGood: every gap of the bad manifest fails its check, naming what fails
// it (never a secret's value); the good manifest passes them all; the custom-resource checks
// are not applicable without their resources.
func TestBuiltinOnBadAndGood(t *testing.T) {
	s := builtin(t)
	bad := s.Evaluate(Assemble(Facts{Entity: entity(nil), Production: true}, objects(t, "testdata/bad.yaml")))
	got := statuses(bad)
	for _, id := range []string{"on-call", "runbook", "readiness-probe", "liveness-probe", "resource-requests", "memory-limit", "replicas", "pdb", "hpa",
		"alert-rules", "run-as-non-root", "no-privilege-escalation", "no-host-namespaces", "no-plaintext-secrets", "read-only-root",
		"capabilities-dropped", "image-digest", "network-policy", "default-deny"} {
		if got[id] != Fail {
			t.Errorf("bad: %s = %s, want fail", id, got[id])
		}
	}
	for _, id := range []string{"owner", "lifecycle"} {
		if got[id] != Pass {
			t.Errorf("bad: %s = %s, want pass", id, got[id])
		}
	}
	for _, id := range []string{"no-critical-vulnerabilities", "admission-policies", "image-signature", "mtls", "vpa-within-requests", "scanned-images"} {
		if got[id] != NotApplicable {
			t.Errorf("bad: %s = %s, want n/a", id, got[id])
		}
	}
	if bad.Level != "" {
		t.Errorf("bad level = %q, want none", bad.Level)
	}
	for _, r := range bad.Results {
		switch r.Check {
		case "no-plaintext-secrets":
			if !reflect.DeepEqual(r.Failing, []string{"tills/api: DB_PASSWORD is set in plain text"}) {
				t.Errorf("plaintext secrets: %v", r.Failing)
			}
			if strings.Contains(strings.Join(r.Failing, " "), "hunter2") {
				t.Error("the result shows the secret's value")
			}
		case "pdb":
			if !strings.Contains(r.Snippet, "kind: PodDisruptionBudget") || !strings.Contains(r.Snippet, "namespace: shop") || !strings.Contains(r.Snippet, "app: tills") {
				t.Errorf("pdb snippet:\n%s", r.Snippet)
			}
		case "readiness-probe":
			if !strings.Contains(r.Snippet, "- name: api\n") {
				t.Errorf("readiness snippet does not name the container:\n%s", r.Snippet)
			}
		}
	}

	good := s.Evaluate(Assemble(Facts{Entity: entity(map[string]any{"portico.dev/on-call": "group:sre-oncall"}), Production: true,
		Runbook: map[string]any{"present": true}, AlertRules: []map[string]any{{"name": "TillsDown"}}}, objects(t, "testdata/good.yaml")))
	for _, r := range good.Results {
		if r.Status != Pass && r.Status != NotApplicable {
			t.Errorf("good: %s = %s %v %s", r.Check, r.Status, r.Failing, r.Message)
		}
	}
	if good.Level != "gold" || good.Score != 100 {
		t.Errorf("good: level %q score %d", good.Level, good.Score)
	}
	// The other namespace's default deny is not the service's.
	f := Assemble(Facts{}, objects(t, "testdata/good.yaml"))
	if len(f.NamespacePolicies) != 2 || len(f.NetworkPolicies) != 2 {
		t.Errorf("policies: %d in the namespace, %d selecting", len(f.NamespacePolicies), len(f.NetworkPolicies))
	}
}

// TestSnippetsFixTheirChecks: applying each failing check's snippet to the bad manifest (a
// strategic-merge-like deep merge for patches, a new object for apply) makes it pass.
func TestSnippetsFixTheirChecks(t *testing.T) {
	s := builtin(t)
	facts := Facts{Entity: entity(nil), Production: true}
	card := s.Evaluate(Assemble(facts, objects(t, "testdata/bad.yaml")))
	for _, r := range card.Results {
		if r.Status != Fail || r.Snippet == "" {
			continue
		}
		c, _ := s.Check(r.Check)
		o := objects(t, "testdata/bad.yaml")
		ms, err := ReadManifests(r.Check, strings.NewReader(r.Snippet))
		if c.SnippetKind != "apply" { // patches and catalog lines have no kind
			var v map[string]any
			err = yaml.Unmarshal([]byte(r.Snippet), &v)
			ms = []Manifest{{Object: jsonShape(v).(map[string]any)}}
		}
		if err != nil {
			t.Fatalf("%s: snippet is not YAML: %v\n%s", r.Check, err, r.Snippet)
		}
		snippet := ms[0].Object
		e := entity(nil)
		switch c.SnippetKind {
		case "patch": // as kubectl patch --type strategic does it
			patched, err := strategicpatch.StrategicMergeMapPatch(o.Workloads[0], snippet, appsv1.Deployment{})
			if err != nil {
				t.Fatalf("%s: %v", r.Check, err)
			}
			o.Workloads[0] = patched
		case "apply":
			o.Others = append(o.Others, snippet)
		case "catalog":
			e = mergeForTest(e, snippet).(map[string]any)
		}
		f := facts
		f.Entity = e
		if r.Check == "runbook" {
			continue // the annotation points at a file still to be written
		}
		after := statuses(s.Evaluate(Assemble(f, o)))
		if after[r.Check] != Pass {
			t.Errorf("%s: after its snippet the check is %s\n%s", r.Check, after[r.Check], r.Snippet)
		}
	}
}

// mergeForTest merges catalog lines into the entity, maps deeply.
func mergeForTest(dst, src any) any {
	s, ok := src.(map[string]any)
	d, dok := dst.(map[string]any)
	if !ok || !dok || d == nil {
		return src
	}
	for k, v := range s {
		d[k] = mergeForTest(d[k], v)
	}
	return d
}

// TestCustomChecksAndErrors: a checks file adds its own; a bad expression stops Compile
// naming the check and the position; duplicate ids and unknown levels are refused.
func TestCustomChecksAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checks.yaml")
	os.WriteFile(path, []byte(`checks:
  - id: tier-tag
    title: Tagged with its tier
    level: bronze
    rationale: Paging rules follow the tier.
    fix: Add a tier-N tag.
    expr: entity.?metadata.?tags.orValue([]).exists(t, t.startsWith('tier-'))
`), 0o644)
	custom, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(append(Builtin(), custom.Checks...), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := entity(nil)
	e["metadata"].(map[string]any)["tags"] = []any{"go", "tier-1"}
	if got := statuses(s.Evaluate(Facts{Entity: e}))["tier-tag"]; got != Pass {
		t.Errorf("tier-tag = %s", got)
	}
	if got := statuses(s.Evaluate(Facts{Entity: entity(nil)}))["tier-tag"]; got != Fail {
		t.Errorf("tier-tag without tags = %s", got)
	}

	for _, c := range []struct {
		check Check
		want  string
	}{
		{Check{ID: "broken", Title: "x", Level: "bronze", Expr: "workloads.all(w, w.spec.replicas >", Source: "checks.yaml"}, `check "broken" (checks.yaml): expr: ERROR: <input>:1:35: Syntax error`},
		{Check{ID: "typed", Title: "x", Level: "bronze", Expr: "size(workloads)", Source: "checks.yaml"}, "gives int, not a bool or a list"},
		{Check{ID: "owner", Title: "x", Level: "bronze", Expr: "true", Source: "checks.yaml"}, `check "owner" (checks.yaml): the id is already used in built-in`},
		{Check{ID: "lvl", Title: "x", Level: "platinum", Expr: "true", Source: "checks.yaml"}, `level "platinum" is not one of bronze, silver, gold`},
		{Check{ID: "snip", Title: "x", Level: "gold", Expr: "true", Snippet: "{{.Name", SnippetKind: "patch", Source: "checks.yaml"}, `check "snip" (checks.yaml): snippet:`},
	} {
		_, err := Compile(append(Builtin(), c.check), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.check.ID, err, c.want)
		}
	}
}

// TestCustomResourceChecks: with the resources served, the reports decide.
func TestCustomResourceChecks(t *testing.T) {
	s := builtin(t)
	o := objects(t, "testdata/good.yaml")
	f := Assemble(Facts{Entity: entity(nil), Production: true, CRDs: map[string]bool{
		"vulnerabilityreports.aquasecurity.github.io": true, "policyreports.wgpolicyk8s.io": true,
		"peerauthentications.security.istio.io": true, "verticalpodautoscalers.autoscaling.k8s.io": true,
	}, Reports: map[string][]map[string]any{
		"vulnerabilityreports.aquasecurity.github.io": {{"metadata": map[string]any{"name": "replicaset-tills-api"}, "report": map[string]any{"summary": map[string]any{"criticalCount": int64(2)}}}},
		"policyreports.wgpolicyk8s.io": {{"results": []any{
			map[string]any{"policy": "require-labels", "rule": "team", "result": "fail"},
			map[string]any{"policy": "verify-images", "rule": "verify-signature", "result": "pass"}}}},
		"verticalpodautoscalers.autoscaling.k8s.io": {{"metadata": map[string]any{"name": "tills"}, "status": map[string]any{"recommendation": map[string]any{
			"containerRecommendations": []any{map[string]any{"containerName": "api",
				"lowerBound": map[string]any{"cpu": "200m", "memory": "100Mi"}, "upperBound": map[string]any{"cpu": "1", "memory": "1Gi"}}}}}}},
	}}, o)
	card := s.Evaluate(f)
	want := map[string]Status{"no-critical-vulnerabilities": Fail, "admission-policies": Fail, "image-signature": Pass, "mtls": Fail, "vpa-within-requests": Fail}
	for _, r := range card.Results {
		if w, ok := want[r.Check]; ok && r.Status != w {
			t.Errorf("%s = %s %v %s, want %s", r.Check, r.Status, r.Failing, r.Message, w)
		}
		if r.Check == "vpa-within-requests" && !reflect.DeepEqual(r.Failing, []string{"tills/api: cpu request 100m outside 200m–1"}) {
			t.Errorf("vpa: %v", r.Failing)
		}
	}
}

// TestExemption: an exempt failing check counts as passing and says why.
func TestExemption(t *testing.T) {
	s := builtin(t)
	f := Assemble(Facts{Entity: entity(nil), Exempt: map[string]string{"image-digest": "tags are immutable in our registry"}}, objects(t, "testdata/bad.yaml"))
	for _, r := range s.Evaluate(f).Results {
		if r.Check == "image-digest" && (r.Status != Exempt || r.Message == "") {
			t.Errorf("image-digest = %s %q", r.Status, r.Message)
		}
	}
}

// TestUnknownFacts: a check that reads a fact not known here is not applicable.
func TestUnknownFacts(t *testing.T) {
	s := builtin(t)
	f := Assemble(Facts{Unknown: map[string]bool{"entity": true, "alertRules": true, "runbook": true}}, objects(t, "testdata/bad.yaml"))
	got := statuses(s.Evaluate(f))
	for _, id := range []string{"owner", "on-call", "alert-rules", "runbook", "lifecycle"} {
		if got[id] != NotApplicable {
			t.Errorf("%s = %s, want n/a", id, got[id])
		}
	}
	if got["readiness-probe"] != Fail {
		t.Errorf("readiness-probe = %s", got["readiness-probe"])
	}
}
