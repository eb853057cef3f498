package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzReadCatalog reads any bytes as a catalog file, beside a file and a folder its
// substitutions ($text, $json, $yaml) and Location targets may name: it never panics, takes
// no more than its limits, and every problem says what is wrong in words.
func FuzzReadCatalog(f *testing.F) {
	for _, dir := range []string{"../../catalog/services/payment", "../../catalog/services/search"} {
		if b, err := os.ReadFile(filepath.Join(dir, "catalog-info.yaml")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\n  description: {$text: ./notes.txt}\nspec: {type: service, lifecycle: production, owner: team-a}\n"))
	f.Add([]byte("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: more}\nspec: {targets: [./sub/*.yaml]}\n---\n---\n"))
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"))
	f.Add([]byte(strings.Repeat("- ", 200) + "x\n"))
	f.Add([]byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: " + strings.Repeat("n", 5000) + "}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"catalog-info.yaml": {Data: data},
			"notes.txt":         {Data: []byte("some notes")},
			"data.json":         {Data: []byte(`{"a": [1, 2]}`)},
			"sub/x.yaml":        {Data: []byte("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team, children: []}\n")},
		}
		r := &Reader{Source: "fuzz", FS: fsys, Patterns: []string{"catalog-info.yaml"}, MaxFileSize: 1 << 20}
		out := r.Read()
		for _, p := range out.Problems {
			if strings.TrimSpace(p.Message) == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
		for _, rec := range out.Records {
			if rec.Entity == nil || rec.Entity.Metadata.Name == "" || rec.Entity.Kind == "" {
				t.Fatalf("an entity without kind or name was accepted: %+v", rec)
			}
		}
	})
}
