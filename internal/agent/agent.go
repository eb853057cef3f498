// Package agent is Portico's interface for AI assistants: an MCP server (the official Go SDK,
// Streamable HTTP) whose tools are the portal's JSON API, called in-process as the person
// asking. Every tool call therefore passes the same authentication, authorization, policy,
// impersonation, error mapping and audit as the UI and the API; nothing here decides access
// on its own except which tools to list (a user sees the action tools they could use
// somewhere) and the per-user rate limit.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	lru "github.com/hashicorp/golang-lru/v2/expirable"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/time/rate"

	"github.com/portico-dev/portico/internal/api"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/cluster"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/runbooks"
)

// Caller is who makes a request, as the portal authenticated them.
type Caller struct {
	User *auth.User // nil: anonymous, read-only (only where the portal allows it)
	IP   string     // the client's address, for the audit log
}

// Call is one JSON API request made on a caller's behalf.
type Call struct {
	Caller         Caller
	Client         string // the MCP client's name, recorded as the channel mcp:<client>
	Method, Path   string
	Query          url.Values
	Body           any    // sent as JSON when not nil
	IdempotencyKey string // sent as Idempotency-Key
}

// Portal is what the agent interface needs from Portico.
type Portal interface {
	// Call runs one JSON API request in-process, through the portal's own router and
	// middleware, as the caller; it returns the status and the JSON body.
	Call(ctx context.Context, c Call) (status int, body []byte)
	// Actions are the workload actions the user could take through an agent somewhere (the
	// policy's agents section applied); tools for the others are not listed.
	Actions(u *auth.User) []policy.Action
}

// Runbooks are served as resources.
type Runbooks interface {
	List(q string) []*runbooks.Runbook
	Get(path string) (*runbooks.Runbook, bool)
}

// Features say which backends the portal has, so tools that need one are listed only then.
type Features struct {
	Alerts, Traces, Pipelines, Audit bool
}

// Config configures the agent interface.
type Config struct {
	Portal   Portal
	Runbooks Runbooks
	Features Features
	Version  string
	// PerSecond and Burst bound tool calls per user (per address when anonymous).
	PerSecond float64
	Burst     int
	// Timeout bounds one tool call; MaxOutput the bytes of one answer.
	Timeout   time.Duration
	MaxOutput int
	Log       *slog.Logger
}

// Server serves MCP at one path.
type Server struct {
	cfg     Config
	handler http.Handler
	mu      sync.Mutex
	servers map[string]*mcp.Server // by the set of action tools listed
	limits  *lru.LRU[string, *rate.Limiter]
}

// New returns the agent interface.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = 256 << 10
	}
	if cfg.PerSecond <= 0 {
		cfg.PerSecond, cfg.Burst = 5, 30
	}
	s := &Server{cfg: cfg, servers: map[string]*mcp.Server{}, limits: lru.NewLRU[string, *rate.Limiter](10000, nil, 15*time.Minute)}
	stream := mcp.NewStreamableHTTPHandler(s.serverFor, &mcp.StreamableHTTPOptions{
		JSONResponse: true, SessionTimeout: 30 * time.Minute, Logger: cfg.Log,
		// The portal's own authentication and origin rules apply; the portal may sit behind a
		// proxy that sets its own Host.
		DisableLocalhostProtection: true,
	})
	bound := sdkauth.RequireBearerToken(verify, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(stream)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := callerFrom(r.Context()); ok && c.User != nil {
			bound.ServeHTTP(w, r) // sessions are bound to the token's user
			return
		}
		stream.ServeHTTP(w, r) // anonymous read-only access, where the portal allows it
	})
	return s
}

type callerKey struct{}

// WithCaller is how the portal hands the authenticated caller to ServeHTTP.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// verify accepts the token the portal has already verified (ServeHTTP runs after the
// portal's authentication): it binds the MCP session to that user.
func verify(ctx context.Context, _ string, _ *http.Request) (*sdkauth.TokenInfo, error) {
	c, ok := callerFrom(ctx)
	if !ok || c.User == nil {
		return nil, sdkauth.ErrInvalidToken
	}
	return &sdkauth.TokenInfo{UserID: c.User.Subject, Expiration: c.User.Expiry, Extra: map[string]any{"caller": c}}, nil
}

// ServeHTTP serves the MCP endpoint; r's context carries the caller (WithCaller).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// serverFor is the MCP server for a new session: the read tools, and the action tools the
// caller could use. Servers are shared by every caller with the same action tools.
func (s *Server) serverFor(r *http.Request) *mcp.Server {
	c, _ := callerFrom(r.Context())
	var acts []policy.Action
	if c.User != nil {
		acts = s.cfg.Portal.Actions(c.User)
	}
	key := fmt.Sprint(acts)
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv, ok := s.servers[key]; ok {
		return srv
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "portico", Title: "Portico", Version: s.cfg.Version}, &mcp.ServerOptions{
		Instructions: instructions, Logger: s.cfg.Log,
	})
	srv.AddReceivingMiddleware(s.rateLimit)
	s.addReadTools(srv)
	for _, a := range acts {
		s.addActionTool(srv, a)
	}
	s.addRunbooks(srv)
	addPrompts(srv)
	s.servers[key] = srv
	return srv
}

const instructions = `Portico is the company's developer portal: its service catalog, and for each service its
live state in Kubernetes, alerts, traces, pipelines, delivery metrics, scorecards and runbooks.
Entities are named like component:default/payment (or just payment). When something is
failing, start with the triage tool: it names the likely cause and what may be done about it.
Action tools act as the signed-in user, under their roles, and are audited. Call them first
without confirm to see the server's dry-run preview (nothing changes), show it to the user,
and only then call again with confirm: true. Production needs a reason and the workload's
name typed out (confirmName).`

// rateLimit refuses tool calls beyond the caller's rate.
func (s *Server) rateLimit(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "tools/call" {
			return next(ctx, method, req)
		}
		c := callerOf(req.GetExtra())
		key := "ip:" + c.IP
		if c.User != nil {
			key = "user:" + c.User.Subject
		}
		lim, ok := s.limits.Get(key)
		if !ok {
			lim = rate.NewLimiter(rate.Limit(s.cfg.PerSecond), max(1, s.cfg.Burst))
			s.limits.Add(key, lim)
		}
		if !lim.Allow() {
			s.cfg.Log.Warn("agent rate limited", "client", key)
			res := &mcp.CallToolResult{}
			res.SetError(fmt.Errorf("rate limited: at most %g tool calls a second (bursts of %d) per user; wait a moment and try again", s.cfg.PerSecond, s.cfg.Burst))
			return res, nil
		}
		return next(ctx, method, req)
	}
}

// callerOf is the caller of one request: the token's user, else anonymous.
func callerOf(extra *mcp.RequestExtra) Caller {
	if extra != nil && extra.TokenInfo != nil {
		if c, ok := extra.TokenInfo.Extra["caller"].(Caller); ok {
			return c
		}
	}
	return Caller{}
}

// clientName is the MCP client's name from its initialize request.
func clientName(req *mcp.CallToolRequest) string {
	if ss := req.Session; ss != nil {
		if p := ss.InitializeParams(); p != nil && p.ClientInfo != nil && p.ClientInfo.Name != "" {
			name := p.ClientInfo.Name
			if len(name) > 60 {
				name = name[:60]
			}
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return -1
				}
				return r
			}, name)
		}
	}
	return "unknown"
}

// apiError is the JSON API's answer when it refused or failed.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	word := map[int]string{400: "invalid", 401: "not signed in", 403: "forbidden", 404: "not found", 409: "conflict", 422: "invalid",
		429: "rate limited", 503: "unavailable", 504: "timed out"}[e.Status]
	if word == "" {
		word = fmt.Sprintf("error %d", e.Status)
	}
	return word + ": " + e.Message
}

// call runs one API request for a tool and decodes the answer into out.
func (s *Server) call(ctx context.Context, req *mcp.CallToolRequest, c Call, out any) error {
	c.Caller, c.Client = callerOf(req.GetExtra()), clientName(req)
	status, body := s.cfg.Portal.Call(ctx, c)
	if status >= 300 {
		var e api.Error
		if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
			e.Error.Message = http.StatusText(status)
		}
		return &apiError{Status: status, Message: e.Error.Message}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the portal's answer could not be read: %w", err)
	}
	return nil
}

// errTooLarge is an answer over the size limit.
var errTooLarge = errors.New("answer too large")

// answer is a tool's result: a summary a model can read, then the structured answer as JSON
// (for clients that ignore structured content), both bounded.
func (s *Server) answer(summary string, out any) (*mcp.CallToolResult, error) {
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if len(b)+len(summary) > s.cfg.MaxOutput {
		return nil, fmt.Errorf("%w: the answer is %d KB, over the %d KB limit; narrow the request (a smaller limit or tail, one cluster or pod)",
			errTooLarge, (len(b)+len(summary))>>10, s.cfg.MaxOutput>>10)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: summary}, &mcp.TextContent{Text: string(b)}}}, nil
}

// tool registers a typed tool whose run function returns a summary and the structured
// answer; each call has the configured timeout.
func tool[In, Out any](s *Server, srv *mcp.Server, t *mcp.Tool, run func(ctx context.Context, req *mcp.CallToolRequest, in In) (string, Out, error)) {
	// The schemas go in as JSON, marshalled once: the SDK would marshal a *jsonschema.Schema
	// by reflection on every tools/list, which made the list cost milliseconds.
	t.InputSchema, t.OutputSchema = schemaJSON[In](t.Name), schemaJSON[Out](t.Name)
	mcp.AddTool(srv, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		summary, out, err := run(ctx, req, in)
		var zero Out
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("timed out: the call took longer than %s; a backend may be slow or down", s.cfg.Timeout)
			}
			return nil, zero, err
		}
		res, err := s.answer(summary, out)
		if err != nil {
			return nil, zero, err
		}
		return res, out, nil
	})
}

// schemaOptions describe the types that marshal as text (entity refs, health levels) as the
// strings they are on the wire.
var schemaOptions = &jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
	reflect.TypeFor[catalog.Ref]():   {Type: "string", Description: "an entity reference, kind:namespace/name"},
	reflect.TypeFor[cluster.Level](): {Type: "string", Enum: levels()},
}}

func levels() []any {
	var out []any
	for l := cluster.Level(0); l <= cluster.Down; l++ {
		out = append(out, l.String())
	}
	return out
}

// schemaJSON is T's JSON schema, marshalled.
func schemaJSON[T any](tool string) json.RawMessage {
	sch, err := jsonschema.For[T](schemaOptions)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(sch); err == nil {
			return b
		}
	}
	panic(fmt.Sprintf("tool %s: schema of %T: %v", tool, *new(T), err)) // a test lists every tool
}

// readOnly are the annotations of every read tool.
func readOnly(title string) *mcp.ToolAnnotations {
	f := false
	return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: &f}
}

// entityPath is the API path of an entity named like component:default/payment, payment or
// group:team-payments (kind defaults to component, namespace to default).
func entityPath(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", errors.New("invalid: name an entity, like payment or component:default/payment")
	}
	kind, rest := "component", ref
	if i := strings.Index(ref, ":"); i >= 0 {
		kind, rest = ref[:i], ref[i+1:]
	}
	ns, name := "default", rest
	if i := strings.Index(rest, "/"); i >= 0 {
		ns, name = rest[:i], rest[i+1:]
	}
	if kind == "" || ns == "" || name == "" || strings.ContainsAny(name, "/?#") {
		return "", fmt.Errorf("invalid: %q is not an entity reference like component:default/payment", ref)
	}
	return "/api/v1/entities/" + url.PathEscape(strings.ToLower(kind)) + "/" + url.PathEscape(ns) + "/" + url.PathEscape(name), nil
}
