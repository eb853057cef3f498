package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/agent"
	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
)

// MCPConfig configures the agent interface at /mcp.
type MCPConfig struct {
	Enabled bool
	// Issuer is the identity provider MCP clients get tokens from, published in the
	// protected-resource metadata.
	Issuer string
	// PerSecond and Burst bound tool calls per user; Timeout one call; MaxOutput its answer.
	PerSecond float64
	Burst     int
	Timeout   time.Duration
	MaxOutput int
}

const (
	mcpPath          = "/mcp"
	resourceMetadata = "/.well-known/oauth-protected-resource"
)

// agentCallKey marks a request the agent interface makes in-process on a user's behalf; only
// Call sets it, so no request from outside carries it.
type agentCallKey struct{}

func agentCallFrom(ctx context.Context) *agent.Call {
	c, _ := ctx.Value(agentCallKey{}).(*agent.Call)
	return c
}

// newAgent builds the MCP server over this portal's JSON API.
func (s *Server) newAgent() *agent.Server {
	return agent.New(agent.Config{Portal: agentPortal{s}, Runbooks: s.Runbooks, Version: s.Version, Log: s.Log,
		Features:  agent.Features{Alerts: s.Alerts != nil, Traces: s.Traces != nil, Pipelines: s.Pipelines != nil, Audit: s.Audit != nil},
		PerSecond: s.MCP.PerSecond, Burst: s.MCP.Burst, Timeout: s.MCP.Timeout, MaxOutput: s.MCP.MaxOutput})
}

// handleMCP is the MCP endpoint. authenticate has checked the bearer token (or allowed an
// anonymous, read-only caller); users who may view nothing are refused here, since tool calls
// are POSTs that authorizeView does not look at.
func (s *Server) handleMCP(c echo.Context) error {
	ctx := c.Request().Context()
	u := userFrom(ctx)
	if u != nil && !s.mayViewSomething(ctx) {
		return fmt.Errorf("%w: None of your groups has a role that may view Portico; ask a Portico admin", derrors.Forbidden)
	}
	if c.Request().Method == http.MethodGet {
		// The server-to-client stream stays open: no write deadline.
		_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Time{})
	}
	s.agent.ServeHTTP(c.Response(), c.Request().WithContext(agent.WithCaller(ctx, agent.Caller{User: u, IP: c.RealIP()})))
	return nil
}

// handleResourceMetadata is the OAuth protected-resource metadata (RFC 9728) MCP clients
// read to find the identity provider to get a token from.
func (s *Server) handleResourceMetadata(c echo.Context) error {
	base := s.BaseURL
	if base == "" {
		scheme := "http"
		if c.IsTLS() {
			scheme = "https"
		}
		base = scheme + "://" + c.Request().Host
	}
	meta := map[string]any{"resource": base + mcpPath, "bearer_methods_supported": []string{"header"},
		"scopes_supported": []string{"openid", "email", "profile", "groups"}, "resource_name": "Portico",
		"resource_documentation": base + "/runbooks"}
	if s.MCP.Issuer != "" {
		meta["authorization_servers"] = []string{s.MCP.Issuer}
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, meta)
}

// challenge is the WWW-Authenticate header of a refused MCP request, pointing at the metadata.
func (s *Server) challenge(c echo.Context, invalid bool) {
	base := s.BaseURL
	if base == "" {
		base = "http://" + c.Request().Host
	}
	h := fmt.Sprintf(`Bearer resource_metadata=%q`, base+resourceMetadata+mcpPath)
	if invalid {
		h += `, error="invalid_token"`
	}
	c.Response().Header().Set("WWW-Authenticate", h)
}

// agentPortal is the portal as the agent interface sees it.
type agentPortal struct{ s *Server }

// Call runs one JSON API request in-process through the router, as the caller.
func (p agentPortal) Call(ctx context.Context, call agent.Call) (int, []byte) {
	var body *bytes.Reader
	if call.Body != nil {
		b, err := json.Marshal(call.Body)
		if err != nil {
			return http.StatusBadRequest, apiErrorBody(http.StatusBadRequest, "the arguments could not be encoded")
		}
		body = bytes.NewReader(b)
	} else {
		body = bytes.NewReader(nil)
	}
	target := call.Path
	if len(call.Query) > 0 {
		target += "?" + call.Query.Encode()
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, agentCallKey{}, &call), call.Method, target, body)
	if err != nil {
		return http.StatusBadRequest, apiErrorBody(http.StatusBadRequest, "the request could not be made: "+err.Error())
	}
	req.RemoteAddr = net.JoinHostPort(orDefault(call.Caller.IP, "127.0.0.1"), "0")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	p.s.echo.ServeHTTP(w, req)
	return w.status, w.body.Bytes()
}

// Actions are the workload actions u could take through an agent on some service.
func (p agentPortal) Actions(u *auth.User) []policy.Action {
	sub := p.s.subjectOf(u)
	pol := p.s.Policy.ForAgents()
	owns := false
	if len(sub.Teams) > 0 {
		snap := p.s.Catalog.Snapshot()
		for _, r := range snap.Records() {
			if observes(r.Entity) && slices.Contains(sub.Teams, access.Target(snap, r.Entity, "", "", "").Owner) {
				owns = true
				break
			}
		}
	}
	var out []policy.Action
	for _, a := range actions.Writes {
		if pol.MayAnywhere(sub, a, owns) {
			out = append(out, a)
		}
	}
	return out
}

func apiErrorBody(status int, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"status": status, "message": msg}})
	return b
}

// recorder is the in-process response of an agent's API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
func (r *recorder) Flush() {}

// channel is where a request came from, for the audit log, and whether an agent made it.
func channel(c echo.Context) (string, bool) {
	if call := agentCallFrom(c.Request().Context()); call != nil {
		return "mcp:" + call.Client, true
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		return "api", false
	}
	return "ui", false
}
