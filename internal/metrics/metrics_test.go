package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/portico-dev/portico/internal/backend"
)

func TestParseRules(t *testing.T) {
	got := ParseRules(`sum(rate(http_requests_total{service="payment"}[5m])) by (route)|route,histogram_quantile(0.95, sum(rate(x_bucket{a="b,c"}[5m])) by (le))|le, up`)
	if len(got) != 3 {
		t.Fatalf("rules: %+v", got)
	}
	if got[0].Legend != "{{.route}}" || !strings.HasPrefix(got[1].Query, "histogram_quantile(0.95, sum(") || got[1].Legend != "{{.le}}" || got[2].Query != "up" || got[2].Legend != "" {
		t.Errorf("rules: %+v", got)
	}
	if len(ParseRules("")) != 0 {
		t.Error("no annotation: no rules")
	}
}

func TestLabelMatchersAndRender(t *testing.T) {
	if got := LabelMatchers("", "payment"); got != `service="payment"` {
		t.Errorf("default = %s", got)
	}
	if got := LabelMatchers(`service=payment, env="prod"`, "x"); got != `service="payment", env="prod"` {
		t.Errorf("annotation = %s", got)
	}
	q, err := render(`rate(x{ {{.Labels}}, pod=~"{{.Pods}}" }[{{.Window}}]) in {{.Namespace}}`, Target{Name: "payment", Namespace: "payments",
		Labels: `service="payment"`, Pods: []string{"payment-1.a", "payment-2"}}, RangeNamed("15m"))
	if err != nil || q != `rate(x{ service="payment", pod=~"payment-1\\.a|payment-2" }[1m]) in payments` {
		t.Errorf("render = %q %v", q, err)
	}
	if q, _ := render(`{{.Pods}}`, Target{Name: "maps"}, RangeNamed("1h")); q != "maps-.+" {
		t.Errorf("pods without a cluster = %q", q)
	}
	if _, err := render(`{{.Nope}}`, Target{}, RangeNamed("1h")); err == nil {
		t.Error("an unknown placeholder must fail")
	}
	if RangeNamed("nonsense").Name != "1h" {
		t.Error("an unknown range falls back to 1h")
	}
}

func TestSeriesName(t *testing.T) {
	m := model.Metric{"pod": "payment-1", "route": "/v1"}
	for legend, want := range map[string]string{"p95": "p95", "{{.pod}}": "payment-1", "{{.route}} on {{.pod}}": "/v1 on payment-1", "": m.String()} {
		if got := seriesName(legend, m); got != want {
			t.Errorf("seriesName(%q) = %q, want %q", legend, got, want)
		}
	}
}

// TestRuleTitles: a rule's chart is titled in words, not by its raw PromQL.
func TestRuleTitles(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{`sum(rate(http_requests_total{service="maps"}[5m])) by (route)`, "http requests per second by route"},
		{`histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{service="maps"}[5m])) by (le))`, "p95 http request duration"},
		{`histogram_quantile(0.5, sum by (le, route) (rate(http_request_duration_seconds_bucket[5m])))`, "p50 http request duration by route"},
		{`max(process_resident_memory_bytes{job="maps"})`, "process resident memory (bytes)"},
		{`up`, "up"},
	} {
		if got := ruleTitle(tt.query); got != tt.want {
			t.Errorf("ruleTitle(%s) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

// TestSharedQuerySurvivesTheFirstViewerLeaving: two viewers wait on the same query; the one
// whose request started it goes away, and the other still gets the answer.
func TestSharedQuerySurvivesTheFirstViewerLeaving(t *testing.T) {
	asked := make(chan struct{}, 4)
	release := make(chan struct{})
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"payment-1"},"values":[[1700000000,"1"]]}]}}`)
	}))
	defer prom.Close()
	c, err := New(backend.Config{URL: prom.URL, Timeout: 30 * time.Second}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	start, end := time.Unix(1700000000, 0), time.Unix(1700000060, 0)
	first, leave := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() { _, err := c.rangeQuery(first, "up", start, end, time.Minute); firstDone <- err }()
	<-asked // the first viewer's request reached Prometheus
	secondDone := make(chan error, 1)
	go func() { _, err := c.rangeQuery(context.Background(), "up", start, end, time.Minute); secondDone <- err }()
	for range 100 { // let the second viewer join the flight
		runtime.Gosched()
	}
	leave()
	close(release)
	if err := <-secondDone; err != nil {
		t.Errorf("the second viewer failed because the first went away: %v", err)
	}
	<-firstDone
	if len(asked) != 0 {
		t.Errorf("Prometheus was asked %d more times; the viewers should share one query", len(asked))
	}
}

// TestPodRegexIsAValidPromQLString: a name with a dot is escaped once for the regex and once
// for the PromQL string it sits in.
func TestPodRegexIsAValidPromQLString(t *testing.T) {
	q, err := render(`up{pod=~"{{.Pods}}"}`, Target{Name: "payment.v2"}, RangeNamed("1h"))
	if err != nil || q != `up{pod=~"payment\\.v2-.+"}` {
		t.Errorf("render = %q %v", q, err)
	}
	if got := promString(`a"b\c`); got != `a\"b\\c` {
		t.Errorf("promString = %q", got)
	}
}
