package pipeline

import (
	"encoding/json"
	"strconv"
	"strings"
)

// ParseGitHub reads a GitHub delivery; event is its X-GitHub-Event header.
func ParseGitHub(event string, body []byte, m *Mapper) (Event, error) {
	if err := bounded("GitHub delivery", body); err != nil {
		return Event{}, err
	}
	switch event {
	case "workflow_run":
		return githubRun(body)
	case "workflow_job":
		return githubJob(body, m)
	case "check_run":
		return githubCheck(body, m)
	case "push":
		return githubPush(body)
	case "deployment", "deployment_status":
		return githubDeployment(event, body)
	case "ping":
		return Event{}, ErrIgnored
	}
	return Event{}, ErrIgnored
}

type ghRepo struct {
	FullName string `json:"full_name"`
}

type ghUser struct {
	Login string `json:"login"`
}

// githubStatus maps status + conclusion.
func githubStatus(status, conclusion string) Status {
	switch status {
	case "in_progress":
		return Running
	case "completed":
		switch conclusion {
		case "success":
			return Success
		case "cancelled", "stale":
			return Cancelled
		case "skipped", "neutral":
			return Skipped
		case "action_required":
			return Queued
		}
		return Failed // failure, timed_out, startup_failure
	}
	return Queued // queued, requested, waiting, pending
}

func githubRun(body []byte) (Event, error) {
	var p struct {
		WorkflowRun *struct {
			ID           int64  `json:"id"`
			Name         string `json:"name"`
			HTMLURL      string `json:"html_url"`
			HeadBranch   string `json:"head_branch"`
			HeadSHA      string `json:"head_sha"`
			Event        string `json:"event"`
			Status       string `json:"status"`
			Conclusion   string `json:"conclusion"`
			CreatedAt    string `json:"created_at"`
			UpdatedAt    string `json:"updated_at"`
			RunStartedAt string `json:"run_started_at"`
			Actor        ghUser `json:"actor"`
			HeadCommit   struct {
				Message string `json:"message"`
				Author  struct {
					Name string `json:"name"`
				} `json:"author"`
			} `json:"head_commit"`
		} `json:"workflow_run"`
		Workflow struct {
			Name string `json:"name"`
		} `json:"workflow"`
		Repository ghRepo `json:"repository"`
		Sender     ghUser `json:"sender"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("workflow_run: %v", err)
	}
	w := p.WorkflowRun
	if w == nil || w.ID == 0 || p.Repository.FullName == "" {
		return Event{}, malformed("workflow_run: no workflow_run.id or repository")
	}
	r := &Run{ID: strconv.FormatInt(w.ID, 10), Name: w.Name, URL: w.HTMLURL, Branch: w.HeadBranch, Commit: w.HeadSHA, Trigger: w.Event,
		Message: firstLine(w.HeadCommit.Message), Author: w.HeadCommit.Author.Name, Status: githubStatus(w.Status, w.Conclusion),
		CreatedAt: parseTime(w.CreatedAt), StartedAt: parseTime(w.RunStartedAt), UpdatedAt: parseTime(w.UpdatedAt)}
	if r.Name == "" {
		r.Name = p.Workflow.Name
	}
	if r.Author == "" {
		r.Author = w.Actor.Login
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = r.CreatedAt
	}
	if r.Status.Final() {
		r.FinishedAt = r.UpdatedAt
	}
	return Event{Source: "github", Kind: "run", Project: p.Repository.FullName, Run: r}, nil
}

func githubJob(body []byte, m *Mapper) (Event, error) {
	var p struct {
		WorkflowJob *struct {
			ID          int64  `json:"id"`
			RunID       int64  `json:"run_id"`
			Name        string `json:"name"`
			HTMLURL     string `json:"html_url"`
			HeadSHA     string `json:"head_sha"`
			HeadBranch  string `json:"head_branch"`
			Status      string `json:"status"`
			Conclusion  string `json:"conclusion"`
			CreatedAt   string `json:"created_at"`
			StartedAt   string `json:"started_at"`
			CompletedAt string `json:"completed_at"`
			Workflow    string `json:"workflow_name"`
		} `json:"workflow_job"`
		Repository ghRepo `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("workflow_job: %v", err)
	}
	j := p.WorkflowJob
	if j == nil || j.ID == 0 || j.RunID == 0 || p.Repository.FullName == "" {
		return Event{}, malformed("workflow_job: no workflow_job.id, run_id or repository")
	}
	job := Job{RunID: strconv.FormatInt(j.RunID, 10), ID: strconv.FormatInt(j.ID, 10), Name: j.Name, Stage: m.Stage(j.Name), URL: j.HTMLURL,
		Status: githubStatus(j.Status, j.Conclusion), StartedAt: parseTime(j.StartedAt), FinishedAt: parseTime(j.CompletedAt)}
	job.UpdatedAt = latest(parseTime(j.CreatedAt), job.StartedAt, job.FinishedAt)
	run := &Run{ID: job.RunID, Name: j.Workflow, Branch: j.HeadBranch, Commit: j.HeadSHA, Partial: true}
	return Event{Source: "github", Kind: "job", Project: p.Repository.FullName, Run: run, Jobs: []Job{job}}, nil
}

func githubCheck(body []byte, m *Mapper) (Event, error) {
	var p struct {
		CheckRun *struct {
			ID          int64  `json:"id"`
			Name        string `json:"name"`
			HTMLURL     string `json:"html_url"`
			HeadSHA     string `json:"head_sha"`
			Status      string `json:"status"`
			Conclusion  string `json:"conclusion"`
			StartedAt   string `json:"started_at"`
			CompletedAt string `json:"completed_at"`
			App         struct {
				Slug string `json:"slug"`
				Name string `json:"name"`
			} `json:"app"`
			CheckSuite struct {
				ID         int64  `json:"id"`
				HeadBranch string `json:"head_branch"`
			} `json:"check_suite"`
		} `json:"check_run"`
		Repository ghRepo `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("check_run: %v", err)
	}
	c := p.CheckRun
	if c == nil || c.ID == 0 || p.Repository.FullName == "" {
		return Event{}, malformed("check_run: no check_run.id or repository")
	}
	if c.App.Slug == "github-actions" {
		return Event{}, ErrIgnored // the same job arrives as workflow_job, with its run
	}
	runID := "suite-" + strconv.FormatInt(c.CheckSuite.ID, 10)
	job := Job{RunID: runID, ID: "check-" + strconv.FormatInt(c.ID, 10), Name: c.Name, Stage: m.Stage(c.Name), URL: c.HTMLURL,
		Status: githubStatus(c.Status, c.Conclusion), StartedAt: parseTime(c.StartedAt), FinishedAt: parseTime(c.CompletedAt)}
	job.UpdatedAt = latest(job.StartedAt, job.FinishedAt)
	name := c.App.Name
	if name == "" {
		name = "checks"
	}
	run := &Run{ID: runID, Name: name, Branch: c.CheckSuite.HeadBranch, Commit: c.HeadSHA, Partial: true}
	return Event{Source: "github", Kind: "job", Project: p.Repository.FullName, Run: run, Jobs: []Job{job}}, nil
}

func githubPush(body []byte) (Event, error) {
	var p struct {
		Ref     string `json:"ref"`
		Before  string `json:"before"`
		After   string `json:"after"`
		Deleted bool   `json:"deleted"`
		Pusher  struct {
			Name string `json:"name"`
		} `json:"pusher"`
		Commits []struct {
			ID        string `json:"id"`
			Message   string `json:"message"`
			Timestamp string `json:"timestamp"`
			Author    struct {
				Name string `json:"name"`
			} `json:"author"`
		} `json:"commits"`
		Repository ghRepo `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("push: %v", err)
	}
	if p.Repository.FullName == "" || p.Ref == "" {
		return Event{}, malformed("push: no ref or repository")
	}
	branch, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	if !ok || p.Deleted {
		return Event{}, ErrIgnored // tags and deleted branches
	}
	push := &PushEvent{Branch: branch, Before: p.Before, After: p.After, Pusher: p.Pusher.Name}
	for _, c := range p.Commits {
		at := parseTime(c.Timestamp)
		push.Commits = append(push.Commits, Commit{SHA: c.ID, Message: firstLine(c.Message), Author: c.Author.Name, At: at})
		push.At = latest(push.At, at)
	}
	return Event{Source: "github", Kind: "push", Project: p.Repository.FullName, Push: push}, nil
}

func githubDeployment(event string, body []byte) (Event, error) {
	var p struct {
		Deployment *struct {
			ID          int64           `json:"id"`
			SHA         string          `json:"sha"`
			Ref         string          `json:"ref"`
			Environment string          `json:"environment"`
			Payload     json.RawMessage `json:"payload"`
			CreatedAt   string          `json:"created_at"`
			UpdatedAt   string          `json:"updated_at"`
			Creator     ghUser          `json:"creator"`
		} `json:"deployment"`
		DeploymentStatus *struct {
			State       string `json:"state"`
			Environment string `json:"environment"`
			TargetURL   string `json:"target_url"`
			CreatedAt   string `json:"created_at"`
			UpdatedAt   string `json:"updated_at"`
		} `json:"deployment_status"`
		Repository ghRepo `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("%s: %v", event, err)
	}
	d := p.Deployment
	if d == nil || d.ID == 0 || p.Repository.FullName == "" {
		return Event{}, malformed("%s: no deployment.id or repository", event)
	}
	out := &Deployment{ID: strconv.FormatInt(d.ID, 10), Environment: d.Environment, Commit: d.SHA, Ref: d.Ref, Creator: d.Creator.Login,
		Status: Queued, UpdatedAt: latest(parseTime(d.CreatedAt), parseTime(d.UpdatedAt))}
	var payload struct {
		Image string `json:"image"`
	}
	if json.Unmarshal(d.Payload, &payload) == nil {
		out.Image = payload.Image
	}
	if s := p.DeploymentStatus; event == "deployment_status" && s != nil {
		switch s.State {
		case "success":
			out.Status = Success
		case "failure", "error":
			out.Status = Failed
		case "in_progress":
			out.Status = Running
		case "inactive":
			out.Status = Cancelled
		}
		if s.Environment != "" {
			out.Environment = s.Environment
		}
		out.URL = s.TargetURL
		out.UpdatedAt = latest(parseTime(s.CreatedAt), parseTime(s.UpdatedAt))
	}
	return Event{Source: "github", Kind: "deployment", Project: p.Repository.FullName, Deployment: out}, nil
}
