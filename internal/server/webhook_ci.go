package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/pipeline"
	"github.com/portico-dev/portico/internal/store"
)

// pipelineStore is what the server needs to keep CI events.
type pipelineStore interface {
	RecordDelivery(ctx context.Context, source, deliveryID string, ev pipeline.Event) (bool, error)
	PipelineRuns(ctx context.Context, projects []string, limit int) ([]store.RunWithJobs, error)
	BuildsOf(ctx context.Context, projects, images []string) (map[string]store.Build, error)
	SuccessfulImages(ctx context.Context, projects []string, limit int) ([]string, error)
	CommitsAhead(ctx context.Context, project, branch, sha string) (int, bool, error)
	CommitTime(ctx context.Context, project, sha string) time.Time
	Deployments(ctx context.Context, projects []string) ([]store.Deployment, error)
}

// PipelineSecrets are each CI provider's webhook secrets (two while rotating).
type PipelineSecrets struct {
	GitHub, GitLab, Generic []string
	// RequireSecurityScan refuses deploying to production an image whose run did not pass
	// its security-scan stage.
	RequireSecurityScan bool
}

// handleWebhookCI receives a CI/CD provider's deliveries: verified first (a missing or wrong
// signature or token is 401 and a log line), then parsed (malformed is 400), then stored once
// per delivery ID. Nothing is stored for a refused delivery.
func (s *Server) handleWebhookCI(provider string) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.Log.Warn("ci webhook refused: too large", "provider", provider, "remote", c.RealIP())
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "webhook payload over 1 MiB")
			}
			return fmt.Errorf("%w: Could not read the payload", derrors.Invalid)
		}
		h := req.Header
		var (
			ev       pipeline.Event
			delivery string
			authErr  error
		)
		switch provider {
		case "github":
			authErr = ingest.VerifySignature(s.PipelineSecrets.GitHub, body, h.Get("X-Hub-Signature-256"))
			delivery = h.Get("X-GitHub-Delivery")
			if authErr == nil {
				ev, err = pipeline.ParseGitHub(h.Get("X-GitHub-Event"), body, s.stages())
			}
		case "gitlab":
			if !pipeline.VerifyToken(s.PipelineSecrets.GitLab, h.Get("X-Gitlab-Token")) {
				authErr = errors.New("missing or wrong X-Gitlab-Token")
			}
			delivery = h.Get("X-Gitlab-Event-UUID")
			if authErr == nil {
				ev, err = pipeline.ParseGitLab(h.Get("X-Gitlab-Event"), body, s.stages())
			}
		case "generic":
			authErr = ingest.VerifySignature(s.PipelineSecrets.Generic, body, h.Get("X-Portico-Signature-256"))
			delivery = h.Get("X-Portico-Delivery")
			if authErr == nil {
				ev, err = pipeline.ParseGeneric(body, s.stages(), time.Now())
			}
		}
		if authErr != nil {
			s.Log.Warn("ci webhook refused: not authenticated", "provider", provider, "remote", c.RealIP(), "delivery", delivery, "err", authErr)
			return fmt.Errorf("%w: The delivery's signature or token is missing or does not match", derrors.Unauthenticated)
		}
		switch {
		case errors.Is(err, pipeline.ErrIgnored):
			return c.JSON(http.StatusAccepted, map[string]any{"ignored": true, "reason": "event not used"})
		case err != nil:
			s.Log.Warn("ci webhook refused: malformed", "provider", provider, "remote", c.RealIP(), "delivery", delivery, "err", err)
			return fmt.Errorf("%w: %v", derrors.Invalid, err)
		}
		if delivery == "" { // identical bodies are the same event
			sum := sha256.Sum256(body)
			delivery = "sha256:" + hex.EncodeToString(sum[:])
		}
		dup, err := s.Pipelines.RecordDelivery(req.Context(), provider, delivery, ev)
		if err != nil {
			return derrors.E(derrors.Unavailable, "The delivery could not be stored; it will be redelivered", err)
		}
		if dup {
			return c.JSON(http.StatusOK, map[string]any{"duplicate": true, "delivery": delivery})
		}
		if err := s.Bus.Publish(req.Context(), topicCI, ev.Project); err != nil {
			// Stored, and this replica's panels have it; the others' refresh on their own.
			s.Log.Warn("CI delivery not announced to the other replicas", "project", ev.Project, "err", err)
		}
		return c.JSON(http.StatusAccepted, map[string]any{"stored": ev.Kind, "project": ev.Project, "delivery": delivery})
	}
}

func (s *Server) stages() *pipeline.Mapper {
	if s.StageMapper != nil {
		return s.StageMapper
	}
	m, _ := pipeline.NewMapper(nil)
	return m
}
