// Package traces reads traces and service dependencies from Jaeger's query service over its
// api_v2 gRPC API (github.com/jaegertracing/jaeger-idl), and lays a trace out as a waterfall.
package traces

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/portico-dev/portico/internal/backend"
)

// KV is a tag or log field.
type KV struct {
	Key, Value string
}

// Event is a span log (an OpenTelemetry event).
type Event struct {
	Time   time.Time
	Fields []KV
}

// Span is one operation of a trace.
type Span struct {
	ID, ParentID       string
	Service, Operation string
	Start              time.Time
	Duration           time.Duration
	Error              bool
	Tags               []KV
	Events             []Event
}

// Trace is a whole trace, its spans in start order.
type Trace struct {
	ID       string
	Spans    []Span
	Start    time.Time
	Duration time.Duration
	Services []string
	Errors   int
}

// Summary is a trace in a list.
type Summary struct {
	ID        string        `json:"id"`
	Root      string        `json:"root"` // "service: operation" of the root span
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration"`
	Spans     int           `json:"spans"`
	Errors    int           `json:"errors"`
	Services  []string      `json:"services"`
	Operation string        `json:"operation"`
}

// Query selects traces of a service.
type Query struct {
	Service, Operation string
	MinDuration        time.Duration
	Lookback           time.Duration
	Limit              int
	ErrorsOnly         bool
	Order              string // recent (default) or slowest
}

// Link is an observed call between services.
type Link struct {
	Parent, Child string
	Calls         uint64
}

// Client talks to one Jaeger query service.
type Client struct {
	cfg  backend.Config
	conn *grpc.ClientConn
	q    api_v2.QueryServiceClient
}

// gogoCodec marshals Jaeger's gogo-protobuf messages with their own generated methods (the
// standard codec cannot: the types use gogo's custom and stdtime fields).
type gogoCodec struct{}

func (gogoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(interface{ Marshal() ([]byte, error) })
	if !ok {
		return nil, fmt.Errorf("jaeger codec: %T cannot be marshalled", v)
	}
	return m.Marshal()
}

func (gogoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(interface{ Unmarshal([]byte) error })
	if !ok {
		return fmt.Errorf("jaeger codec: %T cannot be unmarshalled", v)
	}
	return m.Unmarshal(data)
}

func (gogoCodec) Name() string { return "proto" }

type tokenCreds struct {
	token, user, pass string
	secure            bool
}

func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if t.token != "" {
		return map[string]string{"authorization": "Bearer " + t.token}, nil
	}
	return map[string]string{"authorization": "Basic " + basic(t.user, t.pass)}, nil
}

func (t tokenCreds) RequireTransportSecurity() bool { return t.secure }

// New connects lazily: a Jaeger that is down makes calls fail, not the portal's start.
func New(cfg backend.Config) (*Client, error) {
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.ForceCodec(gogoCodec{}))}
	switch {
	case tc != nil:
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	case strings.HasSuffix(cfg.URL, ":443"):
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})))
	default:
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if cfg.BearerToken != "" || cfg.Username != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(tokenCreds{token: cfg.BearerToken, user: cfg.Username, pass: cfg.Password, secure: tc != nil}))
	}
	opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler())) // each query a span of the request it serves
	if cfg.Metrics != nil {
		opts = append(opts, grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
			start := time.Now()
			err := invoker(ctx, method, req, reply, cc, o...)
			cfg.Metrics.Observe(cfg.Name, time.Since(start), err != nil && !errors.Is(ctx.Err(), context.Canceled))
			return err
		}))
	}
	conn, err := grpc.NewClient(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	return &Client{cfg: cfg, conn: conn, q: api_v2.NewQueryServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Budget is the panel's time budget.
func (c *Client) Budget() time.Duration { return c.cfg.Timeout }

// UIURL links a trace in Jaeger's own UI ("" without a UI URL).
func (c *Client) UIURL(traceID string) string {
	if c.cfg.UIURL == "" {
		return ""
	}
	return strings.TrimRight(c.cfg.UIURL, "/") + "/trace/" + traceID
}

// Explain turns a call's error into words for a panel.
func Explain(err error, budget time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), status.Code(err) == codes.DeadlineExceeded:
		return fmt.Sprintf("Jaeger did not answer within %s", budget)
	case status.Code(err) == codes.Unavailable:
		return "Jaeger is unreachable"
	case status.Code(err) == codes.NotFound:
		return "no such trace (it may have expired)"
	}
	if s, ok := status.FromError(err); ok {
		return "Jaeger: " + s.Message()
	}
	return "Jaeger could not be queried"
}

// Find lists traces of a service: the most recent, or the slowest of a wider search.
func (c *Client) Find(ctx context.Context, q Query) ([]Summary, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	if q.Lookback <= 0 {
		q.Lookback = time.Hour
	}
	now := time.Now()
	params := &api_v2.TraceQueryParameters{ServiceName: q.Service, OperationName: q.Operation, StartTimeMin: now.Add(-q.Lookback),
		StartTimeMax: now, DurationMin: q.MinDuration, SearchDepth: int32(q.Limit)}
	if q.Order == "slowest" {
		params.SearchDepth = int32(max(q.Limit*10, 200))
	}
	if q.ErrorsOnly {
		params.Tags = map[string]string{"error": "true"}
	}
	byTrace, err := c.findTraces(ctx, params)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(byTrace))
	for id, ss := range byTrace {
		t := build(id, ss)
		sum := Summary{ID: id, Start: t.Start, Duration: t.Duration, Spans: len(t.Spans), Errors: t.Errors, Services: t.Services}
		if len(t.Spans) > 0 {
			root := t.Spans[0]
			sum.Root, sum.Operation = root.Service+": "+root.Operation, root.Operation
		}
		out = append(out, sum)
	}
	if q.Order == "slowest" {
		sort.Slice(out, func(i, j int) bool { return out[i].Duration > out[j].Duration })
	} else {
		sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	}
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// findTraces runs a search and returns the whole traces it found, their spans by trace ID.
func (c *Client) findTraces(ctx context.Context, params *api_v2.TraceQueryParameters) (map[string][]model.Span, error) {
	stream, err := c.q.FindTraces(ctx, &api_v2.FindTracesRequest{Query: params})
	if err != nil {
		return nil, err
	}
	spans, err := drain(stream)
	if err != nil {
		return nil, err
	}
	byTrace := map[string][]model.Span{}
	for _, s := range spans {
		id := s.TraceID.String()
		byTrace[id] = append(byTrace[id], s)
	}
	return byTrace, nil
}

type chunkStream interface {
	Recv() (*api_v2.SpansResponseChunk, error)
}

func drain(s chunkStream) ([]model.Span, error) {
	var out []model.Span
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, chunk.Spans...)
	}
}

// Get reads one trace.
func (c *Client) Get(ctx context.Context, id string) (*Trace, error) {
	tid, err := model.TraceIDFromString(id)
	if err != nil {
		return nil, fmt.Errorf("%q is not a trace ID", id)
	}
	stream, err := c.q.GetTrace(ctx, &api_v2.GetTraceRequest{TraceID: tid})
	if err != nil {
		return nil, err
	}
	spans, err := drain(stream)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return nil, status.Error(codes.NotFound, "trace not found")
	}
	t := build(id, spans)
	return &t, nil
}

// Operations lists a service's operations, for the filter.
func (c *Client) Operations(ctx context.Context, service string) ([]string, error) {
	res, err := c.q.GetOperations(ctx, &api_v2.GetOperationsRequest{Service: service})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range res.Operations {
		out = append(out, o.Name)
	}
	sort.Strings(out)
	return out, nil
}

// Dependencies returns the calls between services seen over the lookback.
func (c *Client) Dependencies(ctx context.Context, lookback time.Duration) ([]Link, error) {
	now := time.Now()
	res, err := c.q.GetDependencies(ctx, &api_v2.GetDependenciesRequest{StartTime: now.Add(-lookback), EndTime: now})
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(res.Dependencies))
	for _, d := range res.Dependencies {
		out = append(out, Link{Parent: d.Parent, Child: d.Child, Calls: d.CallCount})
	}
	return out, nil
}

// build turns Jaeger's spans into a Trace.
func build(id string, spans []model.Span) Trace {
	t := Trace{ID: id}
	services := map[string]bool{}
	var end time.Time
	for i := range spans {
		s := &spans[i]
		sp := Span{ID: s.SpanID.String(), Operation: s.OperationName, Start: s.StartTime, Duration: s.Duration}
		if s.Process != nil {
			sp.Service = s.Process.ServiceName
		}
		for _, r := range s.References {
			if r.RefType == model.SpanRefType_CHILD_OF && r.TraceID == s.TraceID {
				sp.ParentID = r.SpanID.String()
				break
			}
		}
		for i := range s.Tags {
			kv := &s.Tags[i]
			v := kv.AsString()
			sp.Tags = append(sp.Tags, KV{Key: kv.Key, Value: v})
			if (kv.Key == "error" && v == "true") || (kv.Key == "otel.status_code" && v == "ERROR") {
				sp.Error = true
			}
		}
		for _, l := range s.Logs {
			ev := Event{Time: l.Timestamp}
			for i := range l.Fields {
				ev.Fields = append(ev.Fields, KV{Key: l.Fields[i].Key, Value: l.Fields[i].AsString()})
			}
			sp.Events = append(sp.Events, ev)
		}
		if sp.Error {
			t.Errors++
		}
		services[sp.Service] = true
		if t.Start.IsZero() || sp.Start.Before(t.Start) {
			t.Start = sp.Start
		}
		if e := sp.Start.Add(sp.Duration); e.After(end) {
			end = e
		}
		t.Spans = append(t.Spans, sp)
	}
	t.Duration = end.Sub(t.Start)
	for s := range services {
		t.Services = append(t.Services, s)
	}
	sort.Strings(t.Services)
	t.Spans = Order(t.Spans)
	return t
}

// Row is a span placed in the waterfall.
type Row struct {
	Span
	Depth         int
	Offset, Width float64 // fractions of the trace's duration, 0..1
	ServiceIndex  int     // for the colour
}

// Order sorts spans depth first: each parent followed by its children in start order;
// spans whose parent is missing are treated as roots.
func Order(spans []Span) []Span {
	rows := layout(spans, time.Time{}, 0)
	out := make([]Span, len(rows))
	for i, r := range rows {
		out[i] = r.Span
	}
	return out
}

// Waterfall places every span on the trace's common time axis, nested under its parent.
func Waterfall(t *Trace) []Row {
	return layout(t.Spans, t.Start, t.Duration)
}

func layout(spans []Span, start time.Time, dur time.Duration) []Row {
	ids := make(map[string]bool, len(spans))
	for _, s := range spans {
		ids[s.ID] = true
	}
	children := map[string][]int{}
	var roots []int
	for i, s := range spans {
		if s.ParentID == "" || !ids[s.ParentID] || s.ParentID == s.ID {
			roots = append(roots, i)
			continue
		}
		children[s.ParentID] = append(children[s.ParentID], i)
	}
	byStart := func(idx []int) {
		sort.SliceStable(idx, func(a, b int) bool { return spans[idx[a]].Start.Before(spans[idx[b]].Start) })
	}
	byStart(roots)
	services := map[string]int{}
	out := make([]Row, 0, len(spans))
	seen := make([]bool, len(spans))
	var walk func(i, depth int)
	walk = func(i, depth int) {
		if seen[i] { // a cycle in broken data
			return
		}
		seen[i] = true
		s := spans[i]
		if _, ok := services[s.Service]; !ok {
			services[s.Service] = len(services)
		}
		r := Row{Span: s, Depth: depth, ServiceIndex: services[s.Service]}
		if dur > 0 {
			r.Offset = float64(s.Start.Sub(start)) / float64(dur)
			r.Width = max(float64(s.Duration)/float64(dur), 0.002)
		}
		out = append(out, r)
		kids := children[s.ID]
		byStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	for i := range spans { // spans only reachable through a cycle
		if !seen[i] {
			walk(i, 0)
		}
	}
	return out
}
