// Package graph lays out the portal's small dependency graphs — an entity in the middle, what
// points at it on the left, what it points at on the right — as boxes and curved edges in SVG
// units. Pure: no I/O, no HTML; web/components draws the result.
package graph

import (
	"fmt"
	"strings"
)

const (
	nodeW, nodeH, rowGap, colGap, pad = 190, 40, 14, 150, 10
	// MaxPerColumn is how many nodes a side shows.
	MaxPerColumn = 14
)

// Node is a node beside the centre and the edge that joins it to the centre.
type Node struct {
	Label, Kind, Href string
	Missing           bool // not in the catalog
	Hidden            bool // an entity the user may not view: no name, no link
	EdgeLabel         string
	EdgeClass         string // e.g. undeclared, unused
}

// Graph is a laid-out graph.
type Graph struct {
	Width, Height int
	Nodes         []Box
	Edges         []Edge
}

// Box is a node as drawn.
type Box struct {
	X, Y, W, H int
	Label      string
	Kind       string
	Href       string
	Focus      bool
	Missing    bool
	Hidden     bool
}

// Edge is an arrow with a label near its outer end.
type Edge struct {
	Path   string
	LabelX int
	LabelY int
	Label  string
	Class  string // undeclared, unused: how an observed call compares with the catalog
}

// Layout puts a node in the middle, left's nodes pointing at it and right's pointed at,
// so arrows always run left to right.
func Layout(centre, centreKind string, left, right []Node) *Graph {
	rows := max(len(left), len(right), 1)
	g := &Graph{Width: 3*nodeW + 2*colGap + 2*pad, Height: rows*(nodeH+rowGap) - rowGap + 2*pad}
	column := func(i int) int { return pad + i*(nodeW+colGap) }
	top := func(n, i int) int { // centre a column of n nodes vertically
		return pad + (g.Height-2*pad-(n*(nodeH+rowGap)-rowGap))/2 + i*(nodeH+rowGap)
	}
	cx, cy := column(1), top(1, 0)
	g.Nodes = append(g.Nodes, Box{X: cx, Y: cy, W: nodeW, H: nodeH, Label: clip(centre), Kind: centreKind, Focus: true})
	place := func(items []Node, col int, incoming bool) {
		for i, it := range items {
			x, y := column(col), top(len(items), i)
			g.Nodes = append(g.Nodes, Box{X: x, Y: y, W: nodeW, H: nodeH, Label: clip(it.Label), Kind: it.Kind, Missing: it.Missing, Hidden: it.Hidden, Href: it.Href})
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
			g.Edges = append(g.Edges, Edge{
				Path:   fmt.Sprintf("M %d %d C %d %d, %d %d, %d %d", x1, y1, mid, y1, mid, y2, x2-2, y2),
				LabelX: lx, LabelY: ly, Label: it.EdgeLabel, Class: it.EdgeClass,
			})
		}
	}
	place(left, 0, true)
	place(right, 2, false)
	return g
}

func clip(s string) string {
	if r := []rune(s); len(r) > 22 {
		return strings.TrimSpace(string(r[:21])) + "…"
	}
	return s
}
