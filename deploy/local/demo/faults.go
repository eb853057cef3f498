package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// fault is what the control endpoint injects into one service.
type fault struct {
	ErrorRate      float64 `json:"errorRate,omitempty"`      // extra 5xx ratio, 0..1
	LatencyMs      float64 `json:"latencyMs,omitempty"`      // added to every request
	FailDependency string  `json:"failDependency,omitempty"` // calls to this service fail
	// BadTag makes pods running this image tag fail 40% of requests: deploying it raises
	// errors as the rollout proceeds, rolling back clears them.
	BadTag string `json:"badTag,omitempty"`
}

type faults struct {
	mu sync.RWMutex
	by map[string]fault
}

func (f *faults) get(svc string) fault {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.by[svc]
}

// ServeHTTP: GET /faults lists them; PUT /faults/<service> sets one (JSON body); DELETE clears.
func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc := strings.Trim(strings.TrimPrefix(r.URL.Path, "/faults"), "/")
	switch {
	case r.Method == http.MethodGet && svc == "":
		f.mu.RLock()
		defer f.mu.RUnlock()
		_ = json.NewEncoder(w).Encode(f.by)
	case r.Method == http.MethodPut && svc != "":
		if _, ok := services[svc]; !ok {
			http.Error(w, fmt.Sprintf("unknown service %q", svc), http.StatusNotFound)
			return
		}
		var x fault
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&x); err != nil || x.ErrorRate < 0 || x.ErrorRate > 1 || x.LatencyMs < 0 {
			http.Error(w, "body must be {errorRate: 0..1, latencyMs: >=0, failDependency, badTag}", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.by[svc] = x
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && svc != "":
		f.mu.Lock()
		delete(f.by, svc)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "GET /faults, PUT or DELETE /faults/<service>", http.StatusMethodNotAllowed)
	}
}
