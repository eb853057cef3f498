package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSealer(t *testing.T) {
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a short key must be refused")
	}
	s, _ := newSealer([]byte(strings.Repeat("k", 32)))
	other, _ := newSealer([]byte(strings.Repeat("x", 32)))
	in := Session{User: User{Subject: "alice.nguyen", Groups: []string{"team-payments"}}}
	v, err := s.seal("session", in)
	if err != nil {
		t.Fatal(err)
	}
	var out Session
	if err := s.open("session", v, &out); err != nil || out.User.Subject != "alice.nguyen" || out.User.Groups[0] != "team-payments" {
		t.Fatalf("round trip: %v %+v", err, out)
	}
	// One character changed in the middle, where every base64 bit is data: replacing the last
	// two could leave the bytes as they were (their trailing bits may be padding).
	mid := len(v) / 2
	swap := byte('A')
	if v[mid] == 'A' {
		swap = 'B'
	}
	tampered := v[:mid] + string(swap) + v[mid+1:]
	for name, try := range map[string]func() error{
		"tampered":      func() error { return s.open("session", tampered, &out) },
		"other key":     func() error { return other.open("session", v, &out) },
		"other purpose": func() error { return s.open("login", v, &out) },
		"garbage":       func() error { return s.open("session", "not-base64!", &out) },
	} {
		if err := try(); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("%s: err = %v, want ErrInvalidSession", name, err)
		}
	}
}

// TestSessionCookieSize: a user in many groups gets a session split over cookies that each
// fit in the 4 KB a browser keeps; it reads back whole, shrinks back to one cookie (deleting
// the others) when the groups go, and a session too large for any browser is refused with a
// message, not dropped silently.
func TestSessionCookieSize(t *testing.T) {
	a := &Authenticator{cfg: Config{MaxAge: time.Hour, IdleTimeout: time.Hour}, now: time.Now}
	a.sealer, _ = newSealer([]byte(strings.Repeat("k", 32)))
	groups := func(n int) []string {
		var g []string
		for i := range n {
			g = append(g, fmt.Sprintf("engineering-platform-observability-group-%03d", i))
		}
		return g
	}
	now := time.Now()
	big := Session{User: User{Subject: "alice", Email: "alice.nguyen@acme.example", Groups: groups(200)}, Created: now, Seen: now,
		IDToken: strings.Repeat("x", 3000), RefreshToken: strings.Repeat("r", 800)}
	rec := httptest.NewRecorder()
	if err := a.saveFor(rec, nil, big); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) < 3 {
		t.Fatalf("%d cookies for a %d-group session, want it split", len(cookies), len(big.User.Groups))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		if n := len(c.String()); n > 4096 {
			t.Errorf("cookie %s is %d bytes with its attributes, over the 4096 a browser keeps", c.Name, n)
		}
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	got, err := a.Current(httptest.NewRecorder(), req)
	if err != nil || len(got.User.Groups) != 200 || got.User.Groups[199] != big.User.Groups[199] || got.IDToken != big.IDToken {
		t.Fatalf("read back: %v, %d groups", err, len(got.User.Groups))
	}
	// Fewer groups: one cookie again, the other chunks deleted.
	small := big
	small.User.Groups, small.IDToken, small.RefreshToken = []string{"team-payments"}, "", ""
	rec = httptest.NewRecorder()
	if err := a.saveFor(rec, req, small); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, c := range rec.Result().Cookies() {
		if c.Name != sessionCookie && c.MaxAge < 0 {
			deleted++
		}
	}
	if deleted != len(cookies)-1 {
		t.Errorf("%d stale chunks deleted, want %d", deleted, len(cookies)-1)
	}
	// A part missing (a browser that dropped one): no session, not a garbled one.
	partial := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies[:len(cookies)-1] {
		partial.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	if _, err := a.Current(httptest.NewRecorder(), partial); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("session with a chunk missing: err = %v, want ErrInvalidSession", err)
	}
	huge := big
	huge.User.Groups = groups(1000)
	if err := a.saveFor(httptest.NewRecorder(), nil, huge); !errors.Is(err, ErrSessionTooLarge) || !strings.Contains(err.Error(), "1000 groups") {
		t.Errorf("a session no browser could keep: err = %v, want ErrSessionTooLarge naming the groups", err)
	}
}
