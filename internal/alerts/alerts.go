// Package alerts reads firing and pending alerts from Prometheus' alerts API and
// Alertmanager's API v2 (which knows what is silenced or inhibited), merges them, and matches
// them to services by alert name or labels.
package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/common/model"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"golang.org/x/sync/singleflight"

	"github.com/portico-dev/portico/internal/backend"
)

// Alert is one alert instance.
type Alert struct {
	Name         string            `json:"name"`
	State        string            `json:"state"` // firing, pending
	Severity     string            `json:"severity,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Description  string            `json:"description,omitempty"`
	RunbookURL   string            `json:"runbookUrl,omitempty"`
	Since        time.Time         `json:"since"`
	Labels       map[string]string `json:"labels"`
	Silenced     bool              `json:"silenced"`
	Inhibited    bool              `json:"inhibited"`
	SilencedBy   []string          `json:"silencedBy,omitempty"`
	GeneratorURL string            `json:"generatorUrl,omitempty"`
	Value        string            `json:"value,omitempty"`
}

// Result is every alert the reachable backends know, and what could not be read.
type Result struct {
	Alerts []Alert
	Errors []string // one per backend that failed, in words
}

// Source is a backend: Prometheus (its API) and/or Alertmanager (its base URL).
type Source struct {
	Prometheus   v1.API // nil: not configured
	Alertmanager *backend.Config
	Budget       time.Duration
	TTL          time.Duration // answers shared by every viewer
}

// Client reads alerts within the budget and caches them briefly.
type Client struct {
	src     Source
	am      *http.Client
	flights singleflight.Group
	mu      sync.Mutex
	last    Result
	until   time.Time // last is fresh until then
}

// New returns a client over the configured sources.
func New(src Source) (*Client, error) {
	c := &Client{src: src}
	if src.Alertmanager != nil {
		rt, err := src.Alertmanager.RoundTripper()
		if err != nil {
			return nil, err
		}
		c.am = &http.Client{Transport: rt}
	}
	if c.src.TTL == 0 {
		c.src.TTL = 5 * time.Second
	}
	return c, nil
}

// Budget is the panel's time budget.
func (c *Client) Budget() time.Duration { return c.src.Budget }

// errorTTL is how long an answer with a failed backend in it is shared.
const errorTTL = time.Second

// All returns every alert, from the cache when it is fresh.
func (c *Client) All(ctx context.Context) Result {
	c.mu.Lock()
	if time.Now().Before(c.until) {
		r := c.last
		c.mu.Unlock()
		return r
	}
	c.mu.Unlock()
	v, _, _ := c.flights.Do("all", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.src.Budget)
		defer cancel()
		r := c.fetch(ctx)
		c.mu.Lock()
		ttl := c.src.TTL
		if len(r.Errors) > 0 {
			ttl = min(ttl, errorTTL) // a failed answer is kept only briefly: the panel recovers with its backend
		}
		c.last, c.until = r, time.Now().Add(ttl)
		c.mu.Unlock()
		return r, nil
	})
	return v.(Result)
}

func (c *Client) fetch(ctx context.Context) Result {
	var (
		wg          sync.WaitGroup
		prom, am    []Alert
		perr, amerr error
	)
	if c.src.Prometheus != nil {
		wg.Add(1)
		go func() { defer wg.Done(); prom, perr = c.fromPrometheus(ctx) }()
	}
	if c.am != nil {
		wg.Add(1)
		go func() { defer wg.Done(); am, amerr = c.fromAlertmanager(ctx) }()
	}
	wg.Wait()
	var r Result
	if perr != nil {
		r.Errors = append(r.Errors, "Prometheus: "+reason(perr, c.src.Budget))
	}
	if amerr != nil {
		r.Errors = append(r.Errors, "Alertmanager: "+reason(amerr, c.src.Budget))
	}
	r.Alerts = merge(prom, am)
	return r
}

func reason(err error, budget time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", budget)
	}
	return err.Error()
}

func (c *Client) fromPrometheus(ctx context.Context) ([]Alert, error) {
	res, err := c.src.Prometheus.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(res.Alerts))
	for _, a := range res.Alerts {
		labels := map[string]string{}
		for k, v := range a.Labels {
			labels[string(k)] = string(v)
		}
		ann := map[string]string{}
		for k, v := range a.Annotations {
			ann[string(k)] = string(v)
		}
		out = append(out, build(labels, ann, string(a.State), a.ActiveAt, a.Value))
	}
	return out, nil
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

func (c *Client) fromAlertmanager(ctx context.Context) ([]Alert, error) {
	u := strings.TrimRight(c.src.Alertmanager.URL, "/") + "/api/v2/alerts?active=true&silenced=true&inhibited=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.am.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", res.Status)
	}
	var raw []amAlert
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		return nil, fmt.Errorf("unreadable answer: %v", err)
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		a := build(r.Labels, r.Annotations, "firing", r.StartsAt, "")
		a.GeneratorURL = r.GeneratorURL
		a.Silenced, a.SilencedBy = len(r.Status.SilencedBy) > 0, r.Status.SilencedBy
		a.Inhibited = len(r.Status.InhibitedBy) > 0
		out = append(out, a)
	}
	return out, nil
}

func build(labels, ann map[string]string, state string, since time.Time, value string) Alert {
	return Alert{Name: labels["alertname"], State: state, Severity: labels["severity"], Summary: ann["summary"], Description: ann["description"],
		RunbookURL: ann["runbook_url"], Since: since, Labels: labels, Value: value}
}

// Fingerprint identifies the alert by its labels, as Alertmanager's fingerprint does (the
// same hash of the same label set), so links from either can name it.
func (a Alert) Fingerprint() string {
	return model.LabelSet(toLabelSet(a.Labels)).Fingerprint().String()
}

func toLabelSet(labels map[string]string) model.LabelSet {
	out := make(model.LabelSet, len(labels))
	for k, v := range labels {
		out[model.LabelName(k)] = model.LabelValue(v)
	}
	return out
}

func key(labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k, v := range labels {
		ks = append(ks, k+"="+v)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// merge joins both views: Prometheus says firing or pending; Alertmanager says silenced or
// inhibited, and knows alerts from other rule evaluators.
func merge(prom, am []Alert) []Alert {
	byKey := map[string]int{}
	var out []Alert
	for _, a := range prom {
		byKey[key(a.Labels)] = len(out)
		out = append(out, a)
	}
	for _, a := range am {
		if i, ok := byKey[key(a.Labels)]; ok {
			out[i].Silenced, out[i].SilencedBy, out[i].Inhibited = a.Silenced, a.SilencedBy, a.Inhibited
			if out[i].GeneratorURL == "" {
				out[i].GeneratorURL = a.GeneratorURL
			}
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return out[i].State == "firing"
		}
		if si, sj := SeverityRank(out[i].Severity), SeverityRank(out[j].Severity); si != sj {
			return si < sj
		}
		return out[i].Since.Before(out[j].Since)
	})
	return out
}

// SeverityRank orders severities, the most urgent first: critical or page 0, warning 1,
// anything else 2.
func SeverityRank(s string) int {
	switch strings.ToLower(s) {
	case "critical", "page":
		return 0
	case "warning", "warn":
		return 1
	}
	return 2
}

// Matcher says which alerts belong to a service: the prometheus.io/alert annotation's alert
// names ("all" for any), and/or the prometheus.io/labels annotation's labels, which an alert
// must all carry. Without either, alerts labelled service=<name> match.
type Matcher struct {
	Names  []string
	Labels map[string]string
}

// MatcherFor reads a service's annotations.
func MatcherFor(alertAnnotation, labelsAnnotation, name string) Matcher {
	var m Matcher
	for _, n := range strings.Split(alertAnnotation, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m.Names = append(m.Names, n)
		}
	}
	for _, kv := range strings.Split(labelsAnnotation, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k != "" {
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	if len(m.Names) == 0 && len(m.Labels) == 0 {
		m.Labels = map[string]string{"service": name}
	}
	return m
}

// Matches reports whether the alert belongs to the service.
func (m Matcher) Matches(a Alert) bool {
	if len(m.Names) > 0 && !slices.Contains(m.Names, "all") && !slices.Contains(m.Names, a.Name) {
		return false
	}
	for k, v := range m.Labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// Filter returns the alerts m matches.
func (m Matcher) Filter(all []Alert) []Alert {
	var out []Alert
	for _, a := range all {
		if m.Matches(a) {
			out = append(out, a)
		}
	}
	return out
}

// Rule is an alerting rule Prometheus evaluates.
type Rule struct {
	Name   string            `json:"name"`
	Expr   string            `json:"expr"`
	Labels map[string]string `json:"labels"`
	Group  string            `json:"group"`
}

// Rules lists Prometheus' alerting rules (none without Prometheus).
func (c *Client) Rules(ctx context.Context) ([]Rule, error) {
	if c.src.Prometheus == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.src.Budget)
	defer cancel()
	res, err := c.src.Prometheus.Rules(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("Prometheus rules: %s", reason(err, c.src.Budget))
	}
	var out []Rule
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			a, ok := r.(v1.AlertingRule)
			if !ok {
				continue
			}
			labels := map[string]string{}
			for k, v := range a.Labels {
				labels[string(k)] = string(v)
			}
			out = append(out, Rule{Name: a.Name, Expr: a.Query, Labels: labels, Group: g.Name})
		}
	}
	return out, nil
}

// MatchesRule reports whether an alerting rule is the service's: it is named in the
// service's alert list, and each of its labels is set on the rule or selected in its query.
func (m Matcher) MatchesRule(r Rule) bool {
	if len(m.Names) > 0 && !slices.Contains(m.Names, "all") && !slices.Contains(m.Names, r.Name) {
		return false
	}
	for k, v := range m.Labels {
		if r.Labels[k] != v && !strings.Contains(r.Expr, k+`="`+v+`"`) {
			return false
		}
	}
	return true
}
