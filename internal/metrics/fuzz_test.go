package metrics

import (
	"strings"
	"testing"
)

// FuzzRules: any prometheus.io/rule annotation and any name give chart queries or a template
// error in words, never a panic; a name's pods regex stays inside its PromQL string.
func FuzzRules(f *testing.F) {
	f.Add(`sum(rate(http_requests_total{service="payment"}[5m])) by (route)|route,histogram_quantile(0.95, sum(rate(x_bucket{a="b,c"}[5m])) by (le))|le`, "payment")
	f.Add(`up{pod=~"{{.Pods}}"}|pod`, `we"ird\name`)
	f.Add(`{{.Nope}}`, "x")
	f.Add(`{{range .}}{{end}}`, "")
	f.Fuzz(func(t *testing.T, annotation, name string) {
		for _, q := range ParseRules(annotation) {
			out, err := render(q.Query, Target{Name: name, Namespace: "ns", Labels: LabelMatchers("", name)}, RangeNamed("1h"))
			if err != nil {
				if !strings.Contains(err.Error(), "template") {
					t.Fatalf("error without saying the template failed: %v", err)
				}
				continue
			}
			_ = out
		}
		if p := promString(podsRegex(Target{Name: name})); strings.Count(p, `"`) != strings.Count(p, `\"`) {
			t.Fatalf("an unescaped quote in %q", p)
		}
	})
}
