package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/invitekit/invites/otelinvites"
)

// telemetry is the demo's Observer and its /metrics: the Service's
// OpenTelemetry metrics, read by the Prometheus exporter into a registry
// of the demo's own at each scrape. The demo exports no traces, so spans
// go to the global (no-op) TracerProvider.
type telemetry struct {
	obs     *otelinvites.Observer
	metrics http.Handler
	mp      *sdkmetric.MeterProvider
}

func newTelemetry() (*telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	// The service's name labels every series (Prometheus's target_info,
	// an OTLP backend's service), so the demo's are told from a host's.
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("invites-demo")))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	obs, err := otelinvites.New(otelinvites.Config{MeterProvider: mp})
	if err != nil {
		return nil, err
	}
	return &telemetry{obs: obs, metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), mp: mp}, nil
}
