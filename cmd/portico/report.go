package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/portico-dev/portico/internal/ingest"
	"github.com/portico-dev/portico/internal/pipeline"
)

// stageFlags collects repeated --stage name=status flags.
type stageFlags []pipeline.GenericStage

func (s *stageFlags) String() string { return fmt.Sprint(*s) }

func (s *stageFlags) Set(v string) error {
	name, status, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=status, e.g. \"unit tests=success\"")
	}
	if _, err := pipeline.ParseStatus(status); err != nil {
		return err
	}
	*s = append(*s, pipeline.GenericStage{Name: name, Status: status})
	return nil
}

// runReport sends a generic pipeline event, signed with the secret in --secret-env, and
// prints the portal's answer. Exit 1 when the portal refuses it, 2 on bad flags.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico pipeline report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", getenv("PORTICO_URL"), "the portal's base URL (PORTICO_URL)")
	secretEnv := fs.String("secret-env", "PORTICO_PIPELINE_SECRET", "environment variable holding the signing secret")
	var ev pipeline.GenericEvent
	fs.StringVar(&ev.Source, "source", "script", "the CI system: jenkins, tekton, argo, …")
	fs.StringVar(&ev.Project, "project", "", "repository slug, as the component's project-slug annotation names it (required)")
	fs.StringVar(&ev.Run.ID, "run-id", "", "the run's ID, unique in the project (required)")
	fs.StringVar(&ev.Run.Name, "run-name", "", "the pipeline's name")
	fs.StringVar(&ev.Run.URL, "run-url", "", "link to the run in the CI")
	fs.StringVar(&ev.Run.Status, "status", "", "the run's status: queued, running, success, failed, cancelled, skipped")
	fs.StringVar(&ev.Run.Branch, "branch", "", "branch")
	fs.StringVar(&ev.Run.Commit, "commit", "", "commit SHA")
	fs.StringVar(&ev.Run.Author, "author", "", "who triggered it")
	fs.StringVar(&ev.Run.Trigger, "trigger", "", "push, schedule, manual, …")
	fs.StringVar(&ev.Image, "image", "", "an image the run produced")
	delivery := fs.String("delivery", "", "a unique ID for this event (default: project/run/time)")
	var stages stageFlags
	fs.Var(&stages, "stage", "a stage's state, name=status (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	secret := getenv(*secretEnv)
	switch {
	case *url == "" || ev.Project == "" || ev.Run.ID == "":
		fmt.Fprintln(stderr, "portico pipeline report: --url, --project and --run-id are required")
		return exitError(2)
	case secret == "":
		fmt.Fprintf(stderr, "portico pipeline report: %s holds no signing secret\n", *secretEnv)
		return exitError(2)
	}
	if ev.Run.Status != "" {
		if _, err := pipeline.ParseStatus(ev.Run.Status); err != nil {
			fmt.Fprintln(stderr, "portico pipeline report: --status:", err)
			return exitError(2)
		}
	}
	ev.Stages, ev.At = stages, time.Now().UTC()
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if *delivery == "" {
		*delivery = fmt.Sprintf("%s/%s/%d", ev.Project, ev.Run.ID, ev.At.UnixNano())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*url, "/")+"/webhooks/pipeline", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Portico-Signature-256", ingest.Sign(secret, body))
	req.Header.Set("X-Portico-Delivery", *delivery)
	res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("send the event: %w", err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	fmt.Fprintf(stdout, "%s %s\n", res.Status, bytes.TrimSpace(answer))
	if res.StatusCode >= 300 {
		return exitError(1)
	}
	return nil
}
