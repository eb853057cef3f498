package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/auth"
	"github.com/portico-dev/portico/internal/derrors"
)

// authService is what the server needs from sign-in.
type authService interface {
	Begin(w http.ResponseWriter, r *http.Request, next string) (string, error)
	Finish(w http.ResponseWriter, r *http.Request) (string, error)
	Current(w http.ResponseWriter, r *http.Request) (*auth.Session, error)
	End(w http.ResponseWriter, r *http.Request, after string) string
	Bearer(ctx context.Context, raw string) (auth.User, error)
}

// bearerToken returns the token of an "Authorization: Bearer" header, if any.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

type userKey struct{}

// userFrom returns the signed-in user, or nil for anonymous requests.
func userFrom(ctx context.Context) *auth.User {
	u, _ := ctx.Value(userKey{}).(*auth.User)
	return u
}

// publicPath needs no session: operations, assets, signed webhooks and sign-in itself.
func publicPath(p string) bool {
	for _, prefix := range []string{"/healthz", "/readyz", "/metrics", "/static/", "/webhooks/", "/auth/", "/.well-known/"} {
		if p == prefix || strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// public says whether a path is served to everyone: publicPath's, and the scorecard badges
// when they are configured public (for READMEs, which fetch images without a session).
func (s *Server) public(p string) bool {
	return publicPath(p) || s.PublicBadges && strings.HasPrefix(p, badgePrefix)
}

// authenticate puts the session's user in the request context. Without one, requests go on
// anonymously (read-only) when that is allowed; otherwise pages redirect to sign-in and the
// API answers 401.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if call := agentCallFrom(req.Context()); call != nil {
			// An agent's in-process call: /mcp authenticated the caller already.
			if call.Caller.User == nil && !s.Anonymous {
				return fmt.Errorf("%w: Sign in to use Portico", derrors.Unauthenticated)
			}
			if call.Caller.User != nil {
				c.SetRequest(req.WithContext(context.WithValue(req.Context(), userKey{}, call.Caller.User)))
			}
			return next(c)
		}
		mcp := req.URL.Path == mcpPath
		if tok, ok := bearerToken(req); ok && (strings.HasPrefix(req.URL.Path, "/api/") || mcp) {
			if s.Auth == nil {
				return fmt.Errorf("%w: This portal has no identity provider to check bearer tokens with", derrors.Unauthenticated)
			}
			u, err := s.Auth.Bearer(req.Context(), tok)
			if errors.Is(err, auth.ErrProviderDown) {
				return fmt.Errorf("%w: The identity provider is unreachable, so the token cannot be checked", derrors.Unavailable)
			}
			if err != nil {
				// The verifier's words (which check failed, expected values) go to the log only.
				s.Log.Info("bearer token refused", "err", err, "remote", c.RealIP())
				if mcp {
					s.challenge(c, true)
				}
				return fmt.Errorf("%w: The bearer token is not valid: it may have expired, be meant for another application, or not come from the identity provider; get a new one", derrors.Unauthenticated)
			}
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), userKey{}, &u)))
			return next(c)
		}
		if mcp {
			// MCP clients authenticate with a bearer token only: a browser's session cookie
			// is no credential here.
			if s.Anonymous {
				return next(c)
			}
			s.challenge(c, false)
			return fmt.Errorf("%w: Portico's MCP endpoint needs an OIDC token from the identity provider (Authorization: Bearer); see the resource metadata", derrors.Unauthenticated)
		}
		if s.Auth != nil {
			if sess, err := s.Auth.Current(c.Response(), req); err == nil {
				u := sess.User
				c.SetRequest(req.WithContext(context.WithValue(req.Context(), userKey{}, &u)))
				return next(c)
			}
		}
		if s.Anonymous || s.public(req.URL.Path) {
			return next(c)
		}
		if strings.HasPrefix(req.URL.Path, "/api/") || s.Auth == nil {
			return fmt.Errorf("%w: Sign in to use Portico", derrors.Unauthenticated)
		}
		login := "/auth/login?next=" + url.QueryEscape(req.URL.RequestURI())
		if req.Header.Get("HX-Request") == "true" {
			c.Response().Header().Set("HX-Redirect", login)
			return c.NoContent(http.StatusUnauthorized)
		}
		return c.Redirect(http.StatusFound, login)
	}
}

func (s *Server) handleLogin(c echo.Context) error {
	if s.Auth == nil {
		return fmt.Errorf("%w: Sign-in is not configured (see auth.oidc)", derrors.NotFound)
	}
	u, err := s.Auth.Begin(c.Response(), c.Request(), c.QueryParam("next"))
	if errors.Is(err, auth.ErrProviderDown) {
		return fmt.Errorf("%w: The identity provider is unreachable; try again in a moment", derrors.Unavailable)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, u)
}

func (s *Server) handleCallback(c echo.Context) error {
	if s.Auth == nil {
		return fmt.Errorf("%w: Sign-in is not configured", derrors.NotFound)
	}
	next, err := s.Auth.Finish(c.Response(), c.Request())
	switch {
	case errors.Is(err, auth.ErrLogin):
		s.Log.Warn("sign-in failed", "err", err, "remote", c.RealIP())
		return derrors.E(derrors.Unauthenticated, "Sign-in did not complete: the identity provider's answer could not be verified (it may have expired, or been used already). Sign in again", err)
	case errors.Is(err, auth.ErrProviderDown):
		return fmt.Errorf("%w: The identity provider is unreachable; try again in a moment", derrors.Unavailable)
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusFound, next)
}

func (s *Server) handleLogout(c echo.Context) error {
	if s.Auth == nil {
		return c.Redirect(http.StatusFound, "/")
	}
	after := s.BaseURL + "/"
	return c.Redirect(http.StatusFound, s.Auth.End(c.Response(), c.Request(), after))
}
