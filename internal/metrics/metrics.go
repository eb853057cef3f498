// Package metrics reads a service's charts from Prometheus: configured PromQL templates
// filled with the service's placeholders, run in parallel within a budget, with answers
// shared by every viewer for a short while so many viewers do not multiply the load.
package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/singleflight"

	"github.com/portico-dev/portico/internal/backend"
)

// Range is a time window with the step that gives about 60–120 points.
type Range struct {
	Name       string
	Dur, Step  time.Duration
	RateWindow string
}

// Ranges are the windows users choose from.
var Ranges = []Range{
	{"15m", 15 * time.Minute, 15 * time.Second, "1m"},
	{"1h", time.Hour, 30 * time.Second, "2m"},
	{"6h", 6 * time.Hour, 3 * time.Minute, "6m"},
	{"24h", 24 * time.Hour, 15 * time.Minute, "30m"},
	{"7d", 7 * 24 * time.Hour, time.Hour, "2h"},
}

// RangeNamed returns the range of that name, or 1h.
func RangeNamed(name string) Range {
	for _, r := range Ranges {
		if r.Name == name {
			return r
		}
	}
	return Ranges[1]
}

// Query is one PromQL template of a chart and how its series are named.
type Query struct {
	Query  string
	Legend string // a template over the series labels, or a fixed word
}

// ChartDef is a configured chart.
type ChartDef struct {
	Name, Title, Unit string
	Queries           []Query
}

// DefaultCharts fit the common conventions: http_requests_total and
// http_request_duration_seconds by service, cAdvisor and kube-state-metrics by pod.
var DefaultCharts = []ChartDef{
	{Name: "rate", Title: "Request rate", Unit: "reqps", Queries: []Query{{Query: `sum(rate(http_requests_total{ {{.Labels}} }[{{.Window}}]))`, Legend: "requests"}}},
	{Name: "errors", Title: "Error ratio (5xx)", Unit: "ratio", Queries: []Query{{Query: `sum(rate(http_requests_total{ {{.Labels}}, code=~"5.." }[{{.Window}}])) / sum(rate(http_requests_total{ {{.Labels}} }[{{.Window}}]))`, Legend: "errors"}}},
	{Name: "latency", Title: "Latency", Unit: "seconds", Queries: []Query{
		{Query: `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{ {{.Labels}} }[{{.Window}}])))`, Legend: "p50"},
		{Query: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{ {{.Labels}} }[{{.Window}}])))`, Legend: "p95"},
		{Query: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{ {{.Labels}} }[{{.Window}}])))`, Legend: "p99"}}},
	{Name: "cpu", Title: "CPU per pod", Unit: "cores", Queries: []Query{
		{Query: `sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="{{.Namespace}}", pod=~"{{.Pods}}"}[{{.Window}}]))`, Legend: "{{.pod}}"},
		{Query: `max(kube_pod_container_resource_requests{namespace="{{.Namespace}}", pod=~"{{.Pods}}", resource="cpu"})`, Legend: "request"},
		{Query: `max(kube_pod_container_resource_limits{namespace="{{.Namespace}}", pod=~"{{.Pods}}", resource="cpu"})`, Legend: "limit"}}},
	{Name: "memory", Title: "Memory per pod", Unit: "bytes", Queries: []Query{
		{Query: `sum by (pod) (container_memory_working_set_bytes{namespace="{{.Namespace}}", pod=~"{{.Pods}}"})`, Legend: "{{.pod}}"},
		{Query: `max(kube_pod_container_resource_requests{namespace="{{.Namespace}}", pod=~"{{.Pods}}", resource="memory"})`, Legend: "request"},
		{Query: `max(kube_pod_container_resource_limits{namespace="{{.Namespace}}", pod=~"{{.Pods}}", resource="memory"})`, Legend: "limit"}}},
	{Name: "restarts", Title: "Restarts", Unit: "count", Queries: []Query{
		{Query: `sum by (pod) (kube_pod_container_status_restarts_total{namespace="{{.Namespace}}", pod=~"{{.Pods}}"})`, Legend: "{{.pod}}"}}},
}

// Target is the service a panel is for, as the placeholders see it.
type Target struct {
	Name      string   // {{.Name}}
	Namespace string   // {{.Namespace}}
	Labels    string   // {{.Labels}}: PromQL matchers, from prometheus.io/labels or service="<name>"
	Pods      []string // {{.Pods}} becomes a regex of these names
	Rules     []Query  // from the prometheus.io/rule annotation: extra charts
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Series is one line of a chart.
type Series struct {
	Name   string
	Points []Point
}

// Chart is a chart's data, or why it has none.
type Chart struct {
	Name, Title, Unit string
	Queries           []string // as sent, for "open in Prometheus"
	Series            []Series
	Err               string
	Start, End        time.Time
}

// Client runs chart queries against one Prometheus.
type Client struct {
	api     v1.API
	cfg     backend.Config
	charts  []ChartDef
	flights singleflight.Group
	cache   *lru.LRU[string, model.Value] // answers by query and time; nil: nothing is shared (a TTL of 0)
}

// maxCached bounds the shared answers; the least recently used go first.
const maxCached = 5000

// New returns a client; charts nil means DefaultCharts.
func New(cfg backend.Config, charts []ChartDef, ttl time.Duration) (*Client, error) {
	rt, err := cfg.RoundTripper()
	if err != nil {
		return nil, err
	}
	c, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	if charts == nil {
		charts = DefaultCharts
	}
	cl := &Client{api: v1.NewAPI(c), cfg: cfg, charts: charts}
	if ttl > 0 {
		cl.cache = lru.NewLRU[string, model.Value](maxCached, nil, ttl)
	}
	return cl, nil
}

// API is the Prometheus HTTP API client, for the alerts.
func (c *Client) API() v1.API { return c.api }

// Budget is the panel's time budget.
func (c *Client) Budget() time.Duration { return c.cfg.Timeout }

// Charts runs every chart's queries in parallel within the budget. A chart whose query fails
// or times out carries the reason; the others are still returned.
func (c *Client) Charts(ctx context.Context, t Target, r Range, now time.Time) []Chart {
	defs := slices.Clone(c.charts)
	for i, q := range t.Rules {
		defs = append(defs, ChartDef{Name: fmt.Sprintf("rule-%d", i), Title: ruleTitle(q.Query), Unit: "", Queries: []Query{q}})
	}
	return c.ChartsOf(ctx, defs, t, r, now)
}

// APIServerCharts are a Kubernetes API server's request rate, error ratio and latency (long
// requests — watches, exec — left out), from its own metrics; {{.Labels}} selects one
// cluster's API server series.
var APIServerCharts = []ChartDef{
	{Name: "apiserver-rate", Title: "API requests", Unit: "reqps", Queries: []Query{
		{Query: `sum by (verb) (rate(apiserver_request_total{ {{.Labels}}, verb!~"WATCH|CONNECT" }[{{.Window}}]))`, Legend: "{{.verb}}"}}},
	{Name: "apiserver-errors", Title: "API error ratio (5xx)", Unit: "ratio", Queries: []Query{
		{Query: `sum(rate(apiserver_request_total{ {{.Labels}}, code=~"5.." }[{{.Window}}])) / sum(rate(apiserver_request_total{ {{.Labels}} }[{{.Window}}]))`, Legend: "errors"}}},
	{Name: "apiserver-latency", Title: "API latency", Unit: "seconds", Queries: []Query{
		{Query: `histogram_quantile(0.5, sum by (le) (rate(apiserver_request_duration_seconds_bucket{ {{.Labels}}, verb!~"WATCH|CONNECT" }[{{.Window}}])))`, Legend: "p50"},
		{Query: `histogram_quantile(0.99, sum by (le) (rate(apiserver_request_duration_seconds_bucket{ {{.Labels}}, verb!~"WATCH|CONNECT" }[{{.Window}}])))`, Legend: "p99"}}},
}

// ChartsOf runs the given charts' queries for t, in parallel within the budget, like Charts.
func (c *Client) ChartsOf(ctx context.Context, defs []ChartDef, t Target, r Range, now time.Time) []Chart {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	end := now.Truncate(r.Step) // viewers within one step share the cached answers
	start := end.Add(-r.Dur)
	out := make([]Chart, len(defs))
	var wg sync.WaitGroup
	for i, d := range defs {
		out[i] = Chart{Name: d.Name, Title: d.Title, Unit: d.Unit, Start: start, End: end}
		for _, q := range d.Queries {
			text, err := render(q.Query, t, r)
			if err != nil {
				out[i].Err = err.Error()
				break
			}
			out[i].Queries = append(out[i].Queries, text)
		}
		if out[i].Err != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			series, err := c.chart(ctx, d, out[i].Queries, start, end, r.Step)
			if err != nil {
				out[i].Err = explain(err, c.cfg.Timeout)
				return
			}
			out[i].Series = series
		}()
	}
	wg.Wait()
	return out
}

func (c *Client) chart(ctx context.Context, d ChartDef, queries []string, start, end time.Time, step time.Duration) ([]Series, error) {
	var series []Series
	for qi, q := range queries {
		m, err := c.rangeQuery(ctx, q, start, end, step)
		if err != nil {
			return nil, err
		}
		legend := d.Queries[qi].Legend
		for _, s := range m {
			ser := Series{Name: seriesName(legend, s.Metric)}
			for _, p := range s.Values {
				ser.Points = append(ser.Points, Point{T: p.Timestamp.Time(), V: float64(p.Value)})
			}
			series = append(series, ser)
		}
	}
	sort.SliceStable(series, func(i, j int) bool { return order(series[i].Name) < order(series[j].Name) })
	return series, nil
}

// order puts the thresholds after the measured series.
func order(name string) int {
	switch name {
	case "request":
		return 1
	case "limit":
		return 2
	}
	return 0
}

// rangeQuery answers from the shared cache, or asks Prometheus once for all concurrent callers.
func (c *Client) rangeQuery(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	v, err := c.shared(ctx, fmt.Sprintf("%s|%d|%d|%d", q, start.Unix(), end.Unix(), step), func(qctx context.Context) (model.Value, error) {
		val, _, _, err := c.api.QueryRange(qctx, q, v1.Range{Start: start, End: end, Step: step})
		return val, err
	})
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("the query returned a %s, not a range of values", v.Type())
	}
	return m, nil
}

// instantQuery is one query's answer at a time, shared like rangeQuery's.
func (c *Client) instantQuery(ctx context.Context, q string, at time.Time) (model.Vector, error) {
	v, err := c.shared(ctx, fmt.Sprintf("%s|%d", q, at.Unix()), func(qctx context.Context) (model.Value, error) {
		val, _, _, err := c.api.Query(qctx, q, at)
		return val, err
	})
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("the query returned a %s, not a vector", v.Type())
	}
	return vec, nil
}

// shared answers key from the cache, else asks Prometheus once for every caller waiting on
// it: not on the first caller's context, which ends when that viewer goes away, but within
// the backend's budget.
func (c *Client) shared(ctx context.Context, key string, fetch func(context.Context) (model.Value, error)) (model.Value, error) {
	if c.cache != nil {
		if v, ok := c.cache.Get(key); ok {
			return v, nil
		}
	}
	v, err, _ := c.flights.Do(key, func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
		defer cancel()
		val, err := fetch(qctx)
		if err != nil {
			return nil, err
		}
		if c.cache != nil {
			c.cache.Add(key, val)
		}
		return val, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(model.Value), nil
}

// explain turns a query error into words for the panel.
func explain(err error, budget time.Duration) string {
	var perr *v1.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("Prometheus did not answer within %s", budget)
	case errors.As(err, &perr) && perr.Type == v1.ErrBadData:
		return "the query is not valid PromQL: " + perr.Msg
	case errors.As(err, &perr):
		return "Prometheus: " + perr.Msg
	}
	// The HTTP client's own words (dial errors, addresses) are not for the page.
	return "Prometheus is unreachable"
}

type placeholders struct {
	Name, Namespace, Labels, Pods, Window string
}

// podsRegex matches the target's pods (or, without a list, pods named after it).
func podsRegex(t Target) string {
	switch {
	case len(t.Pods) > 0:
		esc := make([]string, len(t.Pods))
		for i, p := range t.Pods {
			esc[i] = regexp.QuoteMeta(p)
		}
		return strings.Join(esc, "|")
	case t.Name != "":
		return regexp.QuoteMeta(t.Name) + "-.+"
	}
	return ".+"
}

// promString escapes s for the inside of a double-quoted PromQL string, where a backslash
// starts an escape: the regex "payment\.v2-.+" must be written "payment\\.v2-.+".
func promString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func render(tmpl string, t Target, r Range) (string, error) {
	tp, err := template.New("q").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("the chart's query template is invalid: %v", err)
	}
	var b bytes.Buffer
	err = tp.Execute(&b, placeholders{Name: t.Name, Namespace: t.Namespace, Labels: t.Labels, Pods: promString(podsRegex(t)), Window: r.RateWindow})
	if err != nil {
		return "", fmt.Errorf("the chart's query template failed: %v", err)
	}
	return b.String(), nil
}

func seriesName(legend string, m model.Metric) string {
	if !strings.Contains(legend, "{{") {
		if legend != "" {
			return legend
		}
		return m.String()
	}
	labels := map[string]string{}
	for k, v := range m {
		labels[string(k)] = string(v)
	}
	tp, err := template.New("l").Option("missingkey=zero").Parse(legend)
	if err != nil {
		return m.String()
	}
	var b bytes.Buffer
	if tp.Execute(&b, labels) != nil || b.Len() == 0 {
		return m.String()
	}
	return strings.ReplaceAll(b.String(), "<no value>", "")
}

// LabelMatchers turns the prometheus.io/labels annotation ("service=payment,env=prod") into
// PromQL matchers; without it, service="<name>".
func LabelMatchers(annotation, name string) string {
	if strings.TrimSpace(annotation) == "" {
		return fmt.Sprintf("service=%q", name)
	}
	var out []string
	for _, kv := range strings.Split(annotation, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s=%q", strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)))
	}
	return strings.Join(out, ", ")
}

// ParseRules reads the prometheus.io/rule annotation: "query|legendLabel" pairs separated by
// commas outside brackets and quotes (queries contain commas: histogram_quantile(0.95, …)).
func ParseRules(annotation string) []Query {
	if len(annotation) > maxRulesAnnotation {
		return nil // no charts from an annotation this long
	}
	var out []Query
	for _, part := range splitTop(annotation) {
		q, label, _ := strings.Cut(part, "|")
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		legend := ""
		if label = strings.TrimSpace(label); label != "" {
			legend = "{{." + label + "}}"
		}
		out = append(out, Query{Query: q, Legend: legend})
	}
	return out
}

// maxRulesAnnotation bounds the prometheus.io/rule annotation.
const maxRulesAnnotation = 16 << 10

func splitTop(s string) []string {
	var out []string
	depth, quote, last := 0, rune(0), 0
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '(' || r == '{' || r == '[':
			depth++
		case r == ')' || r == '}' || r == ']':
			depth--
		case r == ',' && depth == 0:
			out = append(out, s[last:i])
			last = i + 1
		}
	}
	return append(out, s[last:])
}

// ruleTitle names a chart drawn from a prometheus.io/rule query in words, from the metric it
// reads and what is done to it: "p95 http request duration", "http requests per second by
// route". A query it cannot read is shown shortened.
func ruleTitle(q string) string {
	metric := metricRE.FindStringSubmatch(q)
	if metric == nil {
		if r := []rune(q); len(r) > 44 {
			return string(r[:43]) + "…"
		}
		return q
	}
	name := metric[1]
	for _, suffix := range []string{"_bucket", "_total", "_count", "_sum"} {
		name = strings.TrimSuffix(name, suffix)
	}
	unit := ""
	for _, u := range []string{"_seconds", "_bytes"} {
		if strings.HasSuffix(name, u) {
			name, unit = strings.TrimSuffix(name, u), strings.TrimPrefix(u, "_")
		}
	}
	title := strings.ReplaceAll(name, "_", " ")
	switch m := quantileRE.FindStringSubmatch(q); {
	case m != nil:
		p, _ := strconv.ParseFloat(m[1], 64)
		title = "p" + strconv.FormatFloat(p*100, 'f', -1, 64) + " " + title
	case strings.Contains(q, "rate(") && unit == "":
		title += " per second"
	case unit != "":
		title += " (" + unit + ")"
	}
	if by := byRE.FindStringSubmatch(q); by != nil {
		var labels []string
		for _, l := range strings.Split(by[1], ",") {
			if l = strings.TrimSpace(l); l != "" && l != "le" {
				labels = append(labels, l)
			}
		}
		if len(labels) > 0 {
			title += " by " + strings.Join(labels, ", ")
		}
	}
	return title
}

var (
	// metricRE finds the first series name a query reads: a name followed by a selector or a range.
	metricRE   = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[)`)
	quantileRE = regexp.MustCompile(`histogram_quantile\(\s*([0-9.]+)`)
	byRE       = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// GraphURL is the query in Prometheus' own UI.
func (c *Client) GraphURL(queries []string, r Range) string {
	base := c.cfg.UIURL
	if base == "" {
		base = c.cfg.URL
	}
	v := url.Values{}
	for i, q := range queries {
		p := fmt.Sprintf("g%d.", i)
		v.Set(p+"expr", q)
		v.Set(p+"range_input", r.Name)
		v.Set(p+"tab", "0")
	}
	return strings.TrimRight(base, "/") + "/graph?" + v.Encode()
}
