package auth

import (
	"errors"
	"strings"
	"testing"
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
	tampered := v[:len(v)-2] + "AA"
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
