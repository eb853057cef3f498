package policy

import (
	"strings"
	"testing"
)

// FuzzParse: a policy file either parses into a policy that validates, or is refused as an
// invalid policy, never a panic; a parsed policy decides without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte("roles:\n  releaser: [view, deploy]\nbindings:\n  - {groups: [\"*\"], role: viewer}\n  - {groups: [\"group:team-payments\"], role: releaser, scope: {environment: staging}}\n"))
	f.Add([]byte("agents: {actions: false, roles: [oncall]}\nbindings: [{groups: [sre-oncall], role: oncall}]\n"))
	f.Add([]byte("bindings: [{groups: [x], role: nosuch}]"))
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid policy") {
				t.Fatalf("error not saying the policy is invalid: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a parsed policy does not validate: %v", err)
		}
		s := Subject{User: "u", Groups: []string{"sre-oncall", "team-payments"}, Teams: []string{"team-payments"}}
		for _, a := range Actions {
			if d := p.Decide(s, a, Target{Service: "payment", Owner: "team-payments"}); d.Reason == "" {
				t.Fatal("a decision without a reason")
			}
			p.ForAgents().MayAnywhere(s, a, true)
		}
	})
}
