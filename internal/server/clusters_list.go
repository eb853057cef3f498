package server

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/web/components"
)

func (s *Server) handleClustersList(c echo.Context) error {
	var vm components.Clusters
	if s.Clusters != nil {
		for _, o := range s.Clusters.Overviews() {
			card := components.ClusterCard{Name: o.Name, DisplayName: o.DisplayName, Environment: o.Environment, Version: o.Reachability.Version,
				Nodes: o.Nodes, NodesReady: o.NodesReady, OK: o.Reachability.Reachable, Reachability: "API reachable"}
			switch {
			case !o.Reachability.Probed:
				card.Reachability = "connecting"
			case !o.Reachability.Reachable:
				card.Reachability, card.Error = "API unreachable", o.Reachability.Error
			}
			phases := make([]string, 0, len(o.PodsByPhase))
			for p := range o.PodsByPhase {
				phases = append(phases, p)
			}
			sort.Strings(phases)
			for _, p := range phases {
				card.Pods = append(card.Pods, components.Field{Label: p, Value: fmt.Sprint(o.PodsByPhase[p])})
			}
			vm.Clusters = append(vm.Clusters, card)
		}
	}
	return s.page(c, http.StatusOK, components.Page{Title: "Clusters", Nav: "clusters"}, components.ClustersView(vm))
}
