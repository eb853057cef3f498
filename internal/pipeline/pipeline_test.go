package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func mapper(t *testing.T) *Mapper {
	m, err := NewMapper(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// githubExamples loads every published example of an event (octokit/webhooks).
func githubExamples(t *testing.T, event string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/github/" + event + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var xs []json.RawMessage
	if err := json.Unmarshal(b, &xs); err != nil {
		t.Fatal(err)
	}
	return xs
}

var (
	lineComment   = regexp.MustCompile(`(?m)\s*//[^"\n]*$`)
	trailingComma = regexp.MustCompile(`,(\s*[}\]])`)
)

// gitlabExample loads a payload from GitLab's documentation, without its annotations.
func gitlabExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/gitlab/" + name + ".jsonc")
	if err != nil {
		t.Fatal(err)
	}
	return trailingComma.ReplaceAll(lineComment.ReplaceAll(b, nil), []byte("$1"))
}

// TestGitHubExamples parses every published example of each supported event and checks the
// run, job, stage and status each one yields.
func TestGitHubExamples(t *testing.T) {
	m := mapper(t)
	type want struct {
		kind, project, runID, status, jobName string
		stage                                 Stage
		ignored                               bool
	}
	cases := map[string][]want{
		"workflow_run": {
			{kind: "run", project: "Codertocat/Hello-World", runID: "1589141559", status: "queued"},
			{kind: "run", project: "octo-org/octo-repo", runID: "289782451", status: "success"},
			{kind: "run", project: "octo-org/octo-repo", runID: "289782451", status: "success"},
			{kind: "run", project: "octo-org/octo-repo", runID: "289782451", status: "queued"},
			{kind: "run", project: "octo-org/octo-repo", runID: "289782451", status: "queued"},
		},
		"workflow_job": {
			{kind: "job", project: "octo-org/example-workflow", runID: "940463255", status: "running", jobName: "Test workflow", stage: UnitTests},
			{kind: "job", project: "Codertocat/Hello-World", runID: "2202229078", status: "failed", jobName: "linters", stage: StaticAnalysis},
			{kind: "job", project: "Codertocat/Hello-World", runID: "2202229078", status: "success", jobName: "linters", stage: StaticAnalysis},
			{kind: "job", project: "Codertocat/Hello-World", runID: "2202229078", status: "running", jobName: "Analyze (javascript)", stage: StaticAnalysis},
			{kind: "job", project: "wolfy1339/github-events-schemas", runID: "5373506832", status: "running", jobName: "Do examples need to be regenerated?", stage: Other},
			{kind: "job", project: "Codertocat/Hello-World", runID: "2202229078", status: "queued", jobName: "update", stage: Other},
			{kind: "job", project: "lineville/elastic-machines-testing", runID: "4747967848", status: "queued", jobName: "test", stage: UnitTests},
			{kind: "job", project: "lineville/elastic-machines-testing", runID: "4747967848", status: "queued", jobName: "test", stage: UnitTests},
		},
		"check_run": {
			{kind: "job", project: "Codertocat/Hello-World", runID: "suite-118578147", status: "queued", jobName: "Octocoders-linter", stage: StaticAnalysis},
			{ignored: true}, // GitHub Actions' own check run: the job comes as workflow_job
			{kind: "job", project: "Codertocat/Hello-World", runID: "suite-118578147", status: "success", jobName: "Octocoders-linter", stage: StaticAnalysis},
			{kind: "job", project: "Codertocat/Hello-World", runID: "suite-118578147", status: "success", jobName: "Octocoders-linter", stage: StaticAnalysis},
			{kind: "job", project: "Codertocat/Hello-World", runID: "suite-118578147", status: "queued", jobName: "Octocoders-linter", stage: StaticAnalysis},
			{kind: "job", project: "Codertocat/Hello-World", runID: "suite-118578147", status: "queued", jobName: "Octocoders-linter", stage: StaticAnalysis},
			{kind: "job", project: "electron/electron", runID: "suite-1604239627", status: "running", jobName: "API Review", stage: Review},
			{kind: "job", project: "github/hello-world", runID: "suite-5", status: "skipped", jobName: "randscape", stage: Other},
			{kind: "job", project: "github/hello-world", runID: "suite-5", status: "skipped", jobName: "randscape", stage: Other},
		},
		"push": {
			{ignored: true}, {ignored: true}, {ignored: true}, {ignored: true}, // tags
			{kind: "push", project: "Codertocat/Hello-World"}, {kind: "push", project: "Codertocat/Hello-World"},
			{ignored: true},
		},
		"deployment": {
			{kind: "deployment", project: "Codertocat/Hello-World", status: "queued"}, {kind: "deployment", project: "Codertocat/Hello-World", status: "queued"},
			{kind: "deployment", project: "Codertocat/Hello-World", status: "queued"}, {kind: "deployment", project: "Codertocat/Hello-World", status: "queued"},
		},
		"deployment_status": {
			{kind: "deployment", project: "Codertocat/Hello-World", status: "success"}, {kind: "deployment", project: "Codertocat/Hello-World", status: "running"},
			{kind: "deployment", project: "Codertocat/Hello-World", status: "success"}, {kind: "deployment", project: "Codertocat/Hello-World", status: "success"},
		},
	}
	for event, wants := range cases {
		examples := githubExamples(t, event)
		if len(examples) != len(wants) {
			t.Fatalf("%s: %d examples, %d expectations", event, len(examples), len(wants))
		}
		for i, w := range wants {
			ev, err := ParseGitHub(event, examples[i], m)
			if w.ignored {
				if !errors.Is(err, ErrIgnored) {
					t.Errorf("%s[%d]: %v, want ignored", event, i, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s[%d]: %v", event, i, err)
				continue
			}
			if ev.Kind != w.kind || ev.Project != w.project {
				t.Errorf("%s[%d]: kind %s project %s", event, i, ev.Kind, ev.Project)
			}
			switch w.kind {
			case "run":
				if ev.Run.ID != w.runID || string(ev.Run.Status) != w.status || ev.Run.Commit == "" || ev.Run.UpdatedAt.IsZero() {
					t.Errorf("%s[%d]: run %+v", event, i, ev.Run)
				}
			case "job":
				j := ev.Jobs[0]
				if j.RunID != w.runID || string(j.Status) != w.status || j.Name != w.jobName || j.Stage != w.stage || ev.Run.Commit == "" {
					t.Errorf("%s[%d]: job %+v (run %+v)", event, i, j, ev.Run)
				}
			case "deployment":
				if string(ev.Deployment.Status) != w.status || ev.Deployment.Commit == "" || ev.Deployment.Environment == "" || ev.Deployment.UpdatedAt.IsZero() {
					t.Errorf("%s[%d]: deployment %+v", event, i, ev.Deployment)
				}
			case "push":
				if ev.Push.Branch != "master" || len(ev.Push.Commits) != 1 || ev.Push.After == "" {
					t.Errorf("%s[%d]: push %+v", event, i, ev.Push)
				}
			}
		}
	}
	run := githubExamples(t, "workflow_run")[1]
	ev, _ := ParseGitHub("workflow_run", run, m)
	if r := ev.Run; r.Branch != "master" || r.Commit != "3484a3fb816e0859fd6e1cea078d76385ff50625" || r.Trigger != "repository_dispatch" ||
		r.Message != "build(test): check workflow run event payload" || r.Author != "Matthias Fax" || r.URL != "https://github.com/octo-org/octo-repo/actions/runs/289782451" {
		t.Errorf("workflow_run fields: %+v", r)
	}
}

// TestGitLabExamples parses the Pipeline, Job and Deployment hook examples of GitLab's docs.
func TestGitLabExamples(t *testing.T) {
	m := mapper(t)
	ev, err := ParseGitLab("Pipeline Hook", gitlabExample(t, "pipeline"), m)
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Run
	if ev.Project != "gitlab-org/gitlab-test" || r.ID != "31" || r.Status != Success || r.Branch != "master" || r.Commit != "bcbb5ec396a2c0f828686f14fac9b80b780504f2" ||
		r.Trigger != "merge_request_event" || r.Author != "User" || !r.FinishedAt.Equal(time.Date(2016, 8, 12, 15, 26, 29, 0, time.UTC)) {
		t.Errorf("pipeline run: %+v", r)
	}
	want := map[string]struct {
		stage  Stage
		status Status
	}{
		"production": {Production, Skipped}, "test-image": {UnitTests, Success}, "test-build": {UnitTests, Failed},
		"build-image": {ImageBuild, Success}, "staging": {Deploy, Queued},
	}
	if len(ev.Jobs) != len(want) {
		t.Fatalf("jobs: %+v", ev.Jobs)
	}
	for _, j := range ev.Jobs {
		if w := want[j.Name]; j.Stage != w.stage || j.Status != w.status || j.RunID != "31" {
			t.Errorf("job %s: stage %s status %s, want %s %s", j.Name, j.Stage, j.Status, w.stage, w.status)
		}
	}
	ev, err = ParseGitLab("Job Hook", gitlabExample(t, "job"), m)
	if err != nil {
		t.Fatal(err)
	}
	if j := ev.Jobs[0]; ev.Project != "gitlab-org/gitlab-test" || j.ID != "1977" || j.RunID != "2366" || j.Stage != UnitTests || j.Status != Queued || ev.Run.Commit != "2293ada6b400935a1378653304eaf6221e0fdb8f" {
		t.Errorf("job: %+v run %+v", j, ev.Run)
	}
	ev, err = ParseGitLab("Deployment Hook", gitlabExample(t, "deployment"), m)
	if err != nil {
		t.Fatal(err)
	}
	if d := ev.Deployment; ev.Project != "root/test-deployment-webhooks" || d.ID != "15" || d.Environment != "staging" || d.Status != Success ||
		d.Commit != "279484c09fbe69ededfced8c1bb6e6d24616b468" || d.UpdatedAt.IsZero() {
		t.Errorf("deployment: %+v", d)
	}
	if _, err := ParseGitLab("Note Hook", []byte(`{}`), m); !errors.Is(err, ErrIgnored) {
		t.Errorf("an unused hook: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	m := mapper(t)
	for _, c := range []struct{ event, body string }{
		{"workflow_run", `{`}, {"workflow_run", `{"workflow_run": {}}`}, {"workflow_job", `[]`}, {"push", `{"ref": 7}`},
		{"deployment", `{"deployment": {"id": 0}}`},
	} {
		if _, err := ParseGitHub(c.event, []byte(c.body), m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s %s: %v, want malformed", c.event, c.body, err)
		}
	}
	if _, err := ParseGitLab("Pipeline Hook", []byte(`{"object_kind": "pipeline"}`), m); !errors.Is(err, ErrMalformed) {
		t.Errorf("gitlab: %v", err)
	}
}

func TestGenericEvent(t *testing.T) {
	m := mapper(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ev, err := ParseGeneric([]byte(`{"source": "jenkins", "project": "acme/payment", "run": {"id": "412", "name": "payment-ci", "branch": "main",
		"commit": "c0ffee", "author": "Alice", "status": "success"}, "stages": [{"name": "Unit tests", "status": "success"},
		{"name": "Trivy scan", "status": "failed"}], "image": "registry.acme.example/payment:1.4.3",
		"deployment": {"environment": "staging", "status": "succeeded"}}`), m, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != "generic:jenkins" || ev.Run.Status != Success || len(ev.Jobs) != 3 || ev.Jobs[1].Stage != SecurityScan || ev.Jobs[1].Status != Failed ||
		ev.Jobs[2].Image != "registry.acme.example/payment:1.4.3" || ev.Deployment.Status != Success || !ev.Run.UpdatedAt.Equal(now) {
		t.Errorf("generic: %+v jobs %+v dep %+v", ev.Run, ev.Jobs, ev.Deployment)
	}
	for _, bad := range []string{`{"project": "x"}`, `{"project": "x", "run": {"id": "1", "status": "great"}}`, `{"project": "x", "run": {"id": "1"}, "colour": "red"}`,
		`{"run": {"id": "1"}}`, `{"project": "x", "run": {"id": "1"}, "stages": [{"name": "", "status": "success"}]}`} {
		if _, err := ParseGeneric([]byte(bad), m, now); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestStageMapping(t *testing.T) {
	m := mapper(t)
	for name, want := range map[string]Stage{
		"Review": Review, "golangci-lint": StaticAnalysis, "go test ./...": UnitTests, "docker build": ImageBuild, "trivy image scan": SecurityScan,
		"push to registry": Push, "deploy to staging": Deploy, "smoke tests": SmokeTest, "canary 10%": Canary, "promote to production": Production,
		"notify slack": Other,
	} {
		if got := m.Stage(name); got != want {
			t.Errorf("Stage(%q) = %s, want %s", name, got, want)
		}
	}
	custom, err := NewMapper(map[Stage][]string{SecurityScan: {`^audit$`}, UnitTests: {`^check$`}})
	if err != nil || custom.Stage("audit") != SecurityScan || custom.Stage("check") != UnitTests || custom.Stage("build") != Other {
		t.Errorf("custom mapper: %v", err)
	}
	if _, err := NewMapper(map[Stage][]string{"qa": {"x"}}); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Errorf("unknown stage: %v", err)
	}
}
