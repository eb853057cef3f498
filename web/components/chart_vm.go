package components

import (
	"github.com/portico-dev/portico/internal/chart"
)

// The chart view models are internal/chart's layout: pure geometry, drawn as SVG here.
type (
	Chart      = chart.Chart
	Tick       = chart.Tick
	ChartLine  = chart.Line
	Dot        = chart.Dot
	Band       = chart.Band
	LegendItem = chart.LegendItem
)
