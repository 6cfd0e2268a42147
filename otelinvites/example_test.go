package otelinvites_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/otelinvites"
	"github.com/invitekit/invites/store/memstore"
)

// A Service with the Observer on SDK providers; a host would export to a
// collector rather than keep spans in memory.
func Example() {
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	obs, err := otelinvites.New(otelinvites.Config{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		panic(err)
	}
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		Observer:  obs,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	actor := invites.Actor{UserID: "u1", TenantID: "acme", Roles: []string{"member"}}
	if _, err := svc.Send(ctx, actor, []invites.NewInvite{{Email: "ann@example.com"}}); err != nil {
		panic(err)
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		panic(err)
	}

	for _, s := range spans.GetSpans() {
		fmt.Println(s.Name, s.SpanKind, "links:", len(s.Links))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "invites.delivery.attempts" {
			p := sum.DataPoints[0]
			outcome, _ := p.Attributes.Value("invites.outcome")
			class, _ := p.Attributes.Value("smtp.reply_class")
			fmt.Println(m.Name, outcome.AsString(), class.AsString(), p.Value)
		}
	}
	// Output:
	// invites.Send internal links: 0
	// invites.deliver consumer links: 1
	// invites.delivery.attempts sent 2xx 1
}
