package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func addFiles(f *testing.F, glob string, also func([]byte)) {
	files, _ := filepath.Glob(glob)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			also(b)
		}
	}
}

// FuzzParseGitHub: any delivery under any event either parses or is ignored or malformed —
// never a panic, never another kind of error.
func FuzzParseGitHub(f *testing.F) {
	// The octokit examples (100 KB each) as plain seeds; the corpus in testdata/fuzz holds
	// small payloads of each event, which the fuzzer can mutate fast.
	addFiles(f, "testdata/github/*.json", func(b []byte) {
		ev := "workflow_run"
		f.Add(ev, b)
	})
	f.Add("workflow_job", []byte(strings.Repeat(`{"a":`, 100)))
	m, _ := NewMapper(nil)
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		_, err := ParseGitHub(event, body, m)
		if err != nil && !errors.Is(err, ErrIgnored) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzParseGitLab is FuzzParseGitHub for GitLab's hooks.
func FuzzParseGitLab(f *testing.F) {
	addFiles(f, "testdata/gitlab/*.jsonc", func(b []byte) {
		for _, ev := range []string{"Pipeline Hook", "Job Hook", "Deployment Hook"} {
			f.Add(ev, b)
		}
	})
	m, _ := NewMapper(nil)
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		_, err := ParseGitLab(event, body, m)
		if err != nil && !errors.Is(err, ErrIgnored) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzParseGeneric: Portico's own event either parses into a run of a project or is malformed
// with a message.
func FuzzParseGeneric(f *testing.F) {
	f.Add([]byte(`{"source": "jenkins", "project": "acme/payment", "timestamp": "2026-11-30T10:00:00Z", "run": {"id": "41", "name": "ci", "status": "running", "commit": "` + strings.Repeat("a", 40) + `", "branch": "main"}, "stages": [{"name": "unit tests", "status": "success"}]}`))
	f.Add([]byte(`{"project": "acme/x", "run": {"id": "1", "status": "nope"}}`))
	m, _ := NewMapper(nil)
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseGeneric(body, m, now)
		switch {
		case err == nil && (ev.Project == "" || ev.Run == nil || ev.Run.ID == ""):
			t.Fatalf("accepted an event without project or run: %+v", ev)
		case err != nil && (!errors.Is(err, ErrMalformed) || strings.TrimSpace(err.Error()) == ""):
			t.Fatalf("unexpected error: %v", err)
		}
	})
}

// FuzzVerifyToken: only a configured secret verifies.
func FuzzVerifyToken(f *testing.F) {
	f.Add("s3cret", "s3cret")
	f.Add("s3cret", "")
	f.Fuzz(func(t *testing.T, secret, token string) {
		if VerifyToken([]string{secret}, token) != (secret != "" && token == secret) {
			t.Fatalf("VerifyToken(%q, %q) is wrong", secret, token)
		}
	})
}
