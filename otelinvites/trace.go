package otelinvites

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// carrier holds a traceparent for the W3C propagator: the one header a
// link needs, 55 bytes, well under invites.MaxTraceBytes. tracestate is
// dropped, since it can be longer and a link does not need it.
type carrier struct{ traceparent string }

const traceparent = "traceparent"

func (c *carrier) Get(key string) string {
	if key == traceparent {
		return c.traceparent
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	if key == traceparent {
		c.traceparent = value
	}
}

func (c *carrier) Keys() []string { return []string{traceparent} }

// Trace returns the traceparent of ctx's span, for the deliveries it
// queues to link to, or "" when ctx has no sampled span: an attempt
// linked to a span no one kept would point nowhere.
func (o *Observer) Trace(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	var c carrier
	propagation.TraceContext{}.Inject(ctx, &c)
	return c.traceparent
}

// parseTrace returns the span context of what Trace returned, invalid
// when there is none.
func parseTrace(s string) trace.SpanContext {
	if s == "" {
		return trace.SpanContext{}
	}
	c := carrier{traceparent: s}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), &c))
}
