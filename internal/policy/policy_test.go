package policy

import (
	"strings"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	alice := Subject{User: "alice.nguyen", Groups: []string{"team-payments"}, Teams: []string{"team-payments"}}
	carla := Subject{User: "carla.mendes", Groups: []string{"team-identity"}, Teams: []string{"team-identity"}}
	kemi := Subject{User: "kemi.adeyemi", Groups: []string{"sre-oncall"}, Teams: []string{"sre-oncall"}}
	jonas := Subject{User: "jonas.berg", Groups: []string{"team-platform", "portico-admins"}, Teams: []string{"team-platform"}}
	oscar := Subject{User: "oscar.lind", Groups: []string{"viewers"}}
	payment := Target{Service: "payment", Owner: "team-payments", System: "checkout", Namespace: "payments", Cluster: "production", Environment: "production"}
	tests := []struct {
		name    string
		s       Subject
		a       Action
		allowed bool
	}{
		{"anyone signed in views", oscar, View, true},
		{"viewer cannot restart", oscar, Restart, false},
		{"owner deploys own service", alice, Deploy, true},
		{"owner rolls back own service", alice, Rollback, true},
		{"owner scales own service", alice, Scale, true},
		{"other team cannot deploy", carla, Deploy, false},
		{"other team cannot restart", carla, Restart, false},
		{"on-call restarts any service", kemi, Restart, true},
		{"on-call rolls back any service", kemi, Rollback, true},
		{"on-call does not deploy", kemi, Deploy, false},
		{"admin deploys anything", jonas, Deploy, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.s, tt.a, payment)
			if d.Allowed != tt.allowed {
				t.Errorf("%s %s payment: allowed = %v (%s), want %v", tt.s.User, tt.a, d.Allowed, d.Reason, tt.allowed)
			}
			if d.Reason == "" {
				t.Error("every decision says why")
			}
		})
	}
	if d := p.Decide(carla, Deploy, payment); !strings.Contains(d.Reason, "owned by team-payments") {
		t.Errorf("refusal should say who owns the service: %q", d.Reason)
	}
}

func TestScopes(t *testing.T) {
	p := &Policy{Roles: map[string][]Action{"operator": {View, Restart, Scale}},
		Bindings: []Binding{
			{Groups: []string{"group:team-geo"}, Role: "operator", Scope: Scope{Environment: "staging"}},
			{Groups: []string{"db-admins"}, Role: "operator", Scope: Scope{Namespace: "data", Cluster: "production"}},
			{Groups: []string{"checkout-leads"}, Role: "operator", Scope: Scope{System: "checkout"}},
		}}
	geo := Subject{User: "farid", Teams: []string{"team-geo"}}
	dba := Subject{User: "hugo", Groups: []string{"db-admins"}}
	lead := Subject{User: "bruno", Groups: []string{"checkout-leads"}}
	tests := []struct {
		s       Subject
		t       Target
		allowed bool
	}{
		{geo, Target{Service: "maps", Environment: "staging"}, true},
		{geo, Target{Service: "maps", Environment: "production"}, false},
		{dba, Target{Service: "analytics", Namespace: "data", Cluster: "production"}, true},
		{dba, Target{Service: "analytics", Namespace: "data", Cluster: "staging"}, false},
		{lead, Target{Service: "pricing", System: "checkout"}, true},
		{lead, Target{Service: "search", System: "search"}, false},
	}
	for _, tt := range tests {
		if d := p.Decide(tt.s, Restart, tt.t); d.Allowed != tt.allowed {
			t.Errorf("%s restart %+v = %v (%s), want %v", tt.s.User, tt.t, d.Allowed, d.Reason, tt.allowed)
		}
	}
}

func TestValidate(t *testing.T) {
	p := &Policy{Roles: map[string][]Action{"x": {"fly"}}, Bindings: []Binding{{Role: "nope"}}}
	err := p.Validate()
	for _, want := range []string{`roles.x: unknown action "fly"`, `bindings[0].role: unknown role "nope"`, "bindings[0].groups"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

func TestParse(t *testing.T) {
	p, err := Parse([]byte(`
roles:
  releaser: [view, deploy]
bindings:
  - {groups: ["*"], role: viewer}
  - {groups: ["group:team-payments"], role: releaser, scope: {environment: staging}}
  - {groups: [sre-oncall], role: operator, scope: {namespace: payments}}
`))
	if err != nil {
		t.Fatal(err)
	}
	alice := Subject{User: "alice", Teams: []string{"team-payments"}}
	staging := Target{Service: "payment", Owner: "team-payments", Namespace: "payments", Environment: "staging"}
	prod := staging
	prod.Environment = "production"
	if !p.Decide(alice, Deploy, staging).Allowed || p.Decide(alice, Deploy, prod).Allowed {
		t.Error("releaser is limited to staging")
	}
	kemi := Subject{User: "kemi", Groups: []string{"sre-oncall"}}
	if !p.Decide(kemi, Scale, prod).Allowed || p.Decide(kemi, Rollback, prod).Allowed {
		t.Error("operator (a default role the file did not redefine) scales, does not roll back")
	}
	for _, bad := range []string{
		"bindings: [{groups: [x], role: nosuch}]",
		"roles: {r: [fly]}\nbindings: [{groups: [x], role: r}]",
		"bindings: [{groups: [], role: viewer}]",
		"bindings: [{groups: [x], role: viewer, scope: {owend: true}}]",
		"roles: {}",
		"bindings: [",
	} {
		if _, err := Parse([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "invalid policy") {
			t.Errorf("Parse(%q) = %v, want an invalid policy error", bad, err)
		}
	}
}

// TestAgents: the agent interface never acts beyond the user's roles, and the policy file can
// hold it to fewer roles or to reading only.
func TestAgents(t *testing.T) {
	alice := Subject{User: "alice", Groups: []string{"team-payments"}, Teams: []string{"team-payments"}}
	kemi := Subject{User: "kemi", Groups: []string{"sre-oncall"}}
	oscar := Subject{User: "oscar", Groups: []string{"viewers"}}
	payment := Target{Service: "payment", Owner: "team-payments", Environment: "production"}

	p := Default()
	if p.ForAgents() != p {
		t.Error("with no agents section, agents have the user's rights")
	}
	for _, tt := range []struct {
		s    Subject
		a    Action
		owns bool
		want bool
	}{{alice, Deploy, true, true}, {alice, Deploy, false, false}, {kemi, Rollback, false, true}, {kemi, Deploy, false, false},
		{oscar, View, false, true}, {oscar, Restart, false, false}, {oscar, Deploy, false, false}} {
		if got := p.MayAnywhere(tt.s, tt.a, tt.owns); got != tt.want {
			t.Errorf("MayAnywhere(%s, %s) = %v, want %v", tt.s.User, tt.a, got, tt.want)
		}
	}

	limited, err := Parse([]byte("agents: {roles: [oncall]}\nbindings:\n  - {groups: [\"*\"], role: viewer}\n  - {groups: [\"*\"], role: deployer, scope: {owned: true}}\n  - {groups: [sre-oncall], role: oncall}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ag := limited.ForAgents()
	if ag.Decide(alice, Deploy, payment).Allowed || !limited.Decide(alice, Deploy, payment).Allowed {
		t.Error("alice deploys in the UI (deployer) but not through an agent (only oncall is allowed there)")
	}
	if !ag.Decide(kemi, Rollback, payment).Allowed || !ag.Decide(alice, View, payment).Allowed {
		t.Error("on-call's rollback and everyone's view stay")
	}
	if ag.MayAnywhere(alice, Deploy, true) || !ag.MayAnywhere(kemi, Restart, false) {
		t.Error("MayAnywhere follows the agents' policy")
	}

	off, err := Parse([]byte("agents: {actions: false}\nbindings: [{groups: [portico-admins], role: admin}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	jonas := Subject{User: "jonas", Groups: []string{"portico-admins"}}
	for _, a := range Actions {
		if got := off.ForAgents().Allows(jonas, a, payment); got != (a == View) {
			t.Errorf("actions off: admin %s through an agent = %v", a, got)
		}
	}
	if _, err := Parse([]byte("agents: {roles: [nosuch]}\nbindings: [{groups: [x], role: viewer}]\n")); err == nil || !strings.Contains(err.Error(), `agents.roles[0]: unknown role "nosuch"`) {
		t.Errorf("unknown agent role: %v", err)
	}
}
