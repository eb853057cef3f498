package server

import (
	"fmt"
	"strings"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/web/components"
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

const (
	nodeW, nodeH, rowGap, colGap, pad = 190, 40, 14, 150, 10
	maxPerColumn                      = 14
)

type graphItem struct {
	ref   catalog.Ref
	label string // relation, as read along the arrow
}

// graphNodeSpec is a node beside the centre of a graph and the edge that joins them.
type graphNodeSpec struct {
	label, kind, href string
	missing, hidden   bool
	edgeLabel         string
	edgeClass         string // e.g. undeclared, unused
}

// dependencyGraph draws e's neighbours; those the user may not view are drawn as "hidden",
// without their name or a link.
func dependencyGraph(snap *catalog.Snapshot, sc *access.Scope, e *catalog.Entity) *components.Graph {
	spec := func(items []graphItem) []graphNodeSpec {
		out := make([]graphNodeSpec, len(items))
		for i, it := range items {
			_, found := snap.Get(it.ref)
			out[i] = graphNodeSpec{label: it.ref.Name, kind: it.ref.Kind, missing: !found, edgeLabel: it.label}
			switch {
			case found && !sc.Ref(it.ref):
				out[i].label, out[i].hidden = hiddenLabel, true
			case found:
				out[i].href = entityHref(it.ref)
			}
		}
		return out
	}
	left, right := spec(graphItems(e, graphIncoming)), spec(graphItems(e, graphOutgoing))
	if len(left) == 0 && len(right) == 0 {
		return nil
	}
	return layoutGraph(e.DisplayName(), e.Kind, left, right)
}

// layoutGraph puts a node in the middle, left's nodes pointing at it and right's pointed at,
// so arrows always run left to right.
func layoutGraph(centre, centreKind string, left, right []graphNodeSpec) *components.Graph {
	rows := max(len(left), len(right), 1)
	g := &components.Graph{Width: 3*nodeW + 2*colGap + 2*pad, Height: rows*(nodeH+rowGap) - rowGap + 2*pad}
	column := func(i int) int { return pad + i*(nodeW+colGap) }
	top := func(n, i int) int { // centre a column of n nodes vertically
		return pad + (g.Height-2*pad-(n*(nodeH+rowGap)-rowGap))/2 + i*(nodeH+rowGap)
	}
	cx, cy := column(1), top(1, 0)
	g.Nodes = append(g.Nodes, components.GraphNode{X: cx, Y: cy, W: nodeW, H: nodeH, Label: clip(centre), Kind: centreKind, Focus: true})
	place := func(items []graphNodeSpec, col int, incoming bool) {
		for i, it := range items {
			x, y := column(col), top(len(items), i)
			g.Nodes = append(g.Nodes, components.GraphNode{X: x, Y: y, W: nodeW, H: nodeH, Label: clip(it.label), Kind: it.kind, Missing: it.missing, Hidden: it.hidden, Href: it.href})
			x1, y1, x2, y2 := x+nodeW, y+nodeH/2, cx, cy+nodeH/2
			if !incoming {
				x1, y1, x2, y2 = cx+nodeW, cy+nodeH/2, x, y+nodeH/2
			}
			mid := (x1 + x2) / 2
			// The label sits on the straight part next to the outer node, where edges do not crowd.
			lx, ly := x2-colGap/3, y2-5
			if incoming {
				lx, ly = x1+colGap/3, y1-5
			}
			g.Edges = append(g.Edges, components.GraphEdge{
				Path:   fmt.Sprintf("M %d %d C %d %d, %d %d, %d %d", x1, y1, mid, y1, mid, y2, x2-2, y2),
				LabelX: lx, LabelY: ly, Label: it.edgeLabel, Class: it.edgeClass,
			})
		}
	}
	place(left, 0, true)
	place(right, 2, false)
	return g
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

func clip(s string) string {
	if r := []rune(s); len(r) > 22 {
		return strings.TrimSpace(string(r[:21])) + "…"
	}
	return s
}
