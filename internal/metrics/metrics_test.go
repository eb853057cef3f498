package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/common/model"
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
	if err != nil || q != `rate(x{ service="payment", pod=~"payment-1\.a|payment-2" }[1m]) in payments` {
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
