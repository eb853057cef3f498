package components_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portico-dev/portico/web/components"
)

// TestLiveSentences: the panels that reload themselves carry their state in one sentence
// (data-live), which the page's live region announces when it changes.
func TestLiveSentences(t *testing.T) {
	alerts := components.AlertsPanel{Refresh: "/catalog/component/default/payment/alerts", Rows: []components.AlertRow{
		{Name: "PaymentHighErrorRate", State: "firing"}, {Name: "PaymentHighLatency", State: "pending"}}}
	progress := components.Progress{URL: "/p", State: "progressing", Desired: 3, Updated: 2, Ready: 2, Available: 1}
	render := func(f func(*bytes.Buffer) error) string {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	got := render(func(b *bytes.Buffer) error { return components.AlertsView(alerts).Render(context.Background(), b) })
	if want := `data-live="2 alerts: PaymentHighErrorRate firing, PaymentHighLatency pending."`; !strings.Contains(got, want) {
		t.Errorf("alerts panel lacks %s:\n%s", want, got)
	}
	if !strings.Contains(got, `hx-trigger="every 30s"`) {
		t.Error("the alerts panel does not reload itself")
	}
	got = render(func(b *bytes.Buffer) error {
		return components.AlertsPageView(components.AlertsPage{Refresh: "/alerts"}).Render(context.Background(), b)
	})
	if !strings.Contains(got, `data-live="No alert is firing or pending."`) {
		t.Errorf("alerts page: %s", got)
	}
	got = render(func(b *bytes.Buffer) error { return components.ProgressView(progress).Render(context.Background(), b) })
	if want := `data-live="Rollout progressing: 2 of 3 updated, 2 ready, 1 available."`; !strings.Contains(got, want) {
		t.Errorf("progress lacks %s", want)
	}
	// Without a URL to reload from, nothing polls.
	got = render(func(b *bytes.Buffer) error {
		return components.AlertsView(components.AlertsPanel{}).Render(context.Background(), b)
	})
	if !strings.Contains(got, `hx-trigger="none"`) {
		t.Error("an alerts panel without a URL polls")
	}
}
