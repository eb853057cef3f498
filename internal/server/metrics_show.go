package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/web/components"
)

func (s *Server) metricsTarget(e *catalog.Entity) metrics.Target {
	name, prom := e.ServiceName(), e.Prometheus()
	t := metrics.Target{Name: name, Namespace: e.KubernetesNamespace(), Labels: metrics.LabelMatchers(prom.Labels, name), Rules: metrics.ParseRules(prom.Rules)}
	if rt, mapped, err := s.runtimeOf(e); mapped && err == nil {
		for _, cr := range rt.Clusters {
			for _, w := range cr.Workloads {
				if t.Namespace == "" {
					t.Namespace = w.Namespace
				}
				for _, p := range w.Pods {
					t.Pods = append(t.Pods, p.Name)
				}
			}
		}
	}
	return t
}

func (s *Server) handleMetricsPanel(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "metrics")
	if err != nil {
		return err
	}
	r := metrics.RangeNamed(c.QueryParam("range"))
	charts := s.Metrics.Charts(c.Request().Context(), s.metricsTarget(rec.Entity), r, time.Now())
	base := entityHref(rec.Entity.Ref()) + "/metrics"
	vm := components.MetricsPanel{URL: base}
	for _, x := range metrics.Ranges {
		vm.Ranges = append(vm.Ranges, components.RangeLink{Label: x.Name, Href: base + "?range=" + x.Name, Active: x.Name == r.Name})
	}
	vm.Charts = s.chartsVM(charts, r)
	return render(c, http.StatusOK, components.MetricsView(vm))
}

func (s *Server) handleAPIMetrics(c echo.Context) error {
	_, rec, err := s.observedEntity(c, "metrics")
	if err != nil {
		return err
	}
	r := metrics.RangeNamed(c.QueryParam("range"))
	return c.JSON(http.StatusOK, map[string]any{"range": r.Name, "step": r.Step.String(),
		"charts": s.Metrics.Charts(c.Request().Context(), s.metricsTarget(rec.Entity), r, time.Now())})
}
