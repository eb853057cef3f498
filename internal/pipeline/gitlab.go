package pipeline

import (
	"encoding/json"
	"strconv"
	"strings"
)

// ParseGitLab reads a GitLab delivery; event is its X-Gitlab-Event header.
func ParseGitLab(event string, body []byte, m *Mapper) (Event, error) {
	if err := bounded("GitLab delivery", body); err != nil {
		return Event{}, err
	}
	switch event {
	case "Pipeline Hook":
		return gitlabPipeline(body, m)
	case "Job Hook":
		return gitlabJob(body, m)
	case "Deployment Hook":
		return gitlabDeployment(body)
	}
	return Event{}, ErrIgnored
}

type glProject struct {
	PathWithNamespace string `json:"path_with_namespace"`
	WebURL            string `json:"web_url"`
}

func gitlabStatus(s string) Status {
	switch s {
	case "running":
		return Running
	case "success":
		return Success
	case "failed":
		return Failed
	case "canceled", "canceling", "cancelled":
		return Cancelled
	case "skipped":
		return Skipped
	}
	return Queued // created, waiting_for_resource, preparing, pending, scheduled, manual
}

func gitlabPipeline(body []byte, m *Mapper) (Event, error) {
	var p struct {
		ObjectKind string `json:"object_kind"`
		Attrs      *struct {
			ID         int64  `json:"id"`
			Name       string `json:"name"`
			Ref        string `json:"ref"`
			SHA        string `json:"sha"`
			Source     string `json:"source"`
			Status     string `json:"status"`
			CreatedAt  string `json:"created_at"`
			FinishedAt string `json:"finished_at"`
			URL        string `json:"url"`
		} `json:"object_attributes"`
		User struct {
			Username string `json:"username"`
		} `json:"user"`
		Commit struct {
			Message string `json:"message"`
			Author  struct {
				Name string `json:"name"`
			} `json:"author"`
		} `json:"commit"`
		Project glProject `json:"project"`
		Builds  []struct {
			ID         int64  `json:"id"`
			Stage      string `json:"stage"`
			Name       string `json:"name"`
			Status     string `json:"status"`
			CreatedAt  string `json:"created_at"`
			StartedAt  string `json:"started_at"`
			FinishedAt string `json:"finished_at"`
		} `json:"builds"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("Pipeline Hook: %v", err)
	}
	a := p.Attrs
	if p.ObjectKind != "pipeline" || a == nil || a.ID == 0 || p.Project.PathWithNamespace == "" {
		return Event{}, malformed("Pipeline Hook: no pipeline object_attributes.id or project")
	}
	r := &Run{ID: strconv.FormatInt(a.ID, 10), Name: a.Name, URL: a.URL, Branch: a.Ref, Commit: a.SHA, Trigger: a.Source,
		Message: firstLine(p.Commit.Message), Author: p.Commit.Author.Name, Status: gitlabStatus(a.Status),
		CreatedAt: parseTime(a.CreatedAt), FinishedAt: parseTime(a.FinishedAt)}
	if r.Author == "" {
		r.Author = p.User.Username
	}
	ev := Event{Source: "gitlab", Kind: "run", Project: p.Project.PathWithNamespace, Run: r}
	for _, b := range p.Builds {
		j := Job{RunID: r.ID, ID: strconv.FormatInt(b.ID, 10), Name: b.Name, StageName: b.Stage, Stage: m.Stage(b.Name, b.Stage),
			Status: gitlabStatus(b.Status), StartedAt: parseTime(b.StartedAt), FinishedAt: parseTime(b.FinishedAt)}
		if p.Project.WebURL != "" {
			j.URL = strings.TrimRight(p.Project.WebURL, "/") + "/-/jobs/" + j.ID
		}
		j.UpdatedAt = latest(parseTime(b.CreatedAt), j.StartedAt, j.FinishedAt)
		if r.StartedAt.IsZero() || (!j.StartedAt.IsZero() && j.StartedAt.Before(r.StartedAt)) {
			r.StartedAt = j.StartedAt
		}
		r.UpdatedAt = latest(r.UpdatedAt, j.UpdatedAt)
		ev.Jobs = append(ev.Jobs, j)
	}
	r.UpdatedAt = latest(r.UpdatedAt, r.CreatedAt, r.FinishedAt)
	return ev, nil
}

func gitlabJob(body []byte, m *Mapper) (Event, error) {
	var p struct {
		ObjectKind      string  `json:"object_kind"`
		Ref             string  `json:"ref"`
		SHA             string  `json:"sha"`
		BuildID         int64   `json:"build_id"`
		BuildName       string  `json:"build_name"`
		BuildStage      string  `json:"build_stage"`
		BuildStatus     string  `json:"build_status"`
		BuildCreatedAt  string  `json:"build_created_at"`
		BuildStartedAt  *string `json:"build_started_at"`
		BuildFinishedAt *string `json:"build_finished_at"`
		PipelineID      int64   `json:"pipeline_id"`
		Commit          struct {
			Name    string `json:"name"`
			Message string `json:"message"`
			Author  string `json:"author_name"`
		} `json:"commit"`
		Project glProject `json:"project"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("Job Hook: %v", err)
	}
	if p.ObjectKind != "build" || p.BuildID == 0 || p.PipelineID == 0 || p.Project.PathWithNamespace == "" {
		return Event{}, malformed("Job Hook: no build_id, pipeline_id or project")
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	j := Job{RunID: strconv.FormatInt(p.PipelineID, 10), ID: strconv.FormatInt(p.BuildID, 10), Name: p.BuildName, StageName: p.BuildStage,
		Stage: m.Stage(p.BuildName, p.BuildStage), Status: gitlabStatus(p.BuildStatus), StartedAt: parseTime(deref(p.BuildStartedAt)),
		FinishedAt: parseTime(deref(p.BuildFinishedAt))}
	if p.Project.WebURL != "" {
		j.URL = strings.TrimRight(p.Project.WebURL, "/") + "/-/jobs/" + j.ID
	}
	j.UpdatedAt = latest(parseTime(p.BuildCreatedAt), j.StartedAt, j.FinishedAt)
	run := &Run{ID: j.RunID, Name: p.Commit.Name, Branch: p.Ref, Commit: p.SHA, Message: firstLine(p.Commit.Message), Author: p.Commit.Author, Partial: true}
	return Event{Source: "gitlab", Kind: "job", Project: p.Project.PathWithNamespace, Run: run, Jobs: []Job{j}}, nil
}

func gitlabDeployment(body []byte) (Event, error) {
	var p struct {
		ObjectKind      string    `json:"object_kind"`
		Status          string    `json:"status"`
		StatusChangedAt string    `json:"status_changed_at"`
		DeploymentID    int64     `json:"deployment_id"`
		DeployableURL   string    `json:"deployable_url"`
		Environment     string    `json:"environment"`
		ShortSHA        string    `json:"short_sha"`
		CommitURL       string    `json:"commit_url"`
		Project         glProject `json:"project"`
		User            struct {
			Username string `json:"username"`
		} `json:"user"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("Deployment Hook: %v", err)
	}
	if p.ObjectKind != "deployment" || p.DeploymentID == 0 || p.Project.PathWithNamespace == "" {
		return Event{}, malformed("Deployment Hook: no deployment_id or project")
	}
	commit := p.ShortSHA
	if i := strings.LastIndex(p.CommitURL, "/commit/"); i >= 0 {
		commit = p.CommitURL[i+len("/commit/"):]
	}
	d := &Deployment{ID: strconv.FormatInt(p.DeploymentID, 10), Environment: p.Environment, Commit: commit, Status: gitlabStatus(p.Status),
		Creator: p.User.Username, URL: p.DeployableURL, UpdatedAt: parseTime(p.StatusChangedAt)}
	return Event{Source: "gitlab", Kind: "deployment", Project: p.Project.PathWithNamespace, Deployment: d}, nil
}
