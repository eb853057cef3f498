package components

import (
	"github.com/portico-dev/portico/internal/graph"
)

// Entity is an entity page.
type Entity struct {
	Kind           string
	Name           string
	Namespace      string
	Title          string
	Description    string
	Lifecycle      string
	Type           string
	Orphan         bool
	OrphanSince    string
	About          []Field
	Tags           []string
	Links          []ExternalLink
	Runbooks       []Link
	Annotations    []Field
	Labels         []Field
	Relations      []RelationGroup
	Graph          *Graph
	Definition     *Definition
	Members        []Person
	Owned          []EntityRow
	Children       []EntityRow // hasPart: a system's components, a domain's systems
	Source         string
	JSONHref       string
	Problems       []ProblemRow
	RuntimeURL     string // the live runtime panel, for components that run somewhere
	NetworkURL     string // the network reach panel, beside it
	AutoscalingURL string // the autoscaling panel, beside it
	MeshURL        string // the traffic (mesh) panel, beside it
	Observe        Observe
	APIs           []RelationGroup // the APIs a component provides and consumes
	Tab            string          // overview, runtime, delivery, observability, api, relations
	Tabs           []TabLink
}

// TabLink is one of an entity page's tabs, each with its own address.
type TabLink struct {
	Key, Label, Href string
	Active           bool
}

// Definition is an API's definition text.
type Definition struct {
	Type     string
	Text     string
	Lines    int
	Language string
}

// The graph view models are internal/graph's layout, drawn as SVG here.
type (
	Graph     = graph.Graph
	GraphNode = graph.Box
	GraphEdge = graph.Edge
)
