package components

import (
	"fmt"
	"strings"
)

// The sentences panels that reload themselves carry in data-live: when one changes, the
// page's live region announces it (app.js). They name the state, not the change, so an
// announcement makes sense on its own.

// Live is the rollout's state in a sentence.
func (p Progress) Live() string {
	return fmt.Sprintf("Rollout %s: %d of %d updated, %d ready, %d available.", p.State, p.Updated, p.Desired, p.Ready, p.Available)
}

// Live is the runtime's health in a sentence.
func (r Runtime) Live() string {
	if !r.Mapped || r.Error != "" {
		return ""
	}
	return strings.TrimSpace("Runtime " + r.Health.Level + ". " + r.Health.Reason)
}

// Live names the newest run and its status.
func (p PipelinesPanel) Live() string {
	if len(p.Rows) == 0 {
		return p.Empty
	}
	r := p.Rows[0]
	return fmt.Sprintf("Latest run %s: %s.", r.Name, r.Status)
}

// Live names what is firing.
func (p AlertsPanel) Live() string { return alertsLive(p.Rows) }

// Live names what is firing across the estate.
func (p AlertsPage) Live() string {
	var rows []AlertRow
	for _, g := range p.Groups {
		rows = append(rows, g.Rows...)
	}
	return alertsLive(rows)
}

func alertsLive(rows []AlertRow) string {
	if len(rows) == 0 {
		return "No alert is firing or pending."
	}
	names := make([]string, 0, len(rows))
	for _, a := range rows {
		names = append(names, a.Name+" "+a.State)
	}
	noun := "alerts"
	if len(rows) == 1 {
		noun = "alert"
	}
	return fmt.Sprintf("%d %s: %s.", len(rows), noun, strings.Join(names, ", "))
}
