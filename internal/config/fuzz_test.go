package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: a configuration file loads into a valid configuration or is refused with a message
// naming the file; never a panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("server:\n  addr: 127.0.0.1:9090\ncatalog:\n  sources: [{name: a, type: dir, path: ./c}]\nmcp: {enabled: true, rateLimit: {perSecond: 1, burst: 2}, timeout: 5s, maxOutputKB: 64}\n"))
	f.Add([]byte("server: {adr: x}\n"))
	f.Add([]byte("clusters:\n  - {name: prod, kubeconfig: /k, impersonateGroups: [\"team-*\"]}\n"))
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "portico.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip()
		}
		cfg, err := Load(path, func(string) string { return "" })
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an error without words")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load returned a configuration that does not validate: %v", err)
		}
	})
}
