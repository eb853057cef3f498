package backend

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestCredentialsAndTLS: the transport sends the configured bearer token or basic auth, and
// trusts a server only through the configured CA.
func TestCredentialsAndTLS(t *testing.T) {
	var got string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Authorization") }))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pemOf(srv), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{CAFile: ca, BearerToken: "s3cret"}, "Bearer s3cret"},
		{Config{CAFile: ca, Username: "portico", Password: "pw"}, "Basic cG9ydGljbzpwdw=="},
		{Config{CAFile: ca}, ""},
	} {
		rt, err := c.cfg.RoundTripper()
		if err != nil {
			t.Fatal(err)
		}
		res, err := (&http.Client{Transport: rt}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got != c.want {
			t.Errorf("Authorization = %q, want %q", got, c.want)
		}
	}
	rt, _ := Config{}.RoundTripper()
	if _, err := (&http.Client{Transport: rt}).Get(srv.URL); err == nil {
		t.Error("a server signed by an unknown CA was trusted")
	}
	if _, err := (Config{CAFile: filepath.Join(t.TempDir(), "missing.pem")}).RoundTripper(); err == nil {
		t.Error("a missing CA file must be an error")
	}
}

func pemOf(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
