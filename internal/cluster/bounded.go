package cluster

import (
	"context"
	"io"
	"net/http"
	"time"
)

// requestTimeout bounds one request to an API server, but for the long-lived ones.
const requestTimeout = 30 * time.Second

// bounded limits each request but watches and followed logs to d, from its start to its
// body's close. http.Client's Timeout cannot tell them apart: it cut every watch at 30 s
// (with a warning per cut) and would never let a large cache's watch-list finish.
func bounded(d time.Duration) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper { return boundedTransport{rt: rt, d: d} }
}

type boundedTransport struct {
	rt http.RoundTripper
	d  time.Duration
}

func (b boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if q := r.URL.Query(); q.Get("watch") == "true" || q.Get("watch") == "1" || q.Get("follow") == "true" {
		return b.rt.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.d)
	res, err := b.rt.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	res.Body = cancelOnClose{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// cancelOnClose releases the request's timer once its body is read and closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
