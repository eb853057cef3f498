package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/web/components"
)

// catalogListing says which list page is served: the whole catalog, or one kind of it.
type catalogListing struct {
	nav, heading, intro, path, kind string
}

var (
	listCatalog = catalogListing{"catalog", "Catalog", "Every service, API, system, team and resource the company runs.", "/catalog", ""}
	listSystems = catalogListing{"systems", "Systems", "Systems group the components and APIs that deliver one capability.", "/systems", "system"}
	listAPIs    = catalogListing{"apis", "APIs", "APIs the services provide and consume, with their definitions.", "/apis", "api"}
)

const facetValuesShown = 12

func (s *Server) handleCatalogList(l catalogListing) echo.HandlerFunc {
	return func(c echo.Context) error {
		v := c.QueryParams()
		q, err := parseCatalogQuery(v)
		if err != nil {
			return err
		}
		if l.kind != "" {
			q.Filters[catalog.FacetKind] = []string{l.kind}
		}
		page, err := parsePositive(v, "page", 1, 100000)
		if err != nil {
			return err
		}
		q.Limit, q.Offset = defaultPageSize, (page-1)*defaultPageSize
		snap := s.Catalog.Snapshot()
		q.Visible = s.scope(c, snap).Filter() // results, totals and facet counts of what the user may view
		res := snap.Search(q)
		vm := catalogListVM(snap, l, v, q, res, page, s.entityRowWithHealth)
		if c.Request().Header.Get("HX-Target") == "catalog-body" {
			return render(c, http.StatusOK, components.CatalogBody(vm))
		}
		return s.page(c, http.StatusOK, components.Page{Title: l.heading, Nav: l.nav, Query: ""}, components.CatalogListView(vm))
	}
}

func catalogListVM(snap *catalog.Snapshot, l catalogListing, v url.Values, q catalog.Query, res catalog.Result, page int, row func(*catalog.Record) components.EntityRow) components.CatalogList {
	vm := components.CatalogList{Heading: l.heading, Intro: l.intro, Path: l.path, Query: q.Text, Total: res.Total, Page: page,
		CatalogEmpty: snap.Len() == 0, ClearHref: l.path}
	pages := (res.Total + defaultPageSize - 1) / defaultPageSize
	vm.Pages = pages
	for _, o := range []struct{ v, label string }{{"", "Best match"}, {"name", "Name A–Z"}, {"-name", "Name Z–A"}, {"kind", "Kind"}, {"owner", "Owner"}, {"lifecycle", "Lifecycle"}, {"updated", "Recently updated"}} {
		vm.Sort = append(vm.Sort, components.Option{Value: o.v, Label: o.label, Selected: q.Sort == o.v})
	}
	for f, name := range catalog.FacetNames {
		if l.kind != "" && f == catalog.FacetKind {
			continue
		}
		for _, val := range v[name] {
			vm.Hidden = append(vm.Hidden, components.Hidden{Name: name, Value: val})
			vm.Chips = append(vm.Chips, components.Chip{Label: name + ": " + facetLabel(f, val), RemoveHref: href(l.path, toggled(v, name, val))})
		}
		facet := components.Facet{Name: name, Label: strings.ToUpper(name[:1]) + name[1:]}
		values := res.Facets[f]
		if len(v[name]) == 0 && len(values) > facetValuesShown {
			// Nothing selected here: the first values are all that is shown (a facet of a large
			// catalog can hold tens of thousands of owners).
			facet.More, values = len(values)-facetValuesShown, values[:facetValuesShown]
		}
		for i, fv := range values {
			if i >= facetValuesShown && !fv.Selected {
				facet.More++
				continue
			}
			facet.Values = append(facet.Values, components.FacetValue{Label: facetLabel(f, fv.Value), Count: fv.Count,
				Selected: fv.Selected, Href: href(l.path, toggled(v, name, fv.Value))})
		}
		vm.Facets = append(vm.Facets, facet)
	}
	for _, r := range res.Items {
		vm.Rows = append(vm.Rows, row(r))
	}
	pageHref := func(p int) string {
		nv := url.Values{}
		for k, vs := range v {
			nv[k] = vs
		}
		nv.Set("page", strconv.Itoa(p))
		return href(l.path, nv)
	}
	if page > 1 {
		vm.PrevHref = pageHref(page - 1)
	}
	if page < pages {
		vm.NextHref = pageHref(page + 1)
	}
	return vm
}

// facetLabel shortens reference values ("group:default/payments" → "payments").
func facetLabel(f int, val string) string {
	if f != catalog.FacetOwner && f != catalog.FacetSystem {
		return val
	}
	ref, err := catalog.ParseRef(val, "", catalog.DefaultNamespace)
	if err != nil {
		return val
	}
	if strings.EqualFold(ref.Namespace, catalog.DefaultNamespace) {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
}

// entityRow maps a record to a list row.
func entityRow(r *catalog.Record) components.EntityRow {
	e := r.Entity
	row := components.EntityRow{Kind: e.Kind, Name: e.Metadata.Name, Title: e.DisplayName(), Href: entityHref(e.Ref()),
		Description: e.Metadata.Description, Type: e.SpecString("type"), Lifecycle: e.SpecString("lifecycle"),
		Tags: e.Metadata.Tags, Orphan: r.Orphan()}
	for _, rel := range e.Relations {
		switch {
		case rel.Type == catalog.RelOwnedBy && row.Owner.Label == "":
			row.Owner = refLink(rel.Target)
		case rel.Type == catalog.RelPartOf && strings.EqualFold(rel.Target.Kind, catalog.KindSystem) && row.System.Label == "":
			row.System = refLink(rel.Target)
		}
	}
	return row
}

func refLink(r catalog.Ref) components.Link {
	label := r.Name
	if !strings.EqualFold(r.Namespace, catalog.DefaultNamespace) {
		label = r.Namespace + "/" + r.Name
	}
	return components.Link{Label: label, Href: entityHref(r)}
}
