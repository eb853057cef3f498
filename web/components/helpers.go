package components

import (
	"strconv"
	"strings"
)

func itoa(i int) string { return strconv.Itoa(i) }

func lower(s string) string { return strings.ToLower(s) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func sevClass(s string) string {
	switch s {
	case "error":
		return "bad"
	case "warning":
		return "warn"
	}
	return ""
}

func i64(i int64) string { return strconv.FormatInt(i, 10) }

// orProduction names a production workload's environment, or says "production" when its
// cluster has no environment (a production lifecycle).
func orProduction(env string) string {
	if env == "" {
		return "production"
	}
	return env
}

func f1(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func join(s []string) string { return strings.Join(s, ", ") }

// refreshTrigger reloads a live panel when its stream says so, and every 30 s regardless;
// panels without a refresh URL never reload.
// pollTrigger reloads a panel with no push of its own (alerts) every 30 seconds.
func pollTrigger(url string) string {
	if url == "" {
		return "none"
	}
	return "every 30s"
}

func refreshTrigger(url string) string {
	if url == "" {
		return "none"
	}
	return "sse:changed, every 30s"
}

func orNone(level string) string {
	if level == "" {
		return "no level"
	}
	return level
}

func scoreClass(status string) string {
	switch status {
	case "pass", "fail", "error", "exempt":
		return status
	}
	return "na"
}

func scoreSymbol(status string) string {
	switch status {
	case "pass":
		return "✓"
	case "fail":
		return "✗"
	case "error":
		return "!"
	case "exempt":
		return "E"
	}
	return "–"
}

func joinWords(ws []string) string {
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	out := ""
	for i, w := range ws {
		switch {
		case i == 0:
			out = w
		case i == len(ws)-1:
			out += " and " + w
		default:
			out += ", " + w
		}
	}
	return out
}

// dash shows an unknown value as a dash.
func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
