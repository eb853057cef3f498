// Package catalog reads Backstage-format catalog files into entities, validates them, computes
// their relations and answers catalog queries from an immutable in-memory snapshot.
package catalog

import (
	"encoding/json"
	"strings"
)

// Core kinds Portico validates. Other kinds are kept with a warning.
const (
	KindComponent = "Component"
	KindAPI       = "API"
	KindResource  = "Resource"
	KindSystem    = "System"
	KindDomain    = "Domain"
	KindGroup     = "Group"
	KindUser      = "User"
	KindLocation  = "Location"
)

// Annotations Portico writes or reads.
const (
	AnnotationManagedBy     = "backstage.io/managed-by-location"
	AnnotationOrigin        = "backstage.io/managed-by-origin-location"
	AnnotationRunbook       = "portico.dev/runbook"
	AnnotationOnCall        = "portico.dev/on-call"
	AnnotationSourceLoc     = "backstage.io/source-location"
	AnnotationProjectSlug   = "github.com/project-slug"
	AnnotationGitlabSlug    = "gitlab.com/project-slug"
	AnnotationKubernetesID  = "backstage.io/kubernetes-id"
	AnnotationKubeSelector  = "backstage.io/kubernetes-label-selector"
	AnnotationKubeNamespace = "backstage.io/kubernetes-namespace"
	AnnotationPagerDuty     = "pagerduty.com/service-id"
)

// Entity is one catalog entity in Backstage's shape. Relations are computed, never read from files.
type Entity struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   Metadata       `json:"metadata"`
	Spec       map[string]any `json:"spec,omitempty"`
	Relations  []Relation     `json:"relations,omitempty"`
}

// Metadata is an entity's metadata block.
type Metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Links       []Link            `json:"links,omitempty"`
}

// Link is an entry of metadata.links.
type Link struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
	Icon  string `json:"icon,omitempty"`
	Type  string `json:"type,omitempty"`
}

// Relation is a typed edge from the entity holding it to Target.
type Relation struct {
	Type   string `json:"type"`
	Target Ref    `json:"targetRef"`
}

// Ref returns the entity's reference.
func (e *Entity) Ref() Ref {
	return Ref{Kind: e.Kind, Namespace: e.Metadata.Namespace, Name: e.Metadata.Name}
}

// SpecString returns spec[key] when it is a string.
func (e *Entity) SpecString(key string) string {
	s, _ := e.Spec[key].(string)
	return s
}

// SpecStrings returns spec[key] as strings when it is a list (or a single string).
func (e *Entity) SpecStrings(key string) []string {
	switch v := e.Spec[key].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	}
	return nil
}

// SpecMap returns spec[key] when it is a mapping.
func (e *Entity) SpecMap(key string) map[string]any {
	m, _ := e.Spec[key].(map[string]any)
	return m
}

// DisplayName is the title when set, else the name.
func (e *Entity) DisplayName() string {
	if e.Metadata.Title != "" {
		return e.Metadata.Title
	}
	if p := e.SpecMap("profile"); p != nil {
		if d, _ := p["displayName"].(string); d != "" {
			return d
		}
	}
	return e.Metadata.Name
}

// IsCoreKind reports whether kind is one of the kinds Portico validates.
func IsCoreKind(kind string) bool {
	switch strings.ToLower(kind) {
	case "component", "api", "resource", "system", "domain", "group", "user", "location":
		return true
	}
	return false
}

// RelationsOf returns the targets of the entity's relations of type t.
func (e *Entity) RelationsOf(t string) []Ref {
	var out []Ref
	for _, r := range e.Relations {
		if r.Type == t {
			out = append(out, r.Target)
		}
	}
	return out
}

// Clone returns a deep copy through JSON, so callers may change it without touching a snapshot.
func (e *Entity) Clone() *Entity {
	b, _ := json.Marshal(e)
	var c Entity
	_ = json.Unmarshal(b, &c)
	return &c
}
