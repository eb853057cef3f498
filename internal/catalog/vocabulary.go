package catalog

import (
	"slices"
	"strings"
	"time"
)

// ProjectSlugs are the repository slugs (owner/repo, group/project) an entity's CI runs are
// reported under: its github.com/project-slug and gitlab.com/project-slug annotations.
func (e *Entity) ProjectSlugs() []string {
	var out []string
	for _, k := range []string{AnnotationProjectSlug, AnnotationGitlabSlug} {
		if v := strings.TrimSpace(e.Metadata.Annotations[k]); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Annotations the portal reads beyond Backstage's core ones.
const (
	AnnotationPromLabels     = "prometheus.io/labels"      // label matchers of the service's series, e.g. service=maps
	AnnotationPromRule       = "prometheus.io/rule"        // extra chart queries: query|grouping,…
	AnnotationPromAlert      = "prometheus.io/alert"       // the service's alert names
	AnnotationJaegerService  = "jaegertracing.io/service"  // the service's name in Jaeger
	AnnotationJaegerLookback = "jaegertracing.io/lookback" // how far back to search traces
	AnnotationOIDCGroup      = "portico.dev/oidc-group"    // on a Group: the provider group of another name
	defaultJaegerLookback    = time.Hour
)

// ServiceName is how metrics, alerts and traces name the service: its Kubernetes ID, else
// its name.
func (e *Entity) ServiceName() string {
	if id := e.Metadata.Annotations[AnnotationKubernetesID]; id != "" {
		return id
	}
	return e.Metadata.Name
}

// JaegerService is the entity's service name in Jaeger and how far back to search its traces.
func (e *Entity) JaegerService() (string, time.Duration) {
	name := e.Metadata.Annotations[AnnotationJaegerService]
	if name == "" {
		name = e.ServiceName()
	}
	lb, err := time.ParseDuration(e.Metadata.Annotations[AnnotationJaegerLookback])
	if err != nil || lb <= 0 {
		lb = defaultJaegerLookback
	}
	return name, lb
}

// Prometheus is what the entity's annotations say about its series: label matchers, extra
// chart rules and alert names, as written (internal/metrics and internal/alerts parse them).
type Prometheus struct {
	Labels, Rules, Alerts string
}

// Prometheus returns the entity's Prometheus annotations.
func (e *Entity) Prometheus() Prometheus {
	a := e.Metadata.Annotations
	return Prometheus{Labels: a[AnnotationPromLabels], Rules: a[AnnotationPromRule], Alerts: a[AnnotationPromAlert]}
}

// KubernetesNamespace is the namespace the entity's workloads run in, when it says so.
func (e *Entity) KubernetesNamespace() string { return e.Metadata.Annotations[AnnotationKubeNamespace] }

// Runbook is the path of the entity's runbook annotation (portico.dev/runbook), if any.
func (e *Entity) Runbook() string { return e.Metadata.Annotations[AnnotationRunbook] }

// OnCall are the groups paged for the entity (portico.dev/on-call: group refs, comma
// separated); none when it does not say.
func (e *Entity) OnCall() []Ref {
	var out []Ref
	for _, f := range strings.Split(e.Metadata.Annotations[AnnotationOnCall], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if r, err := ParseRef(f, KindGroup, e.Metadata.Namespace); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// OIDCGroup is, on a Group, the identity provider's group of another name that it stands for.
func (e *Entity) OIDCGroup() string { return e.Metadata.Annotations[AnnotationOIDCGroup] }

// TeamsOf returns the Groups a person belongs to: those named like one of their identity
// provider groups (or annotated portico.dev/oidc-group with it), and those listing the
// person's catalog User — by name (the subject) or profile e-mail — as a member.
func (s *Snapshot) TeamsOf(subject, email string, groups []string) []*Record {
	var out []*Record
	for _, r := range s.records {
		e := r.Entity
		if !strings.EqualFold(e.Kind, KindGroup) {
			continue
		}
		match := slices.ContainsFunc(groups, func(g string) bool {
			return strings.EqualFold(g, e.Metadata.Name) || strings.EqualFold(g, e.OIDCGroup())
		})
		for _, m := range s.Related(e, RelHasMember) {
			if m.Entity.isPerson(subject, email) {
				match = true
			}
		}
		if match {
			out = append(out, r)
		}
	}
	return out
}

// isPerson reports whether a User entity is the person with this subject or e-mail.
func (e *Entity) isPerson(subject, email string) bool {
	if strings.EqualFold(e.Metadata.Name, subject) {
		return true
	}
	mail, _ := e.SpecMap("profile")["email"].(string)
	return email != "" && strings.EqualFold(mail, email)
}
