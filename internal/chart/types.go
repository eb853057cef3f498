package chart

// Chart is a laid-out time-series chart, drawn as SVG.
type Chart struct {
	Title, Unit, Err, Href, Note string
	Width, Height                int
	PlotX, PlotY, PlotW, PlotH   int
	XTicks, YTicks               []Tick
	Lines                        []Line
	Bands                        []Band
	Legend                       []LegendItem
	Markers                      []MarkerLine
	Empty                        bool
	// Summary is the chart in words, for those who cannot see it: each series' latest value,
	// its range and its trend.
	Summary string
	// Table is the data drawn, for reading rather than looking.
	Table Table
}

// Table is a chart's samples: one row per sample time (UTC), one column per series.
type Table struct {
	Columns []string
	Rows    []TableRow
}

// TableRow is one sample time and each series' value at it ("—" where it has none).
type TableRow struct {
	Time  string
	Cells []string
}

// MarkerLine is a moment drawn across the plot: the onset, a deploy, an alert's start.
type MarkerLine struct {
	X            float64
	Label, Class string
}

// Tick is an axis label at a position.
type Tick struct {
	Pos   float64
	Label string
}

// Line is one series' path; Class picks its colour (series-N) or threshold style.
type Line struct {
	Name, Path, Class string
	Dots              []Dot // points with no neighbour to join, drawn as dots
}

// Dot is a point of a chart, in SVG units.
type Dot struct {
	X, Y float64
}

// Band is a hover column naming the values at one time.
type Band struct {
	X, W  float64
	Title string
}

// LegendItem names a series with its latest value.
type LegendItem struct {
	Name, Last, Class string
}
