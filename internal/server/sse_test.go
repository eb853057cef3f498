package server

import (
	"html"
	"strings"
	"testing"
)

// parseSSE reads an event stream as browsers do (WHATWG): lines end at CRLF, CR or LF.
func parseSSE(stream string) []map[string]string {
	var events []map[string]string
	cur := map[string]string{}
	lines := strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(stream), "\n")
	for _, l := range lines {
		if l == "" {
			if len(cur) > 0 {
				events = append(events, cur)
				cur = map[string]string{}
			}
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		cur[k] += strings.TrimPrefix(v, " ")
	}
	return events
}

// TestSSEEventKeepsLineBreaksInData: a log line with carriage returns (a progress bar), line
// feeds and both arrives as one event whose data is the whole line.
func TestSSEEventKeepsLineBreaksInData(t *testing.T) {
	for _, line := range []string{"downloading 10%\rdownloading 50%\rdone", "two\nlines", "crlf\r\nend", "id: 7\rretry: 1", "plain"} {
		got := parseSSE(sseEvent("line", "<div>"+line+"</div>"))
		if len(got) != 1 || len(got[0]) != 2 || got[0]["event"] != "line" {
			t.Fatalf("%q became %v", line, got)
		}
		if data := html.UnescapeString(got[0]["data"]); data != "<div>"+line+"</div>" {
			t.Errorf("%q arrived as %q", line, data)
		}
	}
}
