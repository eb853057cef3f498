package graph

import (
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	g := Layout("Payment Service", "Component",
		[]Node{{Label: "gateway", Kind: "Component", Href: "/g", EdgeLabel: "depends on"}, {Label: "hidden", Kind: "Component", Hidden: true}},
		[]Node{{Label: "a-name-far-too-long-for-its-box", Kind: "Resource", Missing: true, EdgeClass: "unused"}})
	if len(g.Nodes) != 4 || len(g.Edges) != 3 || !g.Nodes[0].Focus {
		t.Fatalf("nodes %d edges %d focus %v", len(g.Nodes), len(g.Edges), g.Nodes[0].Focus)
	}
	left, hidden, right := g.Nodes[1], g.Nodes[2], g.Nodes[3]
	if left.X >= g.Nodes[0].X || right.X <= g.Nodes[0].X {
		t.Errorf("incoming nodes must be left of the centre and outgoing right: %d %d %d", left.X, g.Nodes[0].X, right.X)
	}
	if !hidden.Hidden || hidden.Href != "" {
		t.Errorf("hidden node: %+v", hidden)
	}
	if !strings.HasSuffix(right.Label, "…") || len([]rune(right.Label)) > 22 || !right.Missing || g.Edges[2].Class != "unused" {
		t.Errorf("right node: %+v, edge %+v", right, g.Edges[2])
	}
	if g.Edges[0].Label != "depends on" || !strings.HasPrefix(g.Edges[0].Path, "M ") {
		t.Errorf("edge: %+v", g.Edges[0])
	}
}
