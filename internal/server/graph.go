package server

import (
	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/graph"
)

// The dependency graph puts the entity in the middle, what points at it on the left
// (dependents, consumers, parts) and what it points at on the right (dependencies, APIs,
// its system), so arrows always run left to right.
var (
	graphIncoming = []string{catalog.RelDependencyOf, catalog.RelAPIConsumedBy, catalog.RelAPIProvidedBy, catalog.RelHasPart}
	graphOutgoing = []string{catalog.RelDependsOn, catalog.RelConsumesAPI, catalog.RelProvidesAPI, catalog.RelPartOf}
)

// hiddenLabel stands for an entity the user may not view, wherever one is referred to.
const hiddenLabel = "hidden"

// maxPerColumn is how many neighbours a graph shows on each side.
const maxPerColumn = graph.MaxPerColumn

type graphItem struct {
	ref   catalog.Ref
	label string // relation, as read along the arrow
}

// graphNodeSpec is a node beside the centre of a graph and the edge that joins them.
type graphNodeSpec = graph.Node

// dependencyGraph draws e's neighbours; those the user may not view are drawn as "hidden",
// without their name or a link.
func dependencyGraph(snap *catalog.Snapshot, sc *access.Scope, e *catalog.Entity) *graph.Graph {
	spec := func(items []graphItem) []graphNodeSpec {
		out := make([]graphNodeSpec, len(items))
		for i, it := range items {
			_, found := snap.Get(it.ref)
			out[i] = graphNodeSpec{Label: it.ref.Name, Kind: it.ref.Kind, Missing: !found, EdgeLabel: it.label}
			switch {
			case found && !sc.Ref(it.ref):
				out[i].Label, out[i].Hidden = hiddenLabel, true
			case found:
				out[i].Href = entityHref(it.ref)
			}
		}
		return out
	}
	left, right := spec(graphItems(e, graphIncoming)), spec(graphItems(e, graphOutgoing))
	if len(left) == 0 && len(right) == 0 {
		return nil
	}
	return graph.Layout(e.DisplayName(), e.Kind, left, right)
}

func graphItems(e *catalog.Entity, rels []string) []graphItem {
	var out []graphItem
	for _, rel := range rels {
		for _, ref := range e.RelationsOf(rel) {
			if len(out) == maxPerColumn {
				return out
			}
			out = append(out, graphItem{ref: ref, label: arrowLabels[rel]})
		}
	}
	return out
}

// arrowLabels name each relation in the direction its arrow points (left to right).
var arrowLabels = map[string]string{
	catalog.RelDependencyOf: "depends on", catalog.RelDependsOn: "depends on",
	catalog.RelAPIConsumedBy: "consumes", catalog.RelConsumesAPI: "consumes",
	catalog.RelAPIProvidedBy: "provides", catalog.RelProvidesAPI: "provides",
	catalog.RelHasPart: "part of", catalog.RelPartOf: "part of",
}
