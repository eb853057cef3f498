package catalog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The rules Backstage applies, so a file Backstage accepts is accepted here and vice versa.
var (
	nameRE       = regexp.MustCompile(`^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$`)
	namespaceRE  = regexp.MustCompile(`^[a-z0-9]+(-+[a-z0-9]+)*$`)
	kindRE       = regexp.MustCompile(`^[a-zA-Z][a-z0-9A-Z]*$`)
	apiVersionRE = regexp.MustCompile(`^([a-z0-9]+(-+[a-z0-9]+)*(\.[a-z0-9]+(-+[a-z0-9]+)*)*/)?[a-z0-9A-Z]+$`)
	dnsSubRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelNameRE  = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	tagRE        = regexp.MustCompile(`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`)
)

// specRule lists, per core kind, the required string fields and the optional ones by type.
type specRule struct {
	requiredStrings []string
	requiredLists   []string
	optionalStrings []string
	optionalLists   []string
}

var specRules = map[string]specRule{
	"component": {requiredStrings: []string{"type", "lifecycle", "owner"},
		optionalStrings: []string{"system", "subcomponentOf"},
		optionalLists:   []string{"providesApis", "consumesApis", "dependsOn", "dependencyOf"}},
	"api": {requiredStrings: []string{"type", "lifecycle", "owner", "definition"},
		optionalStrings: []string{"system"}},
	"resource": {requiredStrings: []string{"type", "owner"},
		optionalStrings: []string{"system"}, optionalLists: []string{"dependsOn", "dependencyOf"}},
	"system": {requiredStrings: []string{"owner"}, optionalStrings: []string{"domain", "type"}},
	"domain": {requiredStrings: []string{"owner"}, optionalStrings: []string{"subdomainOf", "type"}},
	"group": {requiredStrings: []string{"type"}, requiredLists: []string{"children"},
		optionalStrings: []string{"parent"}, optionalLists: []string{"members"}},
	"user":     {requiredLists: []string{"memberOf"}},
	"location": {optionalStrings: []string{"type", "target", "presence"}, optionalLists: []string{"targets"}},
}

func isCoreAPIVersion(v string) bool {
	return v == "backstage.io/v1alpha1" || v == "backstage.io/v1beta1"
}

// validateDocument checks a document against the envelope, metadata and kind rules and returns
// the entity, even when invalid, so callers can name it in messages.
func validateDocument(d *document) (*Entity, []Problem) {
	v := d.value
	var ps []Problem
	ref := refHint(v)
	bad := func(msg string, path ...string) {
		ps = append(ps, d.problem(SeverityError, ref, msg, path...))
	}
	apiVersion, ok := v["apiVersion"].(string)
	switch {
	case !ok || apiVersion == "":
		bad("apiVersion is required and must be a string", "apiVersion")
	case !apiVersionRE.MatchString(apiVersion):
		bad(fmt.Sprintf("apiVersion %q is not valid; expected e.g. backstage.io/v1alpha1", apiVersion), "apiVersion")
	}
	kind, ok := v["kind"].(string)
	switch {
	case !ok || kind == "":
		bad("kind is required and must be a string", "kind")
	case len(kind) > 63 || !kindRE.MatchString(kind):
		bad(fmt.Sprintf("kind %q is not valid; expected letters and digits starting with a letter", kind), "kind")
	}
	meta, ok := v["metadata"].(map[string]any)
	if !ok {
		bad("metadata is required and must be a mapping", "metadata")
		return nil, ps
	}
	ps = append(ps, validateMetadata(d, ref, meta)...)
	if spec, present := v["spec"]; present {
		if _, ok := spec.(map[string]any); !ok && spec != nil {
			bad("spec must be a mapping", "spec")
		}
	}
	if HasErrors(ps) {
		return nil, ps
	}
	e, err := toEntity(v)
	if err != nil {
		bad(err.Error())
		return nil, ps
	}
	rule, core := specRules[strings.ToLower(e.Kind)]
	if !core || !isCoreAPIVersion(e.APIVersion) {
		ps = append(ps, d.problem(SeverityWarning, ref, fmt.Sprintf(
			"%s %s is not a kind Portico knows; it is kept and listed, but its spec is not checked", e.APIVersion, e.Kind), "kind"))
		return e, ps
	}
	ps = append(ps, validateSpec(d, ref, e, rule)...)
	if HasErrors(ps) {
		return nil, ps
	}
	return e, ps
}

func validateMetadata(d *document, ref string, meta map[string]any) []Problem {
	var ps []Problem
	bad := func(msg string, path ...string) {
		ps = append(ps, d.problem(SeverityError, ref, msg, append([]string{"metadata"}, path...)...))
	}
	name, ok := meta["name"].(string)
	switch {
	case !ok || name == "":
		bad("metadata.name is required and must be a string", "name")
	case len(name) > 63 || !nameRE.MatchString(name):
		bad(fmt.Sprintf("metadata.name %q is not valid; expected a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total", name), "name")
	}
	if ns, present := meta["namespace"]; present {
		s, ok := ns.(string)
		if !ok || len(s) > 63 || !namespaceRE.MatchString(s) {
			bad(fmt.Sprintf("metadata.namespace %v is not valid; expected lower-case letters, digits and dashes, at most 63 characters", ns), "namespace")
		}
	}
	for _, f := range []string{"title", "description"} {
		if x, present := meta[f]; present {
			if _, ok := x.(string); !ok {
				bad(fmt.Sprintf("metadata.%s must be a string", f), f)
			}
		}
	}
	ps = append(ps, validateKeyValues(d, ref, meta, "labels", true)...)
	ps = append(ps, validateKeyValues(d, ref, meta, "annotations", false)...)
	if tags, present := meta["tags"]; present {
		list, ok := tags.([]any)
		if !ok {
			bad("metadata.tags must be a list of strings", "tags")
		}
		for i, t := range list {
			s, ok := t.(string)
			if !ok || len(s) > 63 || !tagRE.MatchString(s) {
				bad(fmt.Sprintf("metadata.tags[%d] %q is not valid; expected sequences of [a-z0-9:+#] separated by [-], at most 63 characters", i, fmt.Sprint(t)), "tags", strconv.Itoa(i))
			}
		}
	}
	if links, present := meta["links"]; present {
		list, ok := links.([]any)
		if !ok {
			bad("metadata.links must be a list", "links")
		}
		for i, l := range list {
			m, ok := l.(map[string]any)
			u, _ := m["url"].(string)
			switch {
			case !ok || u == "":
				bad(fmt.Sprintf("metadata.links[%d] needs a url", i), "links", strconv.Itoa(i))
			case !LinkURL(u):
				// Backstage accepts any string here, so this is a warning: the portal shows it as text.
				ps = append(ps, d.problem(SeverityWarning, ref, fmt.Sprintf("metadata.links[%d].url %q is not an http, https or mailto address nor a relative path: it is shown as text, not as a link", i, clipText(u, 60)),
					"metadata", "links", strconv.Itoa(i), "url"))
			}
		}
	}
	return ps
}

func validateKeyValues(d *document, ref string, meta map[string]any, field string, checkValues bool) []Problem {
	raw, present := meta[field]
	if !present || raw == nil {
		return nil
	}
	var ps []Problem
	m, ok := raw.(map[string]any)
	if !ok {
		return []Problem{d.problem(SeverityError, ref, fmt.Sprintf("metadata.%s must be a mapping of strings", field), "metadata", field)}
	}
	for k, val := range m {
		path := []string{"metadata", field, k}
		if !validQualifiedKey(k) {
			ps = append(ps, d.problem(SeverityError, ref, fmt.Sprintf("metadata.%s key %q is not valid; expected an optional DNS prefix and '/', then a name of at most 63 characters", field, k), path...))
		}
		s, ok := val.(string)
		if !ok {
			ps = append(ps, d.problem(SeverityError, ref, fmt.Sprintf("metadata.%s[%s] must be a string (quote it), got %v", field, k, val), path...))
			continue
		}
		if checkValues && s != "" && (len(s) > 63 || !labelNameRE.MatchString(s)) {
			ps = append(ps, d.problem(SeverityError, ref, fmt.Sprintf("metadata.labels[%s] value %q is not valid", k, s), path...))
		}
	}
	return ps
}

func validQualifiedKey(k string) bool {
	name := k
	if i := strings.LastIndex(k, "/"); i >= 0 {
		prefix := k[:i]
		name = k[i+1:]
		if prefix == "" || len(prefix) > 253 || !dnsSubRE.MatchString(prefix) {
			return false
		}
	}
	return name != "" && len(name) <= 63 && labelNameRE.MatchString(name)
}

func validateSpec(d *document, ref string, e *Entity, rule specRule) []Problem {
	var ps []Problem
	kind := e.Kind
	bad := func(msg string, path ...string) {
		ps = append(ps, d.problem(SeverityError, ref, msg, append([]string{"spec"}, path...)...))
	}
	if e.Spec == nil && strings.ToLower(kind) != "location" {
		bad(fmt.Sprintf("spec is required for kind %s", kind))
		return ps
	}
	for _, f := range rule.requiredStrings {
		if s, ok := e.Spec[f].(string); (!ok || s == "") && !d.unresolved["spec."+f] {
			if _, present := e.Spec[f]; present {
				bad(fmt.Sprintf("spec.%s must be a non-empty string", f), f)
			} else {
				bad(fmt.Sprintf("spec must have required property '%s' (kind %s)", f, kind), f)
			}
		}
	}
	for _, f := range rule.requiredLists {
		if _, present := e.Spec[f]; !present {
			bad(fmt.Sprintf("spec must have required property '%s' (kind %s; it may be an empty list)", f, kind), f)
		}
	}
	for _, f := range rule.optionalStrings {
		if x, present := e.Spec[f]; present && x != nil {
			if s, ok := x.(string); !ok || s == "" {
				bad(fmt.Sprintf("spec.%s must be a non-empty string", f), f)
			}
		}
	}
	for _, f := range append(append([]string{}, rule.requiredLists...), rule.optionalLists...) {
		x, present := e.Spec[f]
		if !present || x == nil {
			continue
		}
		list, ok := x.([]any)
		if !ok {
			bad(fmt.Sprintf("spec.%s must be a list", f), f)
			continue
		}
		for i, item := range list {
			if s, ok := item.(string); ok && s == "" {
				bad(fmt.Sprintf("spec.%s[%d] must not be empty", f, i), f, strconv.Itoa(i))
			} else if _, isMap := item.(map[string]any); !ok && !isMap {
				bad(fmt.Sprintf("spec.%s[%d] must be an entity reference", f, i), f, strconv.Itoa(i))
			}
		}
	}
	if strings.EqualFold(kind, KindLocation) {
		if e.SpecString("target") == "" && len(e.SpecStrings("targets")) == 0 {
			bad("a Location needs spec.target or spec.targets")
		}
		if p := e.SpecString("presence"); p != "" && p != "required" && p != "optional" {
			bad("spec.presence must be required or optional", "presence")
		}
	}
	// References must parse, so relations can be built; their targets need not exist.
	for _, f := range refFields {
		if !strings.EqualFold(f.kind, kind) {
			continue
		}
		for i, raw := range refValues(e.Spec[f.field]) {
			if _, err := parseRefValue(raw, f.defaultKind, e.Metadata.Namespace); err != nil {
				bad(fmt.Sprintf("spec.%s: %v", f.field, err), f.field, strconv.Itoa(i))
			}
		}
	}
	return ps
}

// toEntity converts a validated document into an Entity, defaulting the namespace.
func toEntity(v map[string]any) (*Entity, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("entity cannot be represented as JSON: %v", err)
	}
	var e Entity
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("entity has a field of the wrong type: %v", err)
	}
	e.Relations = nil // output only: never trusted from a file
	if e.Metadata.Namespace == "" {
		e.Metadata.Namespace = DefaultNamespace
	}
	return &e, nil
}

// refHint names a document's entity for messages even when it is invalid.
func refHint(v map[string]any) string {
	kind, _ := v["kind"].(string)
	meta, _ := v["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if kind == "" || name == "" {
		return ""
	}
	if ns == "" {
		ns = DefaultNamespace
	}
	return Ref{Kind: kind, Namespace: ns, Name: name}.String()
}
