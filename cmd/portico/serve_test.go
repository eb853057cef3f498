package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown, want nil", err)
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
