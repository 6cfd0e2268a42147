// Package otelbench gives the benchmarks that weigh package otelinvites
// the Observers they compare: BenchmarkSend's in otelinvites and
// BenchmarkHTTP's in httpadapter, whose tests cannot share a file.
package otelbench

import (
	"context"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/otelinvites"
)

// Side is one Config.Observer a benchmark runs; nil is none.
type Side struct {
	Name     string
	Observer invites.Observer
}

// Sides are, in order: no Observer; otelinvites on the API's no-op
// providers, as a host without an SDK gets it; and otelinvites on the
// SDK, every span sampled into a batcher that drops it and every
// measurement aggregated for a reader that never collects.
func Sides(tb testing.TB) []Side {
	tb.Helper()
	noop, err := otelinvites.New(otelinvites.Config{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	if err != nil {
		tb.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			tb.Error(err)
		}
		if err := mp.Shutdown(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	sdk, err := otelinvites.New(otelinvites.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		tb.Fatal(err)
	}
	return []Side{{"none", nil}, {"noop", noop}, {"sdk", sdk}}
}
