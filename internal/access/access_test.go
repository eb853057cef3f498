package access

import (
	"testing"
	"testing/fstest"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/policy"
)

const entities = `apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: checkout}
spec: {owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: geo}
spec: {owner: team-geo}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payment}
spec: {type: service, lifecycle: production, owner: team-payments, system: checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: maps}
spec: {type: service, lifecycle: production, owner: team-geo, system: geo}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-payments}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-geo}
spec: {type: team, children: []}
`

func snapshot(t *testing.T) *catalog.Snapshot {
	t.Helper()
	r := &catalog.Reader{Source: "t", Location: "file:/t", FS: fstest.MapFS{"c.yaml": {Data: []byte(entities)}}, Patterns: []string{"*.yaml"}, MaxFileSize: 1 << 20}
	rd := r.Read()
	if catalog.HasErrors(rd.Problems) {
		t.Fatal(rd.Problems)
	}
	return catalog.NewSnapshot(rd.Records, nil)
}

func TestScope(t *testing.T) {
	snap := snapshot(t)
	p := policy.Default()
	p.Bindings = []policy.Binding{
		{Groups: []string{"viewers"}, Role: "viewer", Scope: policy.Scope{System: "checkout"}},
		{Groups: []string{"*"}, Role: "deployer", Scope: policy.Scope{Owned: true}},
		{Groups: []string{"admins"}, Role: "admin"},
	}
	a := New(p, false)
	ref := func(kind, name string) catalog.Ref { return catalog.Ref{Kind: kind, Namespace: "default", Name: name} }
	tests := []struct {
		name string
		sub  *policy.Subject
		want map[catalog.Ref]bool
	}{
		{"scoped viewer", &policy.Subject{User: "oscar", Groups: []string{"viewers"}}, map[catalog.Ref]bool{
			ref("component", "payment"): true, ref("system", "checkout"): true, ref("group", "team-geo"): true,
			ref("component", "maps"): false, ref("system", "geo"): false}},
		{"owner only", &policy.Subject{User: "gia", Groups: []string{"x"}, Teams: []string{"team-geo"}}, map[catalog.Ref]bool{
			ref("component", "maps"): true, ref("component", "payment"): false, ref("group", "team-payments"): true}},
		{"admin", &policy.Subject{User: "jonas", Groups: []string{"admins"}}, map[catalog.Ref]bool{
			ref("component", "maps"): true, ref("system", "geo"): true}},
		{"anonymous without anonymous access", nil, map[catalog.Ref]bool{ref("component", "payment"): false, ref("group", "team-geo"): false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := a.For(snap, tt.sub)
			for r, want := range tt.want {
				if got := sc.Ref(r); got != want {
					t.Errorf("Ref(%s) = %v, want %v", r.Short(), got, want)
				}
				rec, _ := snap.Get(r)
				if got := sc.Record(rec); got != want {
					t.Errorf("Record(%s) = %v, want %v", r.Short(), got, want)
				}
				if got := sc.RefString(r.String()); got != want {
					t.Errorf("RefString(%s) = %v, want %v", r, got, want)
				}
			}
			if again := a.For(snap, tt.sub); tt.sub != nil && !sc.All() && again != sc {
				t.Error("the scope is not cached for the snapshot")
			}
		})
	}
	if !New(p, true).For(snap, nil).All() {
		t.Error("anonymous access enabled: anonymous requests should view everything")
	}
}
