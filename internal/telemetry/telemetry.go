// Package telemetry sends Portico's own traces over OTLP: every request it serves and its
// calls to Kubernetes, the observability backends and the database, so a slow page shows
// where its time went (the local stack sends them to its Jaeger: Portico's traces appear in
// Portico). Without an endpoint it does nothing.
package telemetry

import (
	"context"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Config says where traces go.
type Config struct {
	// Endpoint is the OTLP/HTTP base URL (http://jaeger:4318); empty: the standard
	// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables, and without those no traces.
	Endpoint    string
	SampleRatio float64 // of new traces; a caller's sampled traceparent is always followed
	Service     string
	Version     string
}

// Enabled says whether traces will be exported.
func (c Config) Enabled() bool {
	return c.Endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the global tracer provider and W3C trace-context propagation; shutdown
// flushes what is buffered. Disabled, it installs the propagator only.
func Setup(ctx context.Context, c Config) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !c.Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(c.Endpoint+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(c.Service), semconv.ServiceVersion(c.Version),
		attribute.String("service.namespace", "portico"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
