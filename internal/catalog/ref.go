package catalog

import (
	"fmt"
	"strings"
)

// Ref identifies an entity: kind, namespace and name, compared case-insensitively.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// DefaultNamespace is the namespace of entities that name none.
const DefaultNamespace = "default"

// Key is the canonical, lower-case form "kind:namespace/name" used for identity and lookups.
func (r Ref) Key() string {
	return strings.ToLower(r.Kind) + ":" + strings.ToLower(r.Namespace) + "/" + strings.ToLower(r.Name)
}

// String is the full form "kind:namespace/name" with the original case of each part.
func (r Ref) String() string {
	return strings.ToLower(r.Kind) + ":" + r.Namespace + "/" + r.Name
}

// Short omits the default namespace: "group:payments" or "group:ops/payments".
func (r Ref) Short() string {
	if strings.EqualFold(r.Namespace, DefaultNamespace) {
		return strings.ToLower(r.Kind) + ":" + r.Name
	}
	return r.String()
}

// MarshalText lets a Ref appear as "kind:namespace/name" in JSON.
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses the full form written by MarshalText.
func (r *Ref) UnmarshalText(b []byte) error {
	p, err := ParseRef(string(b), "", DefaultNamespace)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// ParseRef parses "[kind:][namespace/]name", filling kind and namespace from the defaults.
// An empty defaultKind means the reference must name its kind.
func ParseRef(s, defaultKind, defaultNamespace string) (Ref, error) {
	s = strings.TrimSpace(s)
	var r Ref
	if i := strings.Index(s, ":"); i >= 0 {
		r.Kind, s = s[:i], s[i+1:]
	}
	if i := strings.Index(s, "/"); i >= 0 {
		r.Namespace, s = s[:i], s[i+1:]
	}
	r.Name = s
	if r.Kind == "" {
		r.Kind = defaultKind
	}
	if r.Namespace == "" {
		r.Namespace = defaultNamespace
	}
	switch {
	case r.Name == "":
		return Ref{}, fmt.Errorf("entity reference %q has no name", s)
	case r.Kind == "":
		return Ref{}, fmt.Errorf("entity reference %q has no kind (write it as component:%s or similar)", s, s)
	case r.Namespace == "":
		r.Namespace = DefaultNamespace
	}
	return r, nil
}

// parseRefValue accepts a reference as a string or as a compound {kind, namespace, name}.
func parseRefValue(v any, defaultKind, defaultNamespace string) (Ref, error) {
	switch x := v.(type) {
	case string:
		return ParseRef(x, defaultKind, defaultNamespace)
	case map[string]any:
		kind, _ := x["kind"].(string)
		ns, _ := x["namespace"].(string)
		name, _ := x["name"].(string)
		if kind == "" {
			kind = defaultKind
		}
		if ns == "" {
			ns = defaultNamespace
		}
		if name == "" || kind == "" {
			return Ref{}, fmt.Errorf("compound entity reference needs kind and name")
		}
		return Ref{Kind: kind, Namespace: ns, Name: name}, nil
	}
	return Ref{}, fmt.Errorf("entity reference must be a string or {kind, namespace, name}, got %T", v)
}
