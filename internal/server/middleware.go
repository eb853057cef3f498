package server

import (
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

const contentSecurityPolicy = "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// Operational says whether a path is one of the portal's own plumbing (probes, metrics, static
// files), which the request log and the request traces leave out.
func Operational(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics" || strings.HasPrefix(path, "/static/")
}

func (s *Server) middleware() {
	e := s.echo
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "portico_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
	// Open live streams (SSE), by route: each is a held connection and a subscription.
	streams := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "portico_sse_subscribers", Help: "Open server-sent event streams, by route.",
	}, []string{"route"})
	s.Registry.MustRegister(requests, latency, streams)

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(middleware.RequestID())
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if r := c.Path(); strings.HasSuffix(r, "/events") || strings.HasSuffix(r, "/stream") {
				g := streams.WithLabelValues(r)
				g.Inc()
				defer g.Dec()
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			// The server span (started around the handler by otelhttp) is named by its route.
			span := trace.SpanFromContext(c.Request().Context())
			span.SetName(c.Request().Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
			err := next(c)
			if err != nil {
				c.Error(err) // write the error page now so the status below is the real one
			}
			status := c.Response().Status
			requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
			latency.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
			if !Operational(route) {
				s.Log.Info("request", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
					"method", c.Request().Method, "path", c.Request().URL.Path, "route", route, "status", status,
					"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", c.RealIP())
			}
			return nil
		}
	})
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ReferrerPolicy: "same-origin", ContentSecurityPolicy: contentSecurityPolicy,
		HSTSMaxAge: 63072000, // sent only over TLS (directly or X-Forwarded-Proto: https)
	}))
	e.Use(middleware.BodyLimit("2M"))
	e.Use(s.authenticate)
	e.Use(s.authorizeView)
	// Every state-changing request authenticated by a cookie carries a CSRF token (a form
	// field, or the X-CSRF-Token header for scripts in the page); requests with a bearer
	// token carry no ambient credential, and webhooks are signed.
	e.Use(middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup: "form:_csrf,header:X-CSRF-Token", CookieName: "portico_csrf", CookiePath: "/",
		CookieHTTPOnly: true, CookieSameSite: http.SameSiteStrictMode, CookieSecure: strings.HasPrefix(s.BaseURL, "https://"),
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			_, bearer := bearerToken(c.Request())
			// Agents' in-process calls and MCP requests carry no cookie: /mcp takes bearer
			// tokens only (or anonymous reads).
			return (bearer && strings.HasPrefix(p, "/api/")) || p == mcpPath || agentCallFrom(c.Request().Context()) != nil ||
				strings.HasPrefix(p, "/webhooks/") || strings.HasPrefix(p, "/static/")
		},
	}))
}

// staticHandler serves the embedded assets. Pages link them with ?v=<digest>, so those URLs
// can be cached for good; anything else is revalidated.
func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServer(http.FS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// limit is a per-client-address rate limit (the address as IPExtractor decides it); over it,
// requests answer 429 with Retry-After and are logged.
func (s *Server) limit(name string, l RateLimit) echo.MiddlewareFunc {
	if l.PerSecond <= 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(l.PerSecond), Burst: l.Burst, ExpiresIn: 3 * time.Minute})
	retry := strconv.Itoa(max(1, int(1/l.PerSecond+0.5)))
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               store,
		IdentifierExtractor: func(c echo.Context) (string, error) { return c.RealIP(), nil },
		DenyHandler: func(c echo.Context, id string, _ error) error {
			s.Log.Warn("rate limited", "limit", name, "client", id, "path", c.Request().URL.Path)
			c.Response().Header().Set("Retry-After", retry)
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many requests from your address: wait a moment and try again")
		},
		ErrorHandler: func(c echo.Context, err error) error { return err },
	})
}
