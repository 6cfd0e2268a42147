package otelinvites_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/invitekit/invites/otelinvites"
)

// telemetry is an Observer on the SDK, keeping every span in memory and
// collecting metrics on demand.
type telemetry struct {
	obs    *otelinvites.Observer
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
}

func newTelemetry(t testing.TB, opts ...sdktrace.TracerProviderOption) *telemetry {
	t.Helper()
	tm := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSyncer(tm.spans)}, opts...)...)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tm.reader))
	t.Cleanup(func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	obs, err := otelinvites.New(otelinvites.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	tm.obs = obs
	return tm
}

// metrics collects every metric, by name.
func (tm *telemetry) metrics(t testing.TB) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tm.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelinvites.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			got[m.Name] = m.Data
		}
	}
	return got
}

// span returns the only ended span named name.
func (tm *telemetry) span(t testing.TB, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range tm.spans.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans %q, want 1", len(found), name)
	}
	return found[0]
}

// attrs returns a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// counter returns the value of the data point of counter name with
// exactly the attributes kv, 0 when there is none.
func counter(t testing.TB, m map[string]metricdata.Aggregation, name string, kv ...attribute.KeyValue) int64 {
	t.Helper()
	sum, ok := m[name].(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, want an int64 sum", name, m[name])
	}
	want := attribute.NewSet(kv...)
	for _, p := range sum.DataPoints {
		if p.Attributes.Equals(&want) {
			return p.Value
		}
	}
	return 0
}

// histogram returns the data point of histogram name with exactly the
// attributes kv.
func histogram(t testing.TB, m map[string]metricdata.Aggregation, name string, kv ...attribute.KeyValue) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := m[name].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, want a float64 histogram", name, m[name])
	}
	want := attribute.NewSet(kv...)
	for _, p := range h.DataPoints {
		if p.Attributes.Equals(&want) {
			return p
		}
	}
	t.Fatalf("%s has no point %v", name, want.Encoded(attribute.DefaultEncoder()))
	return metricdata.HistogramDataPoint[float64]{}
}

// gauge returns the only value of gauge name.
func gauge[N int64 | float64](t testing.TB, m map[string]metricdata.Aggregation, name string) N {
	t.Helper()
	g, ok := m[name].(metricdata.Gauge[N])
	if !ok || len(g.DataPoints) != 1 {
		t.Fatalf("%s is %#v, want one point", name, m[name])
	}
	return g.DataPoints[0].Value
}

// leaks reports every span name, status, attribute, link attribute or
// metric attribute that contains one of secrets.
func (tm *telemetry) leaks(t testing.TB, m map[string]metricdata.Aggregation, secrets ...string) {
	t.Helper()
	check := func(where, s string) {
		for _, secret := range secrets {
			if strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
				t.Errorf("%s holds %q: %s", where, secret, s)
			}
		}
	}
	checkSet := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			check(where+" "+string(kv.Key), kv.Value.String())
		}
	}
	for _, s := range tm.spans.GetSpans() {
		check("span name", s.Name)
		check(s.Name+" status", s.Status.Description)
		checkSet(s.Name, s.Attributes)
		for _, l := range s.Links {
			checkSet(s.Name+" link", l.Attributes)
		}
		for _, e := range s.Events {
			checkSet(s.Name+" event", e.Attributes)
		}
	}
	for name, agg := range m {
		var sets []attribute.Set
		switch a := agg.(type) {
		case metricdata.Sum[int64]:
			for _, p := range a.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, p := range a.DataPoints {
				sets = append(sets, p.Attributes)
			}
		}
		for _, s := range sets {
			checkSet(name, s.ToSlice())
		}
	}
}
