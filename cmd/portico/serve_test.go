package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/klog/v2"

	"github.com/portico-dev/portico/internal/config"
)

// TestServeAndShutdown runs `portico serve` on the demo catalog, checks it serves, then cancels
// its context (as SIGTERM does) and expects a clean exit.
func TestServeAndShutdown(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"PORTICO_DATABASE_DSN": filepath.Join(dir, "p.db"),
		"PORTICO_CATALOG_DIR":  filepath.Join("..", "..", "catalog"),
		"PORTICO_RUNBOOKS_DIR": filepath.Join("..", "..", "runbooks"),
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	url := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var line struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "portico serving" {
			url = line.URL
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatal("the server never said it was serving")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := http.Get(url + "/api/v1/entities/component/default/payment")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("payment: %v %v", err, res)
	}
	res.Body.Close()
	// A browser's live stream stays open until the shutdown ends it (it would otherwise hold
	// the shutdown to its timeout, which serve reports as an error).
	stream, err := http.Get(url + "/catalog/component/default/payment/scorecard/events")
	if err != nil || stream.StatusCode != 200 || stream.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live stream: %v %v", err, stream)
	}
	streamEnded := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stream.Body)
		streamEnded <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown, want nil", err)
		}
		select {
		case err := <-streamEnded:
			if err != nil {
				t.Errorf("the live stream ended with %v, want its end (EOF)", err)
			}
		case <-time.After(10 * time.Second): // gives up rather than hangs
			t.Error("the live stream is still open after serve returned")
			stream.Body.Close()
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "p.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("after shutdown the port should be closed, got %v", err)
	}
}

func TestLoadPolicy(t *testing.T) {
	if p, err := loadPolicy(""); err != nil || len(p.Bindings) != 4 {
		t.Errorf("no file: %v %v, want the default policy", p, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	os.WriteFile(good, []byte("bindings:\n  - {groups: [\"*\"], role: viewer}\n  - {groups: [release-managers], role: deployer}\n"), 0o644)
	if p, err := loadPolicy(good); err != nil || len(p.Bindings) != 2 {
		t.Errorf("policy file: %v %v", p, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("bindings:\n  - {groups: [x], role: superuser}\n"), 0o644)
	if _, err := loadPolicy(bad); err == nil || !strings.Contains(err.Error(), `unknown role "superuser"`) || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("bad policy: %v", err)
	}
	if _, err := loadPolicy(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing policy file must stop the portal")
	}
}

// TestServeRefusesBadScorecards: a checks file with a bad expression stops the start, naming
// the check and the position; so do an unknown level and an unknown disabled check.
func TestServeRefusesBadScorecards(t *testing.T) {
	dir := t.TempDir()
	checks := filepath.Join(dir, "checks.yaml")
	os.WriteFile(checks, []byte("checks:\n  - id: tier-tag\n    title: Tagged with its tier\n    level: bronze\n    expr: entity.metadata.tags.exists(t, t.startsWith('tier-')\n"), 0o644)
	cfg := filepath.Join(dir, "portico.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("database: {dsn: %q}\ncatalog:\n  sources: [{name: local, type: dir, path: %q}]\nscorecards: {file: %q}\n",
		filepath.Join(dir, "p.db"), dir, checks)), 0o644)
	_, errOut, code := runCmd(t, "serve", "--config", cfg, "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, `check "tier-tag" (`+checks+`): expr: ERROR: <input>:1:`) {
		t.Errorf("bad expression: code %d, %q", code, errOut)
	}
	for _, c := range []struct{ yaml, want string }{
		{"scorecards: {levels: [basic, advanced]}", `level "bronze" is not one of basic, advanced`},
		{"scorecards: {disable: [no-such-check]}", `scorecards.disable: "no-such-check" is not a built-in check`},
	} {
		if _, err := scorecards(mustScorecardsConfig(t, c.yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
	}
}

func mustScorecardsConfig(t *testing.T, y string) config.Scorecards {
	t.Helper()
	var c struct {
		Scorecards config.Scorecards `yaml:"scorecards"`
	}
	if err := yaml.Unmarshal([]byte(y), &c); err != nil {
		t.Fatal(err)
	}
	return c.Scorecards
}

// TestDemoScorecards: the local stack's checks file compiles, with its initiatives.
func TestDemoScorecards(t *testing.T) {
	set, err := scorecards(config.Scorecards{File: filepath.Join("..", "..", "deploy", "local", "scorecards.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(set.Initiatives()); n != 2 {
		t.Errorf("%d initiatives, want 2", n)
	}
}

// TestClientGoLogsAreJSON: what client-go logs through klog (a reflector that cannot list,
// say) comes out as lines of the portal's JSON log, not as klog's own text on stderr.
func TestClientGoLogsAreJSON(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(config.Log{Level: "info", Format: "json"}, &buf)
	klog.SetSlogLogger(log.With("component", "client-go"))
	klog.ErrorS(errors.New("connection refused"), "Failed to watch", "reflector", "pods")
	klog.Flush()
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("not a JSON line: %q (%v)", buf.String(), err)
	}
	if line["msg"] != "Failed to watch" || line["component"] != "client-go" || line["reflector"] != "pods" {
		t.Errorf("klog line = %v", line)
	}
}
