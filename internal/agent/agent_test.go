package agent

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEntityPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"payment", "/api/v1/entities/component/default/payment"},
		{"component:payment", "/api/v1/entities/component/default/payment"},
		{"Component:payments/ledger", "/api/v1/entities/component/payments/ledger"},
		{"group:team-payments", "/api/v1/entities/group/default/team-payments"},
		{" api:default/payment-api ", "/api/v1/entities/api/default/payment-api"},
	} {
		if got, err := entityPath(tt.in); err != nil || got != tt.want {
			t.Errorf("entityPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", ":x", "component:/x", "component:a/b/c", "a/b?c", "component:default/"} {
		if got, err := entityPath(bad); err == nil || !strings.HasPrefix(err.Error(), "invalid") {
			t.Errorf("entityPath(%q) = %q, %v; want an invalid error", bad, got, err)
		}
	}
}

// TestAnswersAreBounded: an answer over the limit is refused with what to do; lines are cut
// on a character boundary.
func TestAnswersAreBounded(t *testing.T) {
	s := New(Config{MaxOutput: 1 << 10})
	if _, err := s.answer("ok", map[string]string{"x": strings.Repeat("a", 2000)}); !errors.Is(err, errTooLarge) || !strings.Contains(err.Error(), "narrow") {
		t.Errorf("an answer of 2 KB under a 1 KB limit: %v", err)
	}
	res, err := s.answer("summary", map[string]int{"n": 1})
	if err != nil || len(res.Content) != 2 {
		t.Fatalf("a small answer: %v %v", res, err)
	}
	long := strings.Repeat("é", 100)
	if c := clip(long, 51); !utf8.ValidString(c) || !strings.HasSuffix(c, "…") || len(c) > 51+len("…") {
		t.Errorf("clip cut a character: %q", c)
	}
	if bound(0, 20, 50) != 20 || bound(99, 20, 50) != 50 || bound(7, 20, 50) != 7 {
		t.Error("bound")
	}
}
