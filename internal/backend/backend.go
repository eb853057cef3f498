// Package backend holds what the observability clients share: a backend's address, budget,
// TLS and credentials, and an HTTP client built from them.
package backend

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// Config is one backend as the clients need it (secrets already read from the environment).
type Config struct {
	URL, UIURL         string
	Timeout            time.Duration // the panel's budget
	CAFile             string
	InsecureSkipVerify bool
	BearerToken        string
	Username, Password string
	// Name ("prometheus", "alertmanager", "jaeger") labels the calls Metrics records.
	Name    string
	Metrics *Metrics
}

// TLSConfig returns the client TLS settings, or nil for the defaults.
func (c Config) TLSConfig() (*tls.Config, error) {
	if c.CAFile == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	t := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in, for test installations
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", c.CAFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// RoundTripper is an HTTP transport with the backend's TLS settings and credentials.
func (c Config) RoundTripper() (http.RoundTripper, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		tr.TLSClientConfig = tc
	}
	var rt http.RoundTripper = otelhttp.NewTransport(authTransport{c: c, next: tr},
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return c.Name + " " + r.Method + " " + r.URL.Path }))
	if c.Metrics != nil {
		rt = observed{name: c.Name, m: c.Metrics, next: rt}
	}
	return rt, nil
}

type authTransport struct {
	c    Config
	next http.RoundTripper
}

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if a.c.BearerToken == "" && a.c.Username == "" {
		return a.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	if a.c.BearerToken != "" {
		r.Header.Set("Authorization", "Bearer "+a.c.BearerToken)
	} else {
		r.SetBasicAuth(a.c.Username, a.c.Password)
	}
	return a.next.RoundTrip(r)
}
