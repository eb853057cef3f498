package ingest

import (
	"errors"
	"strings"
	"testing"
)

// FuzzVerifySignature: a body verifies only with the HMAC of one of the secrets over exactly
// that body; any other header is refused with ErrBadSignature.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"ref":"refs/heads/main"}`), "s3cret", "")
	f.Add([]byte("x"), "s3cret", "sha256=zz")
	f.Add([]byte(""), "", "sha256=")
	f.Fuzz(func(t *testing.T, body []byte, secret, header string) {
		err := VerifySignature([]string{secret}, body, header)
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("unexpected error: %v", err)
		}
		if secret != "" {
			if VerifySignature([]string{secret}, body, Sign(secret, body)) != nil {
				t.Fatal("a correct signature was refused")
			}
			if header != Sign(secret, body) && !strings.EqualFold(header, Sign(secret, body)) && err == nil {
				t.Fatalf("a wrong signature %q verified", header)
			}
		} else if err == nil {
			t.Fatal("an empty secret verified something")
		}
	})
}

// FuzzParsePush: a push payload parses into a ref and clone URLs or is refused in words.
func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/acme/payment.git","ssh_url":"git@github.com:acme/payment.git"}}`))
	f.Add([]byte(`{"object_kind":"push","ref":"refs/heads/main","project":{"git_http_url":"https://gitlab.example/acme/x.git"}}`))
	f.Add([]byte(strings.Repeat("[", 1000)))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePush(body)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an error without words")
			}
			return
		}
		for _, u := range p.URLs {
			if u == "" {
				t.Fatalf("an empty URL in %+v", p)
			}
		}
	})
}
