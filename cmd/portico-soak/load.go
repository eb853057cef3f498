package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/internal/devstack"
)

// A kind is one sort of request the clients send, with what its answer may say.
type kind struct {
	name string
	path func(s service) string
	// degraded reads the answer for a failure the page shows in place (a stale banner, an
	// "unavailable" panel); empty when it shows none.
	degraded func(body string) string
}

type service struct{ name, namespace string }

// The demo company's services that run in both clusters, with their team's namespace.
var services = []service{{"payment", "payments"}, {"pricing", "payments"}, {"authentication", "identity"}, {"user-profile", "identity"},
	{"notification", "messaging"}, {"maps", "geo"}, {"search", "discovery"}, {"analytics", "data"}, {"gateway", "platform"}, {"web-storefront", "platform"}}

func entityPath(s service) string { return "/catalog/component/default/" + s.name }

// staleIn says whether the named cluster's part of a page shows the stale banner: the
// runtime panel has a block per cluster; a workload page is about one.
func staleIn(clusterName string) func(string) string {
	return func(body string) string {
		if i := strings.Index(body, `data-testid="runtime-cluster-`+clusterName+`"`); i >= 0 {
			body = body[i:]
			if j := strings.Index(body[1:], `data-testid="runtime-cluster-`); j >= 0 {
				body = body[:j+1]
			}
		}
		if strings.Contains(body, `data-testid="stale"`) {
			return "stale banner (" + clusterName + ")"
		}
		return ""
	}
}

func unavailable(body string) string {
	if strings.Contains(body, `data-testid="panel-error"`) || strings.Contains(body, "Unavailable: ") {
		return "unavailable"
	}
	return ""
}

func either(fs ...func(string) string) func(string) string {
	return func(body string) string {
		var said []string
		for _, f := range fs {
			if s := f(body); s != "" {
				said = append(said, s)
			}
		}
		return strings.Join(said, ", ")
	}
}

var kinds = []kind{
	{name: "catalog list", path: func(s service) string { return "/catalog?q=" + s.name[:3] }, degraded: unavailable},
	{name: "service page", path: entityPath, degraded: unavailable},
	{name: "runtime panel", path: func(s service) string { return entityPath(s) + "/runtime" }, degraded: either(staleIn("production"), staleIn("staging"))},
	{name: "metrics panel", path: func(s service) string { return entityPath(s) + "/metrics?range=15m" }, degraded: unavailable},
	{name: "alerts panel", path: func(s service) string { return entityPath(s) + "/alerts" }, degraded: unavailable},
	{name: "traces panel", path: func(s service) string { return entityPath(s) + "/traces?panel=1" }, degraded: unavailable},
	{name: "where panel", path: func(s service) string { return entityPath(s) + "/where" }, degraded: unavailable},
	{name: "scorecard panel", path: func(s service) string { return entityPath(s) + "/scorecard" }, degraded: unavailable},
	{name: "workload production", path: func(s service) string {
		return entityPath(s) + "/workloads/production/" + s.namespace + "/" + s.name
	}, degraded: either(staleIn("production"), unavailable)},
	{name: "workload staging", path: func(s service) string { return entityPath(s) + "/workloads/staging/" + s.namespace + "/" + s.name },
		degraded: either(staleIn("staging"), unavailable)},
	{name: "api entity", path: func(s service) string { return "/api/v1/entities/component/default/" + s.name }},
	{name: "api runtime", path: func(s service) string { return "/api/v1/entities/component/default/" + s.name + "/runtime" }},
}

// A result is one answered (or failed) request.
type result struct {
	phase  int
	kind   string
	status int // 0: no answer (connection refused, timeout)
	took   time.Duration
	said   string
}

// load is the open-loop traffic: every client sends its next request when it is due, in a
// goroutine of its own, however slowly the portal answers; latency counts from the due time.
type load struct {
	base    string
	clients []*http.Client
	rate    float64 // all clients together, requests a second
	max     int     // requests in all: the run is bounded

	phase   atomic.Int32
	sent    atomic.Int64
	mu      sync.Mutex
	results []result
}

// signIn signs n clients in through the provider, as people of the demo company.
func signIn(base string, prov *devstack.OIDCProvider, users []string, n int) ([]*http.Client, error) {
	var out []*http.Client
	for i := range n {
		c, err := signedIn(base, prov, users[i%len(users)])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// signedIn is one browser-like client with a session, or the error page sign-in ended on.
func signedIn(base string, prov *devstack.OIDCProvider, user string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, ResponseHeaderTimeout: 30 * time.Second}}
	res, err := c.Get(base + "/auth/login?next=/me")
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Request.URL.String(), prov.Issuer) {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
		res.Body.Close()
		return nil, &signInError{status: res.StatusCode, body: string(b)}
	}
	if res, err = prov.Login(c, res, user, "portico"); err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/me" {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
		return nil, &signInError{status: res.StatusCode, body: string(b)}
	}
	return c, nil
}

type signInError struct {
	status int
	body   string
}

func (e *signInError) Error() string {
	return fmt.Sprintf("sign-in ended on %d: %s", e.status, pageMessage(e.body))
}

// pageMessage is the error page's message, for the table.
func pageMessage(body string) string {
	for _, marker := range []string{`data-testid="error-message">`, `"message":"`} {
		if i := strings.Index(body, marker); i >= 0 {
			rest := body[i+len(marker):]
			if j := strings.IndexAny(rest, `<"`); j >= 0 {
				return rest[:j]
			}
		}
	}
	if len(body) > 120 {
		body = body[:120]
	}
	return strings.TrimSpace(body)
}

// run sends until ctx ends or max requests are sent.
func (l *load) run(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / l.rate)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < l.max; i++ {
		due := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-time.After(time.Until(due)):
		}
		client := l.clients[i%len(l.clients)]
		k := kinds[i%len(kinds)]
		s := services[(i/len(kinds))%len(services)]
		phase := int(l.phase.Load())
		l.sent.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := result{phase: phase, kind: k.name}
			r.status, r.said = get(client, l.base+k.path(s), k.degraded)
			r.took = time.Since(due)
			l.mu.Lock()
			l.results = append(l.results, r)
			l.mu.Unlock()
		}()
	}
	wg.Wait()
}

// get fetches url and reads what the answer says; status 0 is no answer.
func get(c *http.Client, url string, degraded func(string) string) (int, string) {
	res, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, ""
	}
	if res.StatusCode >= 400 {
		return res.StatusCode, pageMessage(string(b))
	}
	if degraded == nil {
		return res.StatusCode, ""
	}
	return res.StatusCode, degraded(string(b))
}

// of returns the results of one phase.
func (l *load) of(phase int) []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []result
	for _, r := range l.results {
		if r.phase == phase {
			out = append(out, r)
		}
	}
	return out
}

// actor deploys payment in production through the JSON API as a Portico admin, twice a
// second while it runs, alternating two images so a rollout is always under way; a burst
// adds deploys sent back to back, so one is likely between its audit intent and its result
// when the portal is killed. It keeps the audit IDs of the deploys the portal acknowledged.
type actor struct {
	base, token string
	mu          sync.Mutex
	n           int
	acked       []int
	refused     int // no answer: the portal was down
	failed      []string
}

func (a *actor) run(ctx context.Context, pause time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		a.deploy()
	}
}

func (a *actor) deploy() {
	a.mu.Lock()
	a.n++
	i := a.n
	a.mu.Unlock()
	body := fmt.Sprintf(`{"image": "registry.acme.example/payment:soak-%d", "reason": "soak: deploy during a portal restart", "confirm": "payment"}`, i%2)
	req, _ := http.NewRequest(http.MethodPost, a.base+"/api/v1/entities/component/default/payment/workloads/production/payments/payment/deploy", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.refused++
		return
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out struct {
		Audit struct {
			ID int `json:"id"`
		} `json:"audit"`
	}
	if res.StatusCode == http.StatusOK && json.Unmarshal(b, &out) == nil && out.Audit.ID > 0 {
		a.acked = append(a.acked, out.Audit.ID)
	} else {
		a.failed = append(a.failed, fmt.Sprintf("%d %s", res.StatusCode, pageMessage(string(b))))
	}
}
