package catalog

import (
	"testing"
	"testing/fstest"
	"time"
)

const vocabulary = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: maps
  annotations:
    backstage.io/kubernetes-id: maps-svc
    backstage.io/kubernetes-namespace: geo
    github.com/project-slug: acme/maps
    gitlab.com/project-slug: " acme-geo/maps "
    jaegertracing.io/lookback: 30m
    prometheus.io/alert: MapsHighErrorRate
    portico.dev/runbook: runbooks/maps.md
spec: {type: service, lifecycle: production, owner: team-geo}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: plain}
spec: {type: service, lifecycle: production, owner: team-geo}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-geo, annotations: {portico.dev/oidc-group: geo-engineers}}
spec: {type: team, children: [], members: [gia]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-search}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: gia}
spec: {memberOf: [], profile: {email: gia.rossi@acme.example}}
`

func TestVocabulary(t *testing.T) {
	r := &Reader{Source: "t", Location: "file:/t", FS: fstest.MapFS{"c.yaml": {Data: []byte(vocabulary)}}, Patterns: []string{"*.yaml"}, MaxFileSize: 1 << 20}
	rd := r.Read()
	if HasErrors(rd.Problems) {
		t.Fatal(rd.Problems)
	}
	snap := NewSnapshot(rd.Records, nil)
	get := func(name string) *Entity {
		rec, _ := snap.Get(Ref{Kind: "component", Namespace: "default", Name: name})
		return rec.Entity
	}
	maps, plain := get("maps"), get("plain")
	if got := maps.ProjectSlugs(); len(got) != 2 || got[0] != "acme/maps" || got[1] != "acme-geo/maps" {
		t.Errorf("ProjectSlugs = %q", got)
	}
	if maps.ServiceName() != "maps-svc" || plain.ServiceName() != "plain" {
		t.Errorf("ServiceName = %q, %q", maps.ServiceName(), plain.ServiceName())
	}
	if n, lb := maps.JaegerService(); n != "maps-svc" || lb != 30*time.Minute {
		t.Errorf("JaegerService = %q %s", n, lb)
	}
	if _, lb := plain.JaegerService(); lb != time.Hour {
		t.Errorf("default lookback = %s", lb)
	}
	if maps.Prometheus().Alerts != "MapsHighErrorRate" || maps.KubernetesNamespace() != "geo" || maps.Runbook() != "runbooks/maps.md" {
		t.Errorf("annotations: %+v %q %q", maps.Prometheus(), maps.KubernetesNamespace(), maps.Runbook())
	}
	names := func(rs []*Record) (out []string) {
		for _, r := range rs {
			out = append(out, r.Entity.Metadata.Name)
		}
		return out
	}
	for _, tt := range []struct {
		name, subject, email string
		groups               []string
		want                 string
	}{
		{"by provider group", "x", "", []string{"team-search"}, "team-search"},
		{"by oidc-group annotation", "x", "", []string{"GEO-engineers"}, "team-geo"},
		{"as a member, by name", "gia", "", nil, "team-geo"},
		{"as a member, by e-mail", "someone-else", "Gia.Rossi@acme.example", nil, "team-geo"},
		{"no team", "bob", "bob@acme.example", []string{"viewers"}, ""},
	} {
		got := names(snap.TeamsOf(tt.subject, tt.email, tt.groups))
		if (tt.want == "" && len(got) != 0) || (tt.want != "" && (len(got) != 1 || got[0] != tt.want)) {
			t.Errorf("%s: TeamsOf = %v, want %q", tt.name, got, tt.want)
		}
	}
}
