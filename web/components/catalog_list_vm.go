package components

// CatalogList is the catalog list page (also used for Systems and APIs).
type CatalogList struct {
	Heading     string
	Intro       string
	Path        string // form action, e.g. /catalog
	Query       string
	Sort        []Option
	Hidden      []Hidden // filters carried by the search form
	Facets      []Facet
	Chips       []Chip
	ClearHref   string
	Rows        []EntityRow
	Total       int
	Page, Pages int
	PrevHref    string
	NextHref    string
	// CatalogEmpty is set when the catalog holds no entity at all (as opposed to no match).
	CatalogEmpty bool
}

// EntityRow is an entity in a list.
type EntityRow struct {
	Kind        string
	Name        string
	Title       string
	Href        string
	Description string
	Owner       Link
	System      Link
	Type        string
	Lifecycle   string
	Tags        []string
	Orphan      bool
	Health      *HealthBadge // live health for components that run in a cluster
}
