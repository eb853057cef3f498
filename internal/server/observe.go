package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/alerts"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/metrics"
	"github.com/portico-dev/portico/internal/traces"
	"github.com/portico-dev/portico/web/components"
)

// metricsService is what the server needs from Prometheus.
type metricsService interface {
	Charts(ctx context.Context, t metrics.Target, r metrics.Range, now time.Time) []metrics.Chart
	ChartsOf(ctx context.Context, defs []metrics.ChartDef, t metrics.Target, r metrics.Range, now time.Time) []metrics.Chart
	MeshStats(ctx context.Context, namespace, service string, now time.Time) (map[string]metrics.MeshStat, error)
	GraphURL(queries []string, r metrics.Range) string
	Signals(ctx context.Context, t metrics.Target, r metrics.Range, now time.Time) metrics.Signals
}

// alertService is what the server needs from Prometheus' and Alertmanager's alerts.
type alertService interface {
	All(ctx context.Context) alerts.Result
}

// traceService is what the server needs from Jaeger.
type traceService interface {
	Find(ctx context.Context, q traces.Query) ([]traces.Summary, error)
	Get(ctx context.Context, id string) (*traces.Trace, error)
	Operations(ctx context.Context, service string) ([]string, error)
	Dependencies(ctx context.Context, lookback time.Duration) ([]traces.Link, error)
	ErrorOrigins(ctx context.Context, service string, lookback time.Duration, limit int) ([]traces.Origin, error)
	UIURL(traceID string) string
	Budget() time.Duration
}

// observes reports whether an entity gets the observability panels: components, which run.
func observes(e *catalog.Entity) bool { return strings.EqualFold(e.Kind, catalog.KindComponent) }

func (s *Server) observeVM(e *catalog.Entity) components.Observe {
	var o components.Observe
	if !observes(e) {
		return o
	}
	base := entityHref(e.Ref())
	o.TriageURL = base + "/triage/banner"
	o.ScorecardURL, o.ScorecardEvents = base+"/scorecard", base+"/scorecard/events"
	if s.Metrics != nil {
		o.MetricsURL = base + "/metrics"
	}
	if s.Alerts != nil {
		o.AlertsURL = base + "/alerts"
	}
	if s.Traces != nil {
		o.TracesURL, o.DepsURL = base+"/traces?panel=1", base+"/dependencies"
	}
	if s.Pipelines != nil {
		o.PipelinesURL, o.DoraURL = base+"/pipelines", base+"/dora"
		if s.Clusters != nil {
			o.WhereURL = base + "/where"
		}
	}
	return o
}

// observedEntity resolves the path's entity and checks it may be viewed and observed.
func (s *Server) observedEntity(c echo.Context, what string) (*catalog.Snapshot, *catalog.Record, error) {
	snap, rec, err := scopedEntity(c)
	if err != nil {
		return nil, nil, err
	}
	if !observes(rec.Entity) {
		return nil, nil, fmt.Errorf("%w: Only components have %s", derrors.NotFound, what)
	}
	return snap, rec, nil
}
