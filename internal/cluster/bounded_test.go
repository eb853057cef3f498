package cluster

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A plain request to a server that never answers gives up at the bound; a watch and a
// followed log, which answer later than the bound, are left alone.
func TestBoundedSparesLongRequests(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond) // longer than the bound: a stream's later events
		io.WriteString(w, "event")
	}))
	defer srv.Close()
	defer close(release)
	client := &http.Client{Transport: bounded(100 * time.Millisecond)(http.DefaultTransport)}
	get := func(path string) (string, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+path, nil)
		res, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	}
	if _, err := get("/hang"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a plain request to a hung server: %v, want the deadline exceeded", err)
	}
	for _, path := range []string{"/api/v1/pods?watch=true", "/api/v1/pods?watch=1&sendInitialEvents=true", "/api/v1/namespaces/a/pods/p/log?follow=true"} {
		if got, err := get(path); err != nil || got != "event" {
			t.Errorf("%s = %q, %v: want its late event", path, got, err)
		}
	}
	if got, err := get("/api/v1/pods/slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a plain request whose body comes late = %q, %v: want the deadline exceeded", got, err)
	}
}
