package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleEntityShow(c echo.Context) error {
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	vm := s.entityVM(snap, s.scope(c, snap), rec)
	if done := c.QueryParam("done"); done != "" && vm.Observe.ScorecardURL != "" {
		vm.Observe.ScorecardURL += "?done=" + url.QueryEscape(done) // an exemption's outcome, shown in the panel
	}
	tab := orDefault(c.QueryParam("tab"), "overview")
	if !slices.ContainsFunc(vm.Tabs, func(t components.TabLink) bool { return t.Key == tab }) {
		return fmt.Errorf("%w: %s has no tab %q", derrors.NotFound, rec.Entity.Ref().Short(), tab)
	}
	vm.Tab = tab
	for i := range vm.Tabs {
		vm.Tabs[i].Active = vm.Tabs[i].Key == tab
	}
	title := vm.Title
	if tab != "overview" {
		title += " · " + tab
	}
	return s.page(c, http.StatusOK, components.Page{Title: title, Nav: "catalog"}, components.EntityView(vm))
}

// entityTabs are the tabs an entity's page has: the overview, then what applies to it.
func entityTabs(vm components.Entity, base string) []components.TabLink {
	tab := func(key, label string) components.TabLink {
		href := base
		if key != "overview" {
			href += "?tab=" + key
		}
		return components.TabLink{Key: key, Label: label, Href: href}
	}
	out := []components.TabLink{tab("overview", "Overview")}
	if vm.RuntimeURL != "" {
		out = append(out, tab("runtime", "Runtime"))
	}
	if vm.Observe.PipelinesURL != "" {
		out = append(out, tab("delivery", "Delivery"))
	}
	if vm.Observe.MetricsURL != "" || vm.Observe.TracesURL != "" {
		out = append(out, tab("observability", "Observability"))
	}
	if vm.Definition != nil || len(vm.APIs) > 0 {
		out = append(out, tab("api", "API"))
	}
	return append(out, tab("relations", "Relations"))
}

// entityVM maps an entity to its page; related entities the user may not view (sc) are left
// out of lists and shown as "hidden" in relations and the graph.
func (s *Server) entityVM(snap *catalog.Snapshot, sc *access.Scope, rec *catalog.Record) components.Entity {
	e := rec.Entity
	vm := components.Entity{Kind: e.Kind, Name: e.Metadata.Name, Namespace: e.Metadata.Namespace, Title: e.DisplayName(),
		Description: e.Metadata.Description, Lifecycle: e.SpecString("lifecycle"), Type: e.SpecString("type"),
		Tags: e.Metadata.Tags, Orphan: rec.Orphan(), Source: rec.Source + ": " + rec.File,
		JSONHref: "/api/v1/entities/" + strings.TrimPrefix(entityHref(e.Ref()), "/catalog/")}
	if rec.Orphan() {
		vm.OrphanSince = rec.OrphanedAt.UTC().Format(time.RFC1123)
	}
	vm.About = aboutFields(sc, e)
	books := s.entityRunbooks(snap, rec)
	addRunbook := func(label, p string) {
		href := runbookHref(books[p].Path)
		if !slices.ContainsFunc(vm.Runbooks, func(l components.Link) bool { return l.Href == href }) {
			vm.Runbooks = append(vm.Runbooks, components.Link{Label: label, Href: href})
		}
	}
	for _, l := range e.Metadata.Links {
		if books[l.URL] != nil && (l.Type == "runbook" || l.Type == "playbook") {
			addRunbook(orDefault(l.Title, books[l.URL].Title), l.URL)
			continue
		}
		link := components.ExternalLink{Title: orDefault(l.Title, l.URL), URL: l.URL, Type: l.Type}
		if !catalog.LinkURL(l.URL) {
			link.URL, link.Text = "", l.URL // catalog data, not markup: shown as text
		}
		vm.Links = append(vm.Links, link)
	}
	if p := e.Runbook(); books[p] != nil {
		addRunbook(books[p].Title, p)
	}
	for _, k := range sortedMapKeys(e.Metadata.Annotations) {
		vm.Annotations = append(vm.Annotations, annotationField(k, e.Metadata.Annotations[k]))
	}
	for _, k := range sortedMapKeys(e.Metadata.Labels) {
		vm.Labels = append(vm.Labels, components.Field{Label: k, Value: e.Metadata.Labels[k]})
	}
	vm.Relations = relationGroups(snap, sc, e)
	if _, mapped, _ := cluster.QueryFor(e.Metadata.Annotations); mapped || strings.EqualFold(e.Kind, catalog.KindComponent) {
		vm.RuntimeURL = entityHref(e.Ref()) + "/runtime"
		vm.NetworkURL = entityHref(e.Ref()) + "/network"
		vm.AutoscalingURL = entityHref(e.Ref()) + "/autoscaling"
		vm.MeshURL = entityHref(e.Ref()) + "/mesh"
	}
	vm.Observe = s.observeVM(e)
	switch strings.ToLower(e.Kind) {
	case "component", "api", "resource", "system":
		vm.Graph = dependencyGraph(snap, sc, e)
	}
	if strings.EqualFold(e.Kind, catalog.KindAPI) {
		def := e.SpecString("definition")
		vm.Definition = &components.Definition{Type: e.SpecString("type"), Text: def, Lines: strings.Count(def, "\n") + 1}
	}
	if strings.EqualFold(e.Kind, catalog.KindGroup) {
		for _, m := range snap.Related(e, catalog.RelHasMember) {
			vm.Members = append(vm.Members, person(m.Entity))
		}
	}
	for _, o := range snap.Related(e, catalog.RelOwnerOf) {
		if sc.Record(o) {
			vm.Owned = append(vm.Owned, s.entityRowWithHealth(o))
		}
	}
	for _, p := range snap.Related(e, catalog.RelHasPart) {
		if sc.Record(p) {
			vm.Children = append(vm.Children, s.entityRowWithHealth(p))
		}
	}
	for _, g := range vm.Relations {
		switch g.Type {
		case catalog.RelProvidesAPI, catalog.RelConsumesAPI, catalog.RelAPIProvidedBy, catalog.RelAPIConsumedBy:
			vm.APIs = append(vm.APIs, g)
		}
	}
	if refs := e.OnCall(); len(refs) > 0 {
		names := make([]string, len(refs))
		for i, r := range refs {
			names[i] = r.Short()
		}
		vm.About = append(vm.About, components.Field{Label: "On call", Value: strings.Join(names, ", "), Href: entityHref(refs[0])})
	}
	vm.Tabs = entityTabs(vm, entityHref(e.Ref()))
	key := e.Ref().String()
	for _, p := range snap.Problems() {
		if p.Entity == key || (p.Source == rec.Source && p.File == rec.File && p.Severity == catalog.SeverityError) {
			vm.Problems = append(vm.Problems, problemRow(snap, p))
		}
	}
	return vm
}

func aboutFields(sc *access.Scope, e *catalog.Entity) []components.Field {
	var out []components.Field
	add := func(label, value, href string) {
		if value != "" {
			out = append(out, components.Field{Label: label, Value: value, Href: href})
		}
	}
	for _, rel := range e.Relations {
		switch rel.Type {
		case catalog.RelOwnedBy:
			l := refLink(rel.Target)
			add("Owner", l.Label, l.Href)
		case catalog.RelPartOf:
			l := refLink(rel.Target)
			if !sc.Ref(rel.Target) {
				l = components.Link{Label: hiddenLabel}
			}
			add(rel.Target.Kind, l.Label, l.Href)
		}
	}
	add("Type", e.SpecString("type"), "")
	add("Lifecycle", e.SpecString("lifecycle"), "")
	if p := e.SpecMap("profile"); p != nil {
		if m, _ := p["email"].(string); m != "" {
			add("Email", m, "mailto:"+m)
		}
	}
	add("Namespace", e.Metadata.Namespace, "")
	add("API version", e.APIVersion, "")
	return out
}

// annotationField links the annotations that name something browsable.
func annotationField(k, v string) components.Field {
	f := components.Field{Label: k, Value: v}
	switch k {
	case catalog.AnnotationProjectSlug:
		f.Href = "https://github.com/" + v
	case catalog.AnnotationGitlabSlug:
		f.Href = "https://gitlab.com/" + v
	case catalog.AnnotationSourceLoc:
		if u, ok := strings.CutPrefix(v, "url:"); ok && strings.HasPrefix(u, "https://") {
			f.Href = u
		}
	}
	return f
}

func relationGroups(snap *catalog.Snapshot, sc *access.Scope, e *catalog.Entity) []components.RelationGroup {
	var out []components.RelationGroup
	for _, rel := range e.Relations {
		l := refLink(rel.Target)
		l.Label = strings.ToLower(rel.Target.Kind) + ":" + l.Label
		_, ok := snap.Get(rel.Target)
		switch {
		case !ok:
			l.Href = "" // not in the catalog: plain text, with the warning on Catalog health
			l.Label += " (missing)"
		case !sc.Ref(rel.Target):
			l = components.Link{Label: strings.ToLower(rel.Target.Kind) + ":" + hiddenLabel}
		}
		if n := len(out); n > 0 && out[n-1].Type == rel.Type {
			out[n-1].Targets = append(out[n-1].Targets, l)
			continue
		}
		out = append(out, components.RelationGroup{Type: rel.Type, Targets: []components.Link{l}})
	}
	return out
}

func person(e *catalog.Entity) components.Person {
	p := components.Person{Name: e.DisplayName(), Href: entityHref(e.Ref())}
	if prof := e.SpecMap("profile"); prof != nil {
		p.Email, _ = prof["email"].(string)
	}
	for _, w := range strings.FieldsFunc(p.Name, func(r rune) bool { return r == ' ' || r == '.' || r == '-' }) {
		if len(p.Initials) < 2 {
			p.Initials += strings.ToUpper(w[:1])
		}
	}
	return p
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
