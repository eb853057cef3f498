package traces

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/portico-dev/portico/internal/backend"
	"github.com/portico-dev/portico/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func client(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := New(backend.Config{URL: addr, Timeout: 2 * time.Second, UIURL: "http://jaeger.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func setFault(t *testing.T, demo, svc, body string) {
	t.Helper()
	method := http.MethodPut
	if body == "" {
		method = http.MethodDelete
	}
	req, _ := http.NewRequest(method, demo+"/faults/"+svc, bytes.NewBufferString(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("fault %s: %v %v", svc, err, res)
	}
}

// TestTracesFromJaeger reads the demo traffic's traces from the real Jaeger: recent and
// slowest lists, a trace laid out as a waterfall, failed traces with error spans once a
// fault is injected, and the service dependencies.
func TestTracesFromJaeger(t *testing.T) {
	be := testenv.DemoTraffic(t)
	c := client(t, be.JaegerGRPC)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var recent []Summary
	for len(recent) < 3 {
		var err error
		if recent, err = c.Find(ctx, Query{Service: "payment", Lookback: 10 * time.Minute, Limit: 10}); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("no payment traces arrived")
		}
		time.Sleep(time.Second)
	}
	for i := 1; i < len(recent); i++ {
		if recent[i].Start.After(recent[i-1].Start) {
			t.Error("recent traces are not newest first")
		}
	}
	slow, err := c.Find(ctx, Query{Service: "payment", Lookback: 10 * time.Minute, Limit: 5, Order: "slowest"})
	if err != nil || len(slow) == 0 {
		t.Fatalf("slowest: %v %d", err, len(slow))
	}
	for i := 1; i < len(slow); i++ {
		if slow[i].Duration > slow[i-1].Duration {
			t.Error("slowest traces are not slowest first")
		}
	}
	tr, err := c.Get(ctx, slow[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rows := Waterfall(tr)
	if len(rows) != len(tr.Spans) || rows[0].Depth != 0 || rows[0].Offset != 0 {
		t.Fatalf("waterfall: %d rows for %d spans, first %+v", len(rows), len(tr.Spans), rows[0])
	}
	deeper := false
	for _, r := range rows[1:] {
		deeper = deeper || r.Depth > 0
		if r.Offset < 0 || r.Offset+r.Width > 1.0001 {
			t.Errorf("span %s outside the trace: offset %v width %v", r.Operation, r.Offset, r.Width)
		}
	}
	if !deeper {
		t.Error("no span is nested under another")
	}

	setFault(t, be.DemoURL, "notification", `{"errorRate": 1}`)
	defer setFault(t, be.DemoURL, "notification", "")
	var failed []Summary
	for len(failed) == 0 {
		if failed, err = c.Find(ctx, Query{Service: "notification", Lookback: time.Minute, Limit: 5, ErrorsOnly: true}); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("no failed notification traces")
		}
		time.Sleep(time.Second)
	}
	ft, err := c.Get(ctx, failed[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if ft.Errors == 0 {
		t.Errorf("a failed trace without error spans: %+v", failed[0])
	}

	deps, err := c.Dependencies(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, d := range deps {
		found[d.Parent+">"+d.Child] = d.Calls > 0
	}
	for _, want := range []string{"gateway>payment", "payment>pricing", "payment>notification", "search>analytics"} {
		if !found[want] {
			t.Errorf("dependency %s missing from %v", want, deps)
		}
	}
	if _, err := c.Get(ctx, "00000000000000000000000000000bad"); err == nil || Explain(err, time.Second) != "no such trace (it may have expired)" {
		t.Errorf("missing trace: %v / %q", err, Explain(err, time.Second))
	}
}

// TestJaegerDown: an unreachable Jaeger fails within the budget, with a reason.
func TestJaegerDown(t *testing.T) {
	port, _ := testenv.ReservePort()
	c := client(t, "127.0.0.1:"+strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), c.Budget())
	defer cancel()
	start := time.Now()
	_, err := c.Find(ctx, Query{Service: "payment"})
	if err == nil || time.Since(start) > 5*c.Budget() { // gives up rather than hanging (the bench times it)
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if got := Explain(err, c.Budget()); got != "Jaeger is unreachable" && got != "Jaeger did not answer within 2s" {
		t.Errorf("reason = %q", got)
	}
}
