package arch

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/portico-dev/portico"

// rule forbids packages matching from from importing packages matching to.
type rule struct {
	why      string
	from, to func(string) bool
}

func under(prefixes ...string) func(string) bool {
	return func(p string) bool {
		for _, pre := range prefixes {
			if p == pre || strings.HasPrefix(p, pre+"/") {
				return true
			}
		}
		return false
	}
}

func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }
func and(a, b func(string) bool) func(string) bool {
	return func(p string) bool { return a(p) && b(p) }
}
func or(fs ...func(string) bool) func(string) bool {
	return func(p string) bool { return slices.ContainsFunc(fs, func(f func(string) bool) bool { return f(p) }) }
}

var (
	web       = under(module + "/web")
	server    = under(module + "/internal/server")
	internal  = under(module + "/internal")
	httpLayer = under("github.com/labstack/echo/v4", "github.com/a-h/templ")
	entPkgs   = under(module + "/ent")
	stores    = under(module + "/internal/store")
	agentPkg  = under(module + "/internal/agent")
	apiTypes  = under(module + "/internal/api")
	kubeTypes = under("k8s.io/api", "k8s.io/client-go", "k8s.io/apimachinery")
	// What components may use besides the standard library: templ, and the pure layouts.
	viewDeps = under("github.com/a-h/templ", module+"/internal/chart", module+"/internal/graph", module+"/web")
	stdlib   = func(p string) bool { return !strings.Contains(strings.Split(p, "/")[0], ".") }
)

var rules = []rule{
	{"nothing under internal/ but the HTTP layer imports web/", and(internal, not(server)), web},
	{"domain packages do not import echo or templ", and(internal, not(server)), httpLayer},
	{"the HTTP layer hands no ent rows to views", server, entPkgs},
	{"the HTTP layer reads portal types from internal/cluster, not Kubernetes API objects", server, kubeTypes},
	{"the agent interface acts only through the JSON API: not the HTTP layer, the stores or Kubernetes clients", agentPkg, or(server, entPkgs, stores, kubeTypes, httpLayer)},
	{"the JSON API's wire types are types only: no HTTP layer, stores or clients", apiTypes, or(server, agentPkg, entPkgs, stores, kubeTypes, httpLayer)},
	{"the triage ranking is pure: the standard library only, fed by the HTTP layer", under(module + "/internal/triage"), not(stdlib)},
	{"network reach is pure: Kubernetes API types and the standard library, no clients", under(module + "/internal/reach"), and(not(stdlib), not(under("k8s.io/api", "k8s.io/apimachinery")))},
	{"the replicas' bus and leader election are leaves: they know nothing of what they carry or run", under(module+"/internal/notify", module+"/internal/leader"), internal},
	{"components are pure functions of view models: templ, the standard library and the pure layouts only", web, and(not(stdlib), not(viewDeps))},
}

// pending are back-edges that exist while being removed (none today); the test fails when
// one disappears, so the list only shrinks.
var pending = []string{}

func TestDependenciesPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports ","}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Split(imports, ",") {
			if imp == "" {
				continue
			}
			for _, r := range rules {
				if !r.from(pkg) || !r.to(imp) {
					continue
				}
				edge := pkg + " -> " + imp
				if slices.Contains(pending, edge) {
					seen[edge] = true
					continue
				}
				t.Errorf("%s: %s", r.why, edge)
			}
		}
	}
	for _, p := range pending {
		if !seen[p] {
			t.Errorf("%s is gone: remove it from pending", p)
		}
	}
}
