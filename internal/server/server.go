// Package server is Portico's HTTP layer: echo routes, handlers that map domain results to
// view models, templ rendering, the JSON API, webhooks and operational endpoints.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/internal/access"
	"github.com/portico-dev/portico/internal/actions"
	"github.com/portico-dev/portico/internal/agent"
	"github.com/portico-dev/portico/internal/audit"
	"github.com/portico-dev/portico/internal/catalog"
	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/notify"
	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/runbooks"
	"github.com/portico-dev/portico/internal/scorecard"
	"github.com/portico-dev/portico/web/components"
	"github.com/portico-dev/portico/web/static"
)

// catalogService is what the server needs from the catalog refresher.
type catalogService interface {
	Snapshot() *catalog.Snapshot
	Statuses() []ingest.SourceInfo
	Ready() bool
	MatchPush(p ingest.Push) []string
	Trigger(source string)
}

// runbookLibrary is what the server needs from the runbooks.
type runbookLibrary interface {
	List(q string) []*runbooks.Runbook
	Get(path string) (*runbooks.Runbook, bool)
	HTML(b *runbooks.Runbook) (string, error)
	SectionHTML(b *runbooks.Runbook, word string) (string, error)
}

type pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the server's collaborators, built by cmd/portico.
type Deps struct {
	Catalog        catalogService
	Clusters       clusterService // nil when no cluster is configured
	Auth           authService    // nil when no identity provider is configured
	Anonymous      bool           // read-only browsing without signing in
	BaseURL        string         // the portal's public URL, for redirects after sign-out
	Runbooks       runbookLibrary
	DB             pinger
	Registry       *prometheus.Registry
	Log            *slog.Logger
	WebhookSecrets []string
	Version        string
	Policy         *policy.Policy // nil: policy.Default()
	Audit          auditLog
	ActionsConfig  ActionsConfig
	Actions        *actions.Service // the write path; nil: built from ActionsConfig, Policy, Audit and Pipelines
	Metrics        metricsService   // nil when no Prometheus is configured
	Alerts         alertService     // nil when neither Prometheus nor Alertmanager is configured
	Traces         traceService     // nil when no Jaeger is configured
	AlertRules     ruleSource       // nil when no Prometheus is configured
	// Scorecards are the compiled production-readiness checks; nil: the built-in ones.
	Scorecards *scorecard.Set
	ScoreStore scoreStore // exemptions and daily snapshots; nil: neither
	// PublicBadges serves the scorecard badges (a level and a score) without sign-in.
	PublicBadges    bool
	Pipelines       pipelineStore // nil: no CI webhooks
	PipelineSecrets PipelineSecrets
	StageMapper     *pipeline.Mapper // nil: the default stage patterns
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client; with
	// none, the client is the connection's peer (a forged header is ignored).
	TrustedProxies []*net.IPNet
	// MCP is the agent interface at /mcp (off unless enabled).
	MCP MCPConfig
	// AuthRateLimit and WebhookRateLimit bound requests per client address to /auth/* and
	// /webhooks/* (zero: no limit).
	AuthRateLimit, WebhookRateLimit RateLimit
	// Bus tells every replica of a change made on this one (a CI delivery); nil: this
	// process only.
	Bus bus
	// Leading reports whether this replica does the background work (the scorecards' daily
	// snapshots); nil: it always does.
	Leading func() bool
}

// bus carries change notices to the other replicas and theirs to this one.
type bus interface {
	Publish(ctx context.Context, topic, key string) error
	Subscribe(topic string, fn func(notify.Notice))
}

// topicCI is the notice of a stored CI delivery; its key is the delivery's project.
const topicCI = "ci"

// RateLimit is a token bucket per client address: PerSecond, up to Burst at once.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// ActionsConfig bounds the workload actions.
type ActionsConfig struct {
	MaxReplicas            int32
	ProductionEnvironments []string
}

// Server serves the portal.
type Server struct {
	Deps
	echo        *echo.Echo
	actionsDone *prometheus.CounterVec // outcomes of the write path, by action and result
	access      *access.Authorizer
	actions     *actions.Service
	teams       teamCache
	comps       componentCache
	ciEvents    ciHub
	services    jaegerIndex // components by the service name their traces carry
	triages     shared[triageEntry]
	fires       shared[incidents]
	scores      *scoreboard
	scorePages  shared[[]byte]
	ciFacts     shared[map[string]any]
	exempts     *actions.Exemptions
	agent       *agent.Server   // nil: /mcp is off
	draining    context.Context // done once the server shuts down: live streams end
	endStreams  context.CancelFunc
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Policy == nil {
		d.Policy = policy.Default()
	}
	if d.Bus == nil {
		d.Bus = &notify.Local{}
	}
	if d.Leading == nil {
		d.Leading = func() bool { return true }
	}
	if d.ActionsConfig.MaxReplicas == 0 {
		d.ActionsConfig.MaxReplicas = 50
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	if len(d.TrustedProxies) > 0 {
		// Only the configured proxies are believed: echo's defaults would also trust any
		// loopback, link-local or private peer.
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range d.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	if d.Scorecards == nil {
		set, err := scorecard.Compile(scorecard.Builtin(), nil)
		if err != nil {
			panic("built-in scorecard checks: " + err.Error()) // a test compiles them
		}
		d.Scorecards = set
	}
	s := &Server{Deps: d, echo: e, access: access.New(d.Policy, d.Anonymous), actions: d.Actions, scores: newScoreboard()}
	s.draining, s.endStreams = context.WithCancel(context.Background())
	d.Bus.Subscribe(topicCI, func(n notify.Notice) {
		if n.Resync {
			s.ciEvents.notifyAll() // deliveries may have come in unheard: every panel reloads
			return
		}
		s.ciEvents.notify(n.Key)
	})
	if s.actions == nil {
		s.actions = actions.New(actions.Config{MaxReplicas: d.ActionsConfig.MaxReplicas, ProductionEnvironments: d.ActionsConfig.ProductionEnvironments,
			RequireSecurityScan: d.PipelineSecrets.RequireSecurityScan}, d.Policy, d.Audit, d.Pipelines, d.Log)
	}
	s.actionsDone = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_actions_total", Help: "Deploys, rollbacks, scales and restarts asked for, by action and audited result.",
	}, []string{"action", "result"})
	for _, a := range []policy.Action{policy.Deploy, policy.Rollback, policy.Scale, policy.Restart} {
		for _, r := range audit.Results { // present at 0, so rate() and alerts work before a first action
			s.actionsDone.WithLabelValues(string(a), string(r))
		}
	}
	d.Registry.MustRegister(s.actionsDone)
	var xs exemptionStore
	if d.ScoreStore != nil {
		xs = d.ScoreStore
	}
	s.exempts = actions.NewExemptions(d.Policy, d.Audit, xs)
	if d.MCP.Enabled {
		s.agent = s.newAgent()
	}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes a component, rendered into a pooled buffer first so a rendering error becomes
// a proper error page rather than half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// page renders body inside the layout.
func (s *Server) page(c echo.Context, status int, p components.Page, body templ.Component) error {
	p.Version = s.Version
	p.Assets = static.Version
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	p.Problems = s.Catalog.Snapshot().Errors()
	p.SignIn = s.Auth != nil
	p.Alerts = s.Alerts != nil
	p.Pipelines = s.Pipelines != nil
	if u := userFrom(c.Request().Context()); u != nil {
		p.User = u.Name
		if p.User == "" {
			p.User = u.Subject
		}
	}
	p.CSRF, _ = c.Get("csrf").(string)
	return render(c, status, components.Layout(p, body))
}

// handleError maps an error to a status and a fixed, helpful message, once for all handlers.
// Users never see err.Error() of an unexpected failure; the log gets it with the request ID.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, title, msg := classify(err)
	log := s.Log.With("request_id", c.Response().Header().Get(echo.HeaderXRequestID), "method", c.Request().Method, "path", c.Request().URL.Path, "status", status)
	if status >= 500 {
		log.Error("request failed", "err", err)
	} else {
		log.Info("request refused", "err", err)
	}
	path := c.Request().URL.Path
	if strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/webhooks/") || path == mcpPath {
		_ = c.JSON(status, map[string]any{"error": map[string]any{"status": status, "message": msg}})
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if h := c.Request().Header; h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true" {
		// A lazy panel (or another fragment htmx loads): the error goes inside the panel,
		// with a retry, keeping the status; app.js lets htmx swap it in.
		c.Response().Header().Set("X-Portico-Panel-Error", "1")
		_ = render(c, status, components.PanelErrorView(components.PanelError{ID: h.Get("HX-Target"), Panel: panelName(path),
			Status: status, Message: msg, RetryURL: c.Request().URL.RequestURI()}))
		return
	}
	_ = s.page(c, status, components.Page{Title: title}, components.ErrorView(components.ErrorPage{Status: status, Title: title, Message: msg}))
}

// classify maps an error to its status, a title and the message users see.
func classify(err error) (int, string, string) {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		if he.Code == http.StatusNotFound {
			return he.Code, "Page not found", "There is no page at this address."
		}
		return he.Code, http.StatusText(he.Code), fmt.Sprint(he.Message)
	case errors.Is(err, derrors.NotFound):
		return http.StatusNotFound, "Not found", userMessage(err)
	case errors.Is(err, derrors.Invalid):
		return http.StatusBadRequest, "Invalid request", userMessage(err)
	case errors.Is(err, derrors.Unauthenticated):
		return http.StatusUnauthorized, "Not signed in", userMessage(err)
	case errors.Is(err, derrors.Forbidden):
		return http.StatusForbidden, "Not allowed", userMessage(err)
	case errors.Is(err, derrors.Conflict):
		return http.StatusConflict, "Changed meanwhile", userMessage(err)
	case errors.Is(err, derrors.Unavailable):
		return http.StatusServiceUnavailable, "Temporarily unavailable", userMessage(err)
	}
	return http.StatusInternalServerError, "Something went wrong", "The portal could not complete this request. It has been logged; try again, and report the request ID if it keeps happening."
}

// userMessage is the part of an error of a known kind meant for users: a derrors.Error's
// message (its cause is for the log), or for errors made as fmt.Errorf("%w: What the user
// should know", derrors.Kind) the text after the kind.
func userMessage(err error) string {
	var de *derrors.Error
	m := err.Error()
	if errors.As(err, &de) {
		m = de.Msg
	}
	for _, kind := range []error{derrors.NotFound, derrors.Invalid, derrors.Unauthenticated, derrors.Forbidden, derrors.Conflict, derrors.Unavailable} {
		m = strings.TrimPrefix(m, kind.Error()+": ")
	}
	if m == "" {
		return "No further detail."
	}
	// The words are the author's: no case is changed (a message may start with an e-mail or a
	// name), only the full stop is added.
	if !strings.HasSuffix(m, ".") && !strings.HasSuffix(m, "?") && !strings.HasSuffix(m, "!") {
		m += "."
	}
	return m
}

// panelName names the panel a fragment URL serves, for its error card.
func panelName(path string) string {
	names := map[string]string{"runtime": "Runtime", "metrics": "Metrics", "alerts": "Alerts", "traces": "Traces",
		"dependencies": "Observed dependencies", "pipelines": "Pipelines", "dora": "Delivery metrics", "logs": "Logs", "progress": "Progress"}
	if n, ok := names[path[strings.LastIndexByte(path, '/')+1:]]; ok {
		return n
	}
	return "This part of the page"
}
