package pipeline

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// GenericEvent is Portico's own CI event, for Jenkins, Tekton, Argo Workflows or scripts
// (see README, "Pipelines"). It is sent as JSON, signed like GitHub's deliveries: header
// X-Portico-Signature-256: sha256=<HMAC-SHA256 of the body>; X-Portico-Delivery: <unique ID>.
type GenericEvent struct {
	Source  string         `json:"source"`  // jenkins, tekton, argo, …
	Project string         `json:"project"` // repository slug, as the catalog's project-slug annotations name it
	Run     GenericRun     `json:"run"`
	Stages  []GenericStage `json:"stages,omitempty"`
	Image   string         `json:"image,omitempty"` // an image the run produced
	Deploy  *GenericDeploy `json:"deployment,omitempty"`
	At      time.Time      `json:"timestamp,omitzero"` // when this state was reached (default: now)
}

// GenericRun is the run an event is about.
type GenericRun struct {
	ID         string    `json:"id"`
	Name       string    `json:"name,omitempty"`
	URL        string    `json:"url,omitempty"`
	Branch     string    `json:"branch,omitempty"`
	Commit     string    `json:"commit,omitempty"`
	Author     string    `json:"author,omitempty"`
	Message    string    `json:"message,omitempty"`
	Trigger    string    `json:"trigger,omitempty"`
	Status     string    `json:"status,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// GenericStage is one stage (job) of the run.
type GenericStage struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	URL        string    `json:"url,omitempty"`
	Image      string    `json:"image,omitempty"`
}

// GenericDeploy reports a deployment the run made.
type GenericDeploy struct {
	ID          string `json:"id,omitempty"`
	Environment string `json:"environment"`
	Status      string `json:"status"`
}

// ParseStatus reads the generic event's statuses (and common synonyms).
func ParseStatus(s string) (Status, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "queued", "pending", "waiting", "created", "scheduled":
		return Queued, nil
	case "running", "in_progress", "started":
		return Running, nil
	case "success", "succeeded", "passed", "ok":
		return Success, nil
	case "failed", "failure", "error", "errored":
		return Failed, nil
	case "cancelled", "canceled", "aborted":
		return Cancelled, nil
	case "skipped", "not_built":
		return Skipped, nil
	}
	return "", fmt.Errorf("unknown status %q (want queued, running, success, failed, cancelled or skipped)", s)
}

// ParseGeneric reads a generic event, strictly: unknown fields and bad values are errors.
func ParseGeneric(body []byte, m *Mapper, now time.Time) (Event, error) {
	if err := bounded("generic event", body); err != nil {
		return Event{}, err
	}
	var g GenericEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return Event{}, malformed("generic event: %v", err)
	}
	var errs []error
	if g.Project == "" {
		errs = append(errs, errors.New("project is required"))
	}
	if g.Run.ID == "" {
		errs = append(errs, errors.New("run.id is required"))
	}
	at := g.At
	if at.IsZero() {
		at = now
	}
	source := g.Source
	if source == "" {
		source = "generic"
	}
	run := &Run{ID: g.Run.ID, Name: g.Run.Name, URL: g.Run.URL, Branch: g.Run.Branch, Commit: g.Run.Commit, Author: g.Run.Author,
		Message: firstLine(g.Run.Message), Trigger: g.Run.Trigger, StartedAt: g.Run.StartedAt.UTC(), FinishedAt: g.Run.FinishedAt.UTC(), UpdatedAt: at.UTC(), CreatedAt: g.Run.StartedAt.UTC()}
	if g.Run.Status == "" {
		run.Partial = true
	} else if st, err := ParseStatus(g.Run.Status); err != nil {
		errs = append(errs, fmt.Errorf("run.status: %v", err))
	} else {
		run.Status = st
	}
	ev := Event{Source: "generic:" + source, Kind: "run", Project: g.Project, Run: run}
	for i, s := range g.Stages {
		st, err := ParseStatus(s.Status)
		if err != nil {
			errs = append(errs, fmt.Errorf("stages[%d].status: %v", i, err))
			continue
		}
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("stages[%d].name is required", i))
			continue
		}
		ev.Jobs = append(ev.Jobs, Job{RunID: run.ID, ID: s.Name, Name: s.Name, Stage: m.Stage(s.Name), Status: st, URL: s.URL, Image: s.Image,
			StartedAt: s.StartedAt.UTC(), FinishedAt: s.FinishedAt.UTC(), UpdatedAt: at.UTC()})
	}
	if g.Image != "" {
		ev.Jobs = append(ev.Jobs, Job{RunID: run.ID, ID: "image", Name: "image", Stage: ImageBuild, Status: Success, Image: g.Image, UpdatedAt: at.UTC()})
	}
	if d := g.Deploy; d != nil {
		st, err := ParseStatus(d.Status)
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment.status: %v", err))
		}
		id := d.ID
		if id == "" {
			id = run.ID + "/" + d.Environment
		}
		ev.Deployment = &Deployment{ID: id, Environment: d.Environment, Commit: run.Commit, Status: st, Image: g.Image, UpdatedAt: at.UTC()}
	}
	if len(errs) > 0 {
		return Event{}, malformed("generic event: %v", errors.Join(errs...))
	}
	return ev, nil
}

// VerifyToken compares a GitLab X-Gitlab-Token with the configured secrets in constant time.
func VerifyToken(secrets []string, token string) bool {
	ok := false
	for _, s := range secrets {
		if s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 {
			ok = true
		}
	}
	return ok
}
