// Command portico-demo plays Acme's microservices for the local stack. For every pod that is
// serving in the clusters it exposes Prometheus metrics under the usual names (HTTP requests and
// latency by service, route and code; cAdvisor CPU and memory; kube-state-metrics requests,
// limits and restarts) and sends OpenTelemetry traces of realistic call chains to Jaeger. Its
// /faults endpoint (and `portico-demo fault`) injects errors, latency, failing dependencies or
// a bad image tag per service.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

func sqrt(x float64) float64 { return math.Sqrt(x) }
func exp(x float64) float64  { return math.Exp(x) }

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	if len(os.Args) > 1 && os.Args[1] == "fault" {
		err = faultCLI(os.Args[2:])
	} else {
		err = serve(log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico-demo:", err)
		os.Exit(1)
	}
}

func serve(log *slog.Logger) error {
	addr := flag.String("addr", "127.0.0.1:9464", "metrics and control endpoint")
	clustersFlag := flag.String("clusters", "", "name=kubeconfig[:weight],… (weight: share of traffic, default 1)")
	otlp := flag.String("otlp", "127.0.0.1:4318", "OTLP/HTTP endpoint of Jaeger (empty: no traces)")
	rate := flag.Float64("rate", 60, "requests per second per service")
	sample := flag.Float64("sample", 0.02, "share of entry requests traced")
	istio := flag.String("istio", "", "cluster/namespace pairs whose services report Istio's standard metrics, as if meshed (comma-separated)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var clusters []*cluster
	for _, spec := range strings.Split(*clustersFlag, ",") {
		if spec == "" {
			continue
		}
		name, rest, _ := strings.Cut(spec, "=")
		kc, w, _ := strings.Cut(rest, ":")
		weight := 1.0
		if w != "" {
			fmt.Sscan(w, &weight)
		}
		c, err := watchCluster(ctx, name, kc, weight)
		if err != nil {
			return err
		}
		clusters = append(clusters, c)
	}
	if len(clusters) == 0 {
		return fmt.Errorf("--clusters is required")
	}
	tracers, shutdown, err := newTracers(ctx, *otlp)
	if err != nil {
		return err
	}
	defer shutdown()
	reg := prometheus.NewRegistry()
	f := &faults{by: map[string]fault{}}
	s := newSim(reg, clusters, f, *rate, *sample, tracers)
	s.meshed = map[string]bool{}
	for _, pair := range strings.Split(*istio, ",") {
		if pair = strings.TrimSpace(pair); pair != "" {
			s.meshed[pair] = true
		}
	}
	go s.run(ctx, 200*time.Millisecond)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/faults", f)
	mux.Handle("/faults/", f)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	log.Info("portico-demo serving", "addr", ln.Addr().String(), "clusters", len(clusters), "rate", *rate)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// newTracers gives each simulated service a tracer whose spans carry its service.name.
func newTracers(ctx context.Context, endpoint string) (func(string) trace.Tracer, func(), error) {
	if endpoint == "" {
		noop := trace.NewNoopTracerProvider()
		return func(string) trace.Tracer { return noop.Tracer("") }, func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	if err != nil {
		return nil, nil, err
	}
	providers := map[string]*sdktrace.TracerProvider{}
	for svc := range services {
		res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(svc), semconv.ServiceNamespace("acme"))
		providers[svc] = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)), sdktrace.WithResource(res))
	}
	return func(svc string) trace.Tracer { return providers[svc].Tracer("portico-demo") }, func() {
		for _, p := range providers {
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = p.Shutdown(sctx)
			cancel()
		}
	}, nil
}

// faultCLI: portico-demo fault SERVICE [--error-rate R] [--latency D] [--fail-dependency S] [--bad-tag T] [--clear]
func faultCLI(args []string) error {
	fs := flag.NewFlagSet("fault", flag.ContinueOnError)
	control := fs.String("control", "http://127.0.0.1:9464", "the demo's control endpoint")
	errRate := fs.Float64("error-rate", 0, "extra 5xx ratio (0..1)")
	lat := fs.Duration("latency", 0, "latency added to every request")
	dep := fs.String("fail-dependency", "", "make calls to this service fail")
	bad := fs.String("bad-tag", "", "pods running this image tag fail 40% of requests")
	clear := fs.Bool("clear", false, "remove the service's faults")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("usage: portico-demo fault SERVICE [--error-rate R] [--latency D] [--fail-dependency S] [--bad-tag T] [--clear]")
	}
	svc := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	method, body := http.MethodPut, []byte(nil)
	if *clear {
		method = http.MethodDelete
	} else {
		body, _ = json.Marshal(fault{ErrorRate: *errRate, LatencyMs: float64(lat.Milliseconds()), FailDependency: *dep, BadTag: *bad})
	}
	req, _ := http.NewRequest(method, strings.TrimRight(*control, "/")+"/faults/"+svc, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(b.String()))
	}
	fmt.Printf("%s: faults %s\n", svc, map[bool]string{true: "cleared", false: "set"}[*clear])
	return nil
}

// listen binds addr, or takes the listener the stack handed over as file descriptor 3
// (LISTEN_FDS=1), which no other program could take between choosing the port and serving.
func listen(addr string) (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "1" {
		return net.FileListener(os.NewFile(3, "LISTEN_FDS"))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}
