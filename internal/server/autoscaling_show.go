package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/chart"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/web/components"
)

// autoscalingOf is what scales the component in each cluster where it runs.
func (s *Server) autoscalingOf(e *catalog.Entity) ([]cluster.ClusterAutoscaling, error) {
	q, mapped, err := cluster.QueryFor(e.Metadata.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", derrors.Invalid, err)
	}
	if !mapped {
		return nil, fmt.Errorf("%w: %s has no backstage.io/kubernetes-id or kubernetes-label-selector annotation", derrors.NotFound, e.Ref().Short())
	}
	out := []cluster.ClusterAutoscaling{}
	if s.Clusters != nil {
		out = append(out, s.Clusters.Autoscaling(q)...)
	}
	return out, nil
}

func (s *Server) handleAPIAutoscaling(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	a, err := s.autoscalingOf(rec.Entity)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clusters": a})
}

// handleAutoscalingPanel is the runtime tab's autoscaling panel.
func (s *Server) handleAutoscalingPanel(c echo.Context) error {
	_, rec, err := scopedEntity(c)
	if err != nil {
		return err
	}
	a, err := s.autoscalingOf(rec.Entity)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, components.AutoscalingView(autoscalingVM(a)))
}

func autoscalingVM(cas []cluster.ClusterAutoscaling) components.AutoscalingPanel {
	vm := components.AutoscalingPanel{Empty: "Nothing of this component runs in a configured cluster."}
	for _, ca := range cas {
		c := components.AutoscalingCluster{Name: ca.Cluster, Environment: ca.Environment}
		for _, h := range ca.HPAs {
			c.HPAs = append(c.HPAs, hpaVM(h))
		}
		switch {
		case !ca.VPAInstalled:
			c.VPANote = "The VerticalPodAutoscaler is not installed in this cluster: no recommendations for requests."
		case len(ca.VPAs) == 0:
			c.VPANote = "No VerticalPodAutoscaler targets its workloads."
		}
		for _, v := range ca.VPAs {
			c.VPAs = append(c.VPAs, vpaVM(v))
		}
		vm.Clusters = append(vm.Clusters, c)
	}
	return vm
}

func hpaVM(h cluster.HPADetail) components.HPAView {
	v := components.HPAView{Name: h.Name, Target: h.Target, Replicas: fmt.Sprintf("%d → %d replicas", h.Current, h.Desired),
		Bounds: fmt.Sprintf("%d–%d", h.Min, h.Max), AtMax: h.Max > 0 && h.Current >= h.Max, Behavior: h.Behavior, Events: eventRows(h.Events)}
	if !h.LastScale.IsZero() {
		v.LastScale = age(h.LastScale)
	}
	for _, m := range h.Metrics {
		v.Metrics = append(v.Metrics, components.HPAMetricRow{Name: m.Name, Current: m.Current, Target: m.Target})
	}
	for _, cond := range h.Conditions {
		v.Conditions = append(v.Conditions, components.ConditionRow{Type: cond.Type, Status: cond.Status, Reason: cond.Reason, Message: cond.Message, Bad: cond.Bad})
	}
	if len(h.Scalings) > 0 {
		pts := make([]chart.Point, 0, len(h.Scalings)+1)
		for _, sc := range h.Scalings {
			pts = append(pts, chart.Point{T: sc.At, V: float64(sc.Size)})
		}
		start, end := h.Scalings[0].At, h.Scalings[len(h.Scalings)-1].At
		if end.Sub(start) < 60e9 {
			start = end.Add(-60e9) // a single scaling still gets a readable axis
		}
		c := chart.Layout(chart.Input{Title: "Replicas set by the autoscaler", Unit: "count", Start: start, End: end,
			Series: []chart.Series{{Name: "replicas", Points: pts}}})
		v.Timeline = &c
	}
	return v
}

func vpaVM(v cluster.VPADetail) components.VPAView {
	out := components.VPAView{Name: v.Name, Target: v.Target, Mode: v.Mode, Problem: v.Problem}
	for _, ct := range v.Containers {
		row := components.VPAContainerRow{Name: ct.Name, CPURequest: orDash(ct.Request["cpu"]), CPULower: orDash(ct.Lower["cpu"]), CPUTarget: orDash(ct.Target["cpu"]),
			CPUUpper: orDash(ct.Upper["cpu"]), MemRequest: orDash(ct.Request["memory"]), MemLower: orDash(ct.Lower["memory"]), MemTarget: orDash(ct.Target["memory"]),
			MemUpper: orDash(ct.Upper["memory"]), Verdicts: ct.Verdict}
		for _, vd := range ct.Verdict {
			if strings.Contains(vd, "-provisioned") {
				row.Off = true
			}
		}
		out.Containers = append(out.Containers, row)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
