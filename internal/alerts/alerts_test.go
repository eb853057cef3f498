package alerts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/backend"
)

// A good answer is shared for the TTL; a failed one only for errorTTL, so the panel
// recovers with its backend rather than up to a TTL later.
func TestFailedAnswersAreSharedBriefly(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var calls atomic.Int32
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("[]"))
	}))
	defer am.Close()
	c, err := New(Source{Alertmanager: &backend.Config{URL: am.URL}, Budget: time.Second, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r := c.All(ctx); len(r.Errors) != 1 {
		t.Fatalf("with Alertmanager failing: %+v", r)
	}
	down.Store(false)
	if r := c.All(ctx); len(r.Errors) != 1 || calls.Load() != 1 {
		t.Errorf("right after: %+v after %d calls, want the failed answer shared", r, calls.Load())
	}
	time.Sleep(errorTTL + 100*time.Millisecond)
	if r := c.All(ctx); len(r.Errors) != 0 {
		t.Errorf("after errorTTL: %+v, want Alertmanager asked again", r)
	}
	before := calls.Load()
	time.Sleep(errorTTL + 100*time.Millisecond)
	if c.All(ctx); calls.Load() != before {
		t.Errorf("a good answer was not shared for its TTL (%d calls, then %d)", before, calls.Load())
	}
}
