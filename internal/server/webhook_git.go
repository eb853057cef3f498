package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/pipeline"
)

const maxWebhookBody = 1 << 20

// handleWebhookGit refreshes the git sources a verified push concerns. Unsigned or forged
// requests are refused with 401 and logged; they trigger nothing.
func (s *Server) handleWebhookGit(c echo.Context) error {
	req := c.Request()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "webhook payload over 1 MiB")
		}
		return fmt.Errorf("%w: Could not read the payload", derrors.Invalid)
	}
	if len(s.WebhookSecrets) == 0 {
		s.Log.Warn("git webhook refused: no webhook secret configured", "remote", c.RealIP())
		return fmt.Errorf("%w: Webhooks are disabled until catalog.webhookSecrets is configured", derrors.Unauthenticated)
	}
	// GitHub (and Gitea, Bitbucket Server) sign the body; GitLab cannot, and sends the
	// secret itself as X-Gitlab-Token, compared in constant time.
	if token := req.Header.Get("X-Gitlab-Token"); token != "" && req.Header.Get("X-Hub-Signature-256") == "" {
		if !pipeline.VerifyToken(s.WebhookSecrets, token) {
			s.Log.Warn("git webhook refused: wrong GitLab token", "remote", c.RealIP(), "event", req.Header.Get("X-Gitlab-Event"))
			return fmt.Errorf("%w: The X-Gitlab-Token header does not match a configured webhook secret", derrors.Unauthenticated)
		}
		switch event := req.Header.Get("X-Gitlab-Event"); event {
		case "Push Hook", "Tag Push Hook", "System Hook":
		default:
			return c.JSON(http.StatusAccepted, map[string]any{"ignored": event})
		}
	} else if err := ingest.VerifySignature(s.WebhookSecrets, body, req.Header.Get("X-Hub-Signature-256")); err != nil {
		s.Log.Warn("git webhook refused: bad signature", "remote", c.RealIP(), "delivery", req.Header.Get("X-GitHub-Delivery"),
			"signed", req.Header.Get("X-Hub-Signature-256") != "")
		return fmt.Errorf("%w: The X-Hub-Signature-256 header (or GitLab's X-Gitlab-Token) is missing or does not match", derrors.Unauthenticated)
	} else {
		switch event := req.Header.Get("X-GitHub-Event"); event {
		case "ping":
			return c.JSON(http.StatusOK, map[string]any{"ok": true})
		case "push", "":
		default:
			return c.JSON(http.StatusAccepted, map[string]any{"ignored": event})
		}
	}
	push, err := ingest.ParsePush(body)
	if err != nil {
		return fmt.Errorf("%w: %v", derrors.Invalid, err)
	}
	sources := s.Catalog.MatchPush(push)
	for _, name := range sources {
		s.Catalog.Trigger(name)
	}
	s.Log.Info("git webhook accepted", "ref", push.Ref, "sources", sources, "delivery", req.Header.Get("X-GitHub-Delivery"))
	if sources == nil {
		sources = []string{}
	}
	return c.JSON(http.StatusAccepted, map[string]any{"refreshing": sources})
}
