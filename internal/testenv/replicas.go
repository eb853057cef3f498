package testenv

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
)

// RoundRobin is a small load balancer in front of several portals, as an ingress controller
// would be: each request goes to the next backend; one that refuses the connection (it is
// down) is skipped for the next; a request that fails on the backend it reached fails with
// 502, counted against that backend.
type RoundRobin struct {
	URL      string
	backends []*url.URL
	next     atomic.Uint64
	srv      *httptest.Server
	tr       *http.Transport

	inflight, served, failed []atomic.Int64

	mu       sync.Mutex
	watching []bool
	peak     []int64
}

// NewRoundRobin starts a balancer over the backends' base URLs; Close stops it.
func NewRoundRobin(backends ...string) (*RoundRobin, error) {
	p := &RoundRobin{inflight: make([]atomic.Int64, len(backends)), served: make([]atomic.Int64, len(backends)),
		failed: make([]atomic.Int64, len(backends)), watching: make([]bool, len(backends)), peak: make([]int64, len(backends)),
		tr: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			return nil, err
		}
		p.backends = append(p.backends, u)
	}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the balancer.
func (p *RoundRobin) Close() {
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// Served and Failed count the requests each backend answered and those that failed on it.
func (p *RoundRobin) Served(i int) int64 { return p.served[i].Load() }

// Failed counts the requests that reached backend i and got no answer (502).
func (p *RoundRobin) Failed(i int) int64 { return p.failed[i].Load() }

// WatchInFlight starts recording the most requests in flight at once on backend i; the
// returned function stops and returns that peak (counting those in flight when it started).
func (p *RoundRobin) WatchInFlight(i int) (stop func() int64) {
	p.mu.Lock()
	p.watching[i], p.peak[i] = true, p.inflight[i].Load()
	p.mu.Unlock()
	return func() int64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.watching[i] = false
		return p.peak[i]
	}
}

func (p *RoundRobin) begin(i int) {
	n := p.inflight[i].Add(1)
	p.mu.Lock()
	if p.watching[i] && n > p.peak[i] {
		p.peak[i] = n
	}
	p.mu.Unlock()
}

func (p *RoundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	start := p.next.Add(1)
	for try := range len(p.backends) {
		i := int((start + uint64(try)) % uint64(len(p.backends)))
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = p.backends[i].Scheme, p.backends[i].Host
		out.Host = p.backends[i].Host
		// A body the transport can replay: a request sent on a kept-alive connection the
		// backend's death has just closed is resent on a new one (and then skips the backend).
		out.Body, out.GetBody, out.ContentLength = http.NoBody, nil, 0
		if len(body) > 0 {
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			out.Body, _ = out.GetBody()
			out.ContentLength = int64(len(body))
		}
		p.begin(i)
		res, err := p.tr.RoundTrip(out)
		if err != nil {
			p.inflight[i].Add(-1)
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				continue // down: the next backend
			}
			p.failed[i].Add(1)
			http.Error(w, "backend "+p.backends[i].Host+": "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(res.StatusCode)
		_, copyErr := io.Copy(w, res.Body)
		res.Body.Close()
		p.inflight[i].Add(-1)
		if copyErr != nil {
			p.failed[i].Add(1) // cut off mid-answer
		} else {
			p.served[i].Add(1)
		}
		return
	}
	http.Error(w, "no backend is up", http.StatusBadGateway)
}

// Leads reports whether the portal at base says it does the background work (its
// portico_leader gauge is 1).
func Leads(base string) bool {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode == http.StatusOK && bytes.Contains(b, []byte("\nportico_leader 1\n"))
}
