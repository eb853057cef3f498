// Package policy decides who may do what to which service: roles are sets of actions,
// bindings give a role to OIDC groups or catalog teams within a scope. It is pure — no I/O —
// so every rule is table-tested; the HTTP layer asks it before anything reaches Kubernetes.
package policy

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/portico-dev/portico/internal/limits"
)

// Action is something a user can do in the portal.
type Action string

// Actions.
const (
	View     Action = "view"
	Restart  Action = "restart"
	Scale    Action = "scale"
	Deploy   Action = "deploy"
	Rollback Action = "rollback"
	// Exempt excuses a service from a scorecard check for a while (or ends that).
	Exempt Action = "exempt"
	// Cordon marks a cluster's node unschedulable, or schedulable again (uncordon). Its target
	// is a node: bindings scoped to a cluster or environment apply, "owned" ones never do.
	Cordon Action = "cordon"
)

// Actions lists every action, for validation and the UI.
var Actions = []Action{View, Restart, Scale, Deploy, Rollback, Exempt, Cordon}

// Scope limits where a binding applies. Empty fields match anything; Owned limits it to
// services owned by one of the subject's teams.
type Scope struct {
	Owned       bool   `yaml:"owned"`
	System      string `yaml:"system"`
	Namespace   string `yaml:"namespace"`
	Cluster     string `yaml:"cluster"`
	Environment string `yaml:"environment"`
}

// Binding gives Role to the subjects in Groups (OIDC group names, or catalog teams written
// as group:<name>; "*" is every signed-in user) within Scope.
type Binding struct {
	Groups []string `yaml:"groups"`
	Role   string   `yaml:"role"`
	Scope  Scope    `yaml:"scope"`
}

// Policy is the set of roles and bindings.
type Policy struct {
	Roles    map[string][]Action `yaml:"roles"`
	Bindings []Binding           `yaml:"bindings"`
	// Agents narrows what AI assistants (the MCP interface) may do on a user's behalf.
	Agents Agents `yaml:"agents"`
}

// Agents limits the actions taken through the agent interface: they act as the user, so
// never beyond the user's own roles, and can be held to less.
type Agents struct {
	// Actions turns action tools on (the default) or off; off, agents may only read.
	Actions *bool `yaml:"actions"`
	// Roles, when set, are the only roles whose actions agents may use: a user whose deploy
	// right comes from another role may deploy in the UI but not through an agent.
	Roles []string `yaml:"roles"`
}

// Subject is the signed-in user as the policy sees them.
type Subject struct {
	User   string
	Groups []string // from the identity provider
	Teams  []string // catalog groups the user belongs to, as "group:<namespace>/<name>" refs' names
}

// Target is what an action is about.
type Target struct {
	Service     string
	Owner       string // the owning catalog group's name
	System      string
	Namespace   string
	Cluster     string
	Environment string
}

// Decision says whether an action is allowed and why, in words a user can act on.
type Decision struct {
	Allowed bool
	Reason  string
}

// Default is the policy Portico starts with: every signed-in user may view; owners may
// operate and deploy their own services; the on-call rotation may operate and roll back any
// service and cordon nodes; admins may do anything.
func Default() *Policy {
	return &Policy{
		Roles: map[string][]Action{
			"viewer":   {View},
			"operator": {View, Restart, Scale},
			"deployer": {View, Restart, Scale, Deploy, Rollback},
			"oncall":   {View, Restart, Scale, Rollback, Cordon},
			"admin":    {View, Restart, Scale, Deploy, Rollback, Exempt, Cordon},
		},
		Bindings: []Binding{
			{Groups: []string{"*"}, Role: "viewer"},
			{Groups: []string{"*"}, Role: "deployer", Scope: Scope{Owned: true}},
			{Groups: []string{"sre-oncall"}, Role: "oncall"},
			{Groups: []string{"portico-admins"}, Role: "admin"},
		},
	}
}

// Parse reads a policy file: roles (name → actions) and bindings, strictly (an unknown key
// is an error), then validates it. Roles the file does not define keep their defaults, so a
// file may hold bindings only.
func Parse(data []byte) (*Policy, error) {
	if err := limits.Size("the policy file", len(data), 1<<20); err != nil {
		return nil, fmt.Errorf("invalid policy: %v", err)
	}
	var tree yaml.Node
	if err := yaml.Unmarshal(data, &tree); err == nil {
		if err := limits.YAMLDepth("the policy file", &tree, limits.MaxDepth, 100000); err != nil {
			return nil, fmt.Errorf("invalid policy: %v", err)
		}
	}
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("invalid policy: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if p.Roles == nil {
		p.Roles = map[string][]Action{}
	}
	for name, actions := range Default().Roles {
		if _, ok := p.Roles[name]; !ok {
			p.Roles[name] = actions
		}
	}
	if len(p.Bindings) == 0 {
		return nil, fmt.Errorf("invalid policy: no bindings, so nobody could do anything")
	}
	return &p, p.Validate()
}

// Validate checks that bindings name known roles and roles known actions.
func (p *Policy) Validate() error {
	var errs []string
	for name, actions := range p.Roles {
		for _, a := range actions {
			if !slices.Contains(Actions, a) {
				errs = append(errs, fmt.Sprintf("roles.%s: unknown action %q (want one of %v)", name, a, Actions))
			}
		}
	}
	for i, r := range p.Agents.Roles {
		if _, ok := p.Roles[r]; !ok {
			errs = append(errs, fmt.Sprintf("agents.roles[%d]: unknown role %q", i, r))
		}
	}
	for i, b := range p.Bindings {
		if _, ok := p.Roles[b.Role]; !ok {
			errs = append(errs, fmt.Sprintf("bindings[%d].role: unknown role %q", i, b.Role))
		}
		if len(b.Groups) == 0 {
			errs = append(errs, fmt.Sprintf("bindings[%d].groups: name at least one group (\"*\" for everyone signed in)", i))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid policy: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Decide returns whether s may do a to t, naming the binding that allows it, or why not.
func (p *Policy) Decide(s Subject, a Action, t Target) Decision {
	for _, b := range p.Bindings {
		if !slices.Contains(p.Roles[b.Role], a) || !b.Covers(s) || !b.Scope.matches(s, t) {
			continue
		}
		return Decision{Allowed: true, Reason: fmt.Sprintf("allowed by role %s (%s)", b.Role, b.describe())}
	}
	verb := string(a)
	if a == Rollback {
		verb = "roll back"
	}
	why := fmt.Sprintf("%s may not %s %s", s.User, verb, t.Service)
	if t.Owner != "" {
		why += fmt.Sprintf(": it is owned by %s, and none of your groups has a role allowing %s there", t.Owner, a)
	}
	return Decision{Allowed: false, Reason: why}
}

// Allows is Decide without the explanation, for filtering long lists.
func (p *Policy) Allows(s Subject, a Action, t Target) bool {
	for _, b := range p.Bindings {
		if slices.Contains(p.Roles[b.Role], a) && b.Covers(s) && b.Scope.matches(s, t) {
			return true
		}
	}
	return false
}

// ViewsEverything reports whether a binding without a scope lets s view, so lists need no
// per-entity check.
func (p *Policy) ViewsEverything(s Subject) bool {
	for _, b := range p.Bindings {
		if b.Scope == (Scope{}) && slices.Contains(p.Roles[b.Role], View) && b.Covers(s) {
			return true
		}
	}
	return false
}

// ViewsSomething reports whether some binding, in any scope, lets s view.
func (p *Policy) ViewsSomething(s Subject) bool {
	for _, b := range p.Bindings {
		if slices.Contains(p.Roles[b.Role], View) && b.Covers(s) {
			return true
		}
	}
	return false
}

// ForAgents is the policy as it applies to requests made through the agent interface: roles
// that agents may not use (Agents) keep only their right to view. Views are unchanged.
func (p *Policy) ForAgents() *Policy {
	off := p.Agents.Actions != nil && !*p.Agents.Actions
	if !off && len(p.Agents.Roles) == 0 {
		return p
	}
	out := &Policy{Roles: map[string][]Action{}, Bindings: p.Bindings, Agents: p.Agents}
	for name, actions := range p.Roles {
		if !off && slices.Contains(p.Agents.Roles, name) {
			out.Roles[name] = actions
			continue
		}
		if slices.Contains(actions, View) {
			out.Roles[name] = []Action{View}
		} else {
			out.Roles[name] = nil
		}
	}
	return out
}

// MayAnywhere reports whether some binding could let s do a, on some target: the bindings
// covering s whose role has a, leaving out "services your team owns" unless owns (one of
// s's teams owns a service). It decides which actions a front end offers at all; each
// attempt is still decided in full.
func (p *Policy) MayAnywhere(s Subject, a Action, owns bool) bool {
	for _, b := range p.Bindings {
		if slices.Contains(p.Roles[b.Role], a) && b.Covers(s) && (!b.Scope.Owned || owns) {
			return true
		}
	}
	return false
}

// Covers reports whether the binding names one of the subject's groups or teams.
func (b Binding) Covers(s Subject) bool {
	for _, g := range b.Groups {
		switch {
		case g == "*":
			return true
		case strings.HasPrefix(g, "group:"):
			if slices.Contains(s.Teams, strings.TrimPrefix(g, "group:")) {
				return true
			}
		case slices.Contains(s.Groups, g):
			return true
		}
	}
	return false
}

func (sc Scope) matches(s Subject, t Target) bool {
	switch {
	case sc.Owned && (t.Owner == "" || !slices.Contains(s.Teams, t.Owner)):
		return false
	case sc.System != "" && sc.System != t.System,
		sc.Namespace != "" && sc.Namespace != t.Namespace,
		sc.Cluster != "" && sc.Cluster != t.Cluster,
		sc.Environment != "" && sc.Environment != t.Environment:
		return false
	}
	return true
}

func (b Binding) describe() string {
	var parts []string
	parts = append(parts, "for "+strings.Join(b.Groups, ", "))
	if b.Scope.Owned {
		parts = append(parts, "on services your team owns")
	}
	for _, kv := range [][2]string{{"system", b.Scope.System}, {"namespace", b.Scope.Namespace}, {"cluster", b.Scope.Cluster}, {"environment", b.Scope.Environment}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}
