package catalog

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func read(t *testing.T, files map[string]string, patterns ...string) *Reading {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	if len(patterns) == 0 {
		patterns = []string{"**/*.yaml"}
	}
	r := &Reader{Source: "test", Location: "file:/t", FS: fsys, Patterns: patterns, MaxFileSize: 4096}
	return r.Read()
}

const component = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment
spec:
  type: service
  lifecycle: production
  owner: team-payments
  system: commerce
  dependsOn: [component:pricing]
  providesApis: [payment-api]
`

func TestReadProblems(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantFile  string
		wantLine  int
		wantMsg   string
		wantSev   Severity
		wantCount int // entities read
	}{
		{"malformed yaml", map[string]string{"a.yaml": "apiVersion: x\nkind: [\n"}, "a.yaml", 2, "invalid YAML", SeverityError, 0},
		{"wrong type", map[string]string{"a.yaml": strings.Replace(component, "name: payment", "name: payment\n  labels: {tier: 1}", 1)},
			"a.yaml", 5, "must be a string", SeverityError, 0},
		{"missing owner", map[string]string{"a.yaml": strings.Replace(component, "  owner: team-payments\n", "", 1)},
			"a.yaml", 6, "required property 'owner'", SeverityError, 0},
		{"invalid name", map[string]string{"a.yaml": strings.Replace(component, "name: payment", "name: pay ment", 1)},
			"a.yaml", 4, `metadata.name "pay ment" is not valid`, SeverityError, 0},
		{"duplicate in one file", map[string]string{"a.yaml": component + "---\n" + component}, "a.yaml", 16, "defined twice in this file (documents at lines 1 and 13); the later one is used", SeverityWarning, 1},
		{"duplicate across files", map[string]string{"a.yaml": component, "b.yaml": component}, "b.yaml", 4, "duplicate entity component:payment: already defined at a.yaml:1", SeverityError, 1},
		{"escape via $text", map[string]string{"a/a.yaml": strings.Replace(component, "type: service", "type: {$text: ../../etc/passwd}", 1)},
			"a/a.yaml", 6, "outside the catalog source", SeverityError, 0},
		{"absolute $text", map[string]string{"a.yaml": strings.Replace(component, "type: service", "type: {$text: /etc/passwd}", 1)},
			"a.yaml", 6, "absolute paths are not allowed", SeverityError, 0},
		{"huge file", map[string]string{"a.yaml": component + "# " + strings.Repeat("x", 5000)}, "a.yaml", 0, "over the limit", SeverityError, 0},
		{"unknown kind", map[string]string{"a.yaml": "apiVersion: acme.io/v1\nkind: Environment\nmetadata: {name: prod}\nspec: {}\n"},
			"a.yaml", 2, "not a kind Portico knows", SeverityWarning, 1},
		{"remote location", map[string]string{"a.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: l}\nspec:\n  targets: [https://example.com/x.yaml]\n"},
			"a.yaml", 5, "remote targets are not fetched", SeverityWarning, 1},
		{"script link", map[string]string{"a.yaml": strings.Replace(component, "name: payment", "name: payment\n  links: [{url: \"javascript:alert(5)\"}]", 1)},
			"a.yaml", 5, `metadata.links[0].url "javascript:alert(5)" is not an http, https or mailto address nor a relative path: it is shown as text`, SeverityWarning, 1},
		{"missing ref kind", map[string]string{"a.yaml": strings.Replace(component, "component:pricing", "pricing", 1)},
			"a.yaml", 10, "has no kind", SeverityError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := read(t, tt.files)
			if got := len(rd.Records); got != tt.wantCount {
				t.Errorf("entities = %d, want %d", got, tt.wantCount)
			}
			for _, p := range rd.Problems {
				if strings.Contains(p.Message, tt.wantMsg) {
					if p.File != tt.wantFile || p.Line != tt.wantLine || p.Severity != tt.wantSev {
						t.Errorf("problem at %s:%d (%s), want %s:%d (%s): %s", p.File, p.Line, p.Severity, tt.wantFile, tt.wantLine, tt.wantSev, p.Message)
					}
					return
				}
			}
			t.Errorf("no problem containing %q; got %v", tt.wantMsg, rd.Problems)
		})
	}
}

func TestSubstitutionsAndLocations(t *testing.T) {
	rd := read(t, map[string]string{
		"root.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: root}\nspec:\n  targets: [./apis/*.yaml]\n",
		"apis/api.yaml": `apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: payment-api}
spec:
  type: openapi
  lifecycle: production
  owner: team-payments
  definition: {$text: ./openapi.yaml}
  extra: {$json: ./x.json}
  more: {$yaml: ./x.yml}
`,
		"apis/openapi.yaml": "openapi: 3.0.0\n",
		"apis/x.json":       `{"a": 1}`,
		"apis/x.yml":        "b: [1, 2]\n",
	}, "root.yaml")
	if len(rd.Problems) > 0 {
		t.Fatalf("problems: %v", rd.Problems)
	}
	if len(rd.Records) != 2 {
		t.Fatalf("got %d records, want the location and the API it points at", len(rd.Records))
	}
	api := rd.Records[1].Entity
	if got := api.SpecString("definition"); got != "openapi: 3.0.0\n" {
		t.Errorf("definition = %q", got)
	}
	if got := api.SpecMap("extra")["a"]; got != float64(1) {
		t.Errorf("$json = %v", got)
	}
	if got := api.SpecMap("more")["b"].([]any); len(got) != 2 {
		t.Errorf("$yaml = %v", got)
	}
	if got := api.Metadata.Annotations[AnnotationManagedBy]; got != "file:/t/apis/api.yaml" {
		t.Errorf("managed-by = %q", got)
	}
}

func TestRelationsAreTwoWay(t *testing.T) {
	rd := read(t, map[string]string{
		"a.yaml": component,
		"b.yaml": `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-payments}
spec: {type: team, children: [], members: [alice]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec: {memberOf: []}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: commerce}
spec: {owner: team-payments}
`,
	})
	s := NewSnapshot(rd.Records, rd.Problems)
	get := func(ref string) *Entity {
		r, _ := ParseRef(ref, "", "default")
		rec, ok := s.Get(r)
		if !ok {
			t.Fatalf("%s not found", ref)
		}
		return rec.Entity
	}
	tests := []struct {
		entity, rel, want string
	}{
		{"component:payment", RelOwnedBy, "group:default/team-payments"},
		{"group:team-payments", RelOwnerOf, "component:default/payment"},
		{"system:commerce", RelHasPart, "component:default/payment"},
		{"group:team-payments", RelHasMember, "user:default/alice"},
		{"user:alice", RelMemberOf, "group:default/team-payments"},
		{"component:payment", RelDependsOn, "component:default/pricing"},
	}
	for _, tt := range tests {
		var got []string
		for _, r := range get(tt.entity).RelationsOf(tt.rel) {
			got = append(got, r.String())
		}
		if !contains(got, tt.want) {
			t.Errorf("%s %s = %v, want %s", tt.entity, tt.rel, got, tt.want)
		}
	}
	var unresolved []string
	for _, p := range s.Problems() {
		unresolved = append(unresolved, p.Message)
	}
	if !containsSub(unresolved, "component:pricing") || !containsSub(unresolved, "api:payment-api") {
		t.Errorf("want warnings for the missing pricing and payment-api; got %v", unresolved)
	}
}

func TestCycles(t *testing.T) {
	group := func(name, parent string) string {
		return "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: " + name + "}\nspec: {type: team, children: [], parent: " + parent + "}\n---\n"
	}
	rd := read(t, map[string]string{"g.yaml": group("a", "b") + group("b", "c") + group("c", "a")})
	s := NewSnapshot(rd.Records, nil)
	n := 0
	for _, p := range s.Problems() {
		if strings.Contains(p.Message, "reference cycle") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d cycle reports, want 1: %v", n, s.Problems())
	}
}

func TestMergeKeepsLastGoodAndOrphans(t *testing.T) {
	t0 := time.Unix(1000, 0)
	first := read(t, map[string]string{"a.yaml": component, "b.yaml": strings.Replace(component, "payment", "pricing", -1)})
	gen1 := Merge(nil, first, t0, OrphanPolicy{Grace: time.Hour})
	if len(gen1) != 2 {
		t.Fatalf("gen1 = %d records", len(gen1))
	}
	// a.yaml breaks and b.yaml disappears.
	second := read(t, map[string]string{"a.yaml": "kind: [\n"})
	gen2 := Merge(gen1, second, t0.Add(time.Minute), OrphanPolicy{Grace: time.Hour})
	byName := map[string]Record{}
	for _, r := range gen2 {
		byName[r.Entity.Metadata.Name] = r
	}
	if r, ok := byName["payment"]; !ok || r.Orphan() {
		t.Errorf("payment (file broke) should keep its last good version, got %+v", r)
	}
	if r, ok := byName["pricing"]; !ok || !r.Orphan() {
		t.Errorf("pricing (file gone) should be an orphan, got %+v", r)
	}
	gen3 := Merge(gen2, second, t0.Add(2*time.Hour), OrphanPolicy{Grace: time.Hour})
	if len(gen3) != 1 {
		t.Errorf("after the grace period the orphan should be gone: %d records", len(gen3))
	}
	kept := Merge(gen2, second, t0.Add(2*time.Hour), OrphanPolicy{Keep: true})
	if len(kept) != 2 {
		t.Errorf("with Keep the orphan stays: %d records", len(kept))
	}
}

func TestSearchFacets(t *testing.T) {
	var b strings.Builder
	for _, c := range []struct{ name, owner, tag string }{{"payment", "payments", "go"}, {"payment-gateway", "payments", "java"}, {"pricing", "pricing", "go"}, {"search", "discovery", "go"}} {
		b.WriteString(strings.NewReplacer("name: payment", "name: "+c.name, "owner: team-payments", "owner: "+c.owner, "  system: commerce\n", "  system: commerce\n", "metadata:\n", "metadata:\n  tags: ["+c.tag+"]\n").Replace(component))
		b.WriteString("---\n")
	}
	rd := read(t, map[string]string{"all.yaml": b.String()})
	s := NewSnapshot(rd.Records, nil)
	var q Query
	q.Text = "pay"
	res := s.Search(q)
	if res.Total != 2 || res.Items[0].Entity.Metadata.Name != "payment" {
		t.Fatalf("search pay: total %d, first %v", res.Total, names(res.Items))
	}
	q = Query{}
	q.Filters[FacetTag] = []string{"go"}
	res = s.Search(q)
	if res.Total != 3 {
		t.Errorf("tag=go total = %d, want 3", res.Total)
	}
	counts := map[string]int{}
	for _, v := range res.Facets[FacetTag] {
		counts[v.Value] = v.Count
	}
	if counts["go"] != 3 || counts["java"] != 1 {
		t.Errorf("tag facet counts while filtering on it = %v, want go:3 java:1", counts)
	}
	owners := map[string]int{}
	for _, v := range res.Facets[FacetOwner] {
		owners[v.Value] = v.Count
	}
	if owners["group:default/payments"] != 1 {
		t.Errorf("owner counts = %v", owners)
	}
	q.Limit, q.Offset = 2, 2
	if res := s.Search(q); len(res.Items) != 1 || res.Total != 3 {
		t.Errorf("page 2: %d items of %d", len(res.Items), res.Total)
	}
}

func names(rs []*Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Entity.Metadata.Name)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsSub(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestDuplicateInFileLaterWins: as in Backstage, a file defining an entity twice is accepted
// and its later definition is the one kept.
func TestDuplicateInFileLaterWins(t *testing.T) {
	later := strings.Replace(component, "lifecycle: production", "lifecycle: experimental", 1)
	rd := read(t, map[string]string{"a.yaml": component + "---\n" + later})
	if len(rd.Records) != 1 {
		t.Fatalf("records = %d, want 1", len(rd.Records))
	}
	if got := rd.Records[0].Entity.SpecString("lifecycle"); got != "experimental" {
		t.Errorf("lifecycle = %q, want the later definition's experimental", got)
	}
	if got := rd.Records[0].Line; got != 13 {
		t.Errorf("record line = %d, want 13 (the later document)", got)
	}
	if HasErrors(rd.Problems) {
		t.Errorf("problems %v, want only a warning", rd.Problems)
	}
}
