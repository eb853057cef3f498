package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServicesMatchTheCatalog: every simulated service is one of the demo company's, and
// every call names a simulated service.
func TestServicesMatchTheCatalog(t *testing.T) {
	for svc, routes := range services {
		if _, err := os.Stat(filepath.Join("..", "..", "..", "catalog", "services", svc, "catalog-info.yaml")); err != nil {
			t.Errorf("%s has no catalog-info.yaml in the demo catalog: %v", svc, err)
		}
		for _, r := range routes {
			if r.weight <= 0 || r.p50 <= 0 {
				t.Errorf("%s %s %s: weight %d, p50 %v", svc, r.method, r.path, r.weight, r.p50)
			}
			for _, dep := range r.calls {
				if _, ok := services[dep]; !ok {
					t.Errorf("%s %s calls %s, which is not simulated", svc, r.path, dep)
				}
			}
		}
	}
}

// TestFaultsEndpoint: faults are set, listed and cleared; bad bodies and unknown services are
// refused and change nothing.
func TestFaultsEndpoint(t *testing.T) {
	f := &faults{by: map[string]fault{}}
	ts := httptest.NewServer(f)
	defer ts.Close()
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPut, "/faults/payment", `{"errorRate": 0.3, "badTag": "9.9.9"}`, http.StatusNoContent},
		{http.MethodPut, "/faults/payment", `{"errorRate": 1.5}`, http.StatusBadRequest},
		{http.MethodPut, "/faults/payment", `{"latencyMs": -1}`, http.StatusBadRequest},
		{http.MethodPut, "/faults/nosuch", `{}`, http.StatusNotFound},
		{http.MethodPost, "/faults/payment", `{}`, http.StatusMethodNotAllowed},
	} {
		if got := do(tt.method, tt.path, tt.body); got != tt.want {
			t.Errorf("%s %s %s = %d, want %d", tt.method, tt.path, tt.body, got, tt.want)
		}
	}
	if got := f.get("payment"); got.ErrorRate != 0.3 || got.BadTag != "9.9.9" {
		t.Errorf("payment's fault = %+v; refused requests must not change it", got)
	}
	if do(http.MethodDelete, "/faults/payment", "") != http.StatusNoContent || f.get("payment") != (fault{}) {
		t.Error("DELETE did not clear the fault")
	}
}

// TestOutcomesFollowFaults plays many requests: the background error ratio is low, a bad
// release tag fails about 40% on its pods only, a latency fault slows every request, and a
// dependency nothing serves fails its caller's requests.
func TestOutcomesFollowFaults(t *testing.T) {
	f := &faults{by: map[string]fault{}}
	s := &sim{faults: f}
	ratio := func(p pod, svc string, ready map[string][]pod) (errs float64, meanMs float64) {
		const n = 20000
		for range n {
			ms, code := s.outcome(ready, p, svc, pickRoute(svc), 0)
			if code >= 500 {
				errs++
			}
			meanMs += ms
		}
		return errs / n, meanMs / n
	}
	good := pod{service: "pricing", tag: "2.3.0"}
	if e, _ := ratio(good, "pricing", nil); e > 0.01 {
		t.Errorf("background error ratio %.3f, want about %.3f", e, baseErrorRate)
	}
	f.by["pricing"] = fault{BadTag: "9.9.9"}
	bad := pod{service: "pricing", tag: "9.9.9"}
	if e, _ := ratio(bad, "pricing", nil); e < 0.35 || e > 0.45 {
		t.Errorf("pods on the bad tag fail %.3f, want about 0.4", e)
	}
	if e, _ := ratio(good, "pricing", nil); e > 0.01 {
		t.Errorf("pods on another tag fail %.3f with the bad-tag fault", e)
	}
	_, before := ratio(good, "maps", nil)
	f.by["maps"] = fault{LatencyMs: 400}
	if _, after := ratio(good, "maps", nil); after-before < 390 {
		t.Errorf("a 400 ms latency fault moved the mean from %.0f to %.0f ms", before, after)
	}
	caller := pod{service: "search", tag: "1.0.0"}
	ready := map[string][]pod{"search": {caller}} // nothing serves analytics
	if e, _ := ratio(caller, "search", ready); e < 0.6 {
		t.Errorf("with analytics down, search fails %.2f of requests; its /graphql route calls analytics (70%% of traffic)", e)
	}
}
