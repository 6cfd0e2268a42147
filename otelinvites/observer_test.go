package otelinvites_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/otelinvites"
)

// The Observer's methods, called as the Service calls them.

func TestOpSpanAndDuration(t *testing.T) {
	tm := newTelemetry(t)
	ctx, end := tm.obs.StartOp(context.Background(), invites.OpInfo{Name: invites.OpNameSend, TenantID: "acme", Batch: 3})
	if !trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("the operation's context carries no span")
	}
	end(invites.OpResult{Count: 2})

	s := tm.span(t, "invites.Send")
	a := attrs(s)
	if s.SpanKind != trace.SpanKindInternal || s.Status.Code != codes.Unset {
		t.Errorf("kind %v, status %v", s.SpanKind, s.Status)
	}
	if a["invites.tenant_id"].AsString() != "acme" || a["invites.batch_size"].AsInt64() != 3 || a["invites.count"].AsInt64() != 2 {
		t.Errorf("attributes %v", s.Attributes)
	}
	if _, ok := a["invites.invite_id"]; ok {
		t.Error("invite id set on a Send")
	}
	if s.InstrumentationScope.Name != "github.com/invitekit/invites/otelinvites" {
		t.Errorf("scope %q", s.InstrumentationScope.Name)
	}
	p := histogram(t, tm.metrics(t), "invites.operation.duration",
		attribute.String("invites.operation.name", "send"), attribute.String("invites.outcome", "ok"))
	if p.Count != 1 || p.Sum < 0 {
		t.Errorf("duration %d points, sum %v", p.Count, p.Sum)
	}
}

// The metrics name each operation in lower snake case, those newer than
// this package too.
func TestOpMetricNames(t *testing.T) {
	tm := newTelemetry(t)
	for _, c := range []struct{ op, want string }{
		{invites.OpNameSend, "send"},
		{invites.OpNameRecordBounce, "record_bounce"},
		{invites.OpNameHistory, "history"},
		{"PurgeAllTheThings", "purge_all_the_things"},
	} {
		_, end := tm.obs.StartOp(context.Background(), invites.OpInfo{Name: c.op})
		end(invites.OpResult{})
		if p := histogram(t, tm.metrics(t), "invites.operation.duration",
			attribute.String("invites.operation.name", c.want), attribute.String("invites.outcome", "ok")); p.Count != 1 {
			t.Errorf("%s: %d points named %s", c.op, p.Count, c.want)
		}
	}
}

func TestOpInviteID(t *testing.T) {
	tm := newTelemetry(t)
	named, found := uuid.New(), uuid.New()
	_, end := tm.obs.StartOp(context.Background(), invites.OpInfo{Name: invites.OpNameCancel, TenantID: "acme", InviteID: named})
	end(invites.OpResult{})
	_, end = tm.obs.StartOp(context.Background(), invites.OpInfo{Name: invites.OpNameAccept})
	end(invites.OpResult{InviteID: found})

	if got := attrs(tm.span(t, "invites.Cancel"))["invites.invite_id"].AsString(); got != named.String() {
		t.Errorf("Cancel's invite %q, want %s", got, named)
	}
	accept := attrs(tm.span(t, "invites.Accept"))
	if got := accept["invites.invite_id"].AsString(); got != found.String() {
		t.Errorf("Accept's invite %q, want the one it found, %s", got, found)
	}
	if _, ok := accept["invites.tenant_id"]; ok {
		t.Error("tenant set on an operation by token")
	}
	if _, ok := accept["invites.count"]; ok {
		t.Error("count set on an Accept")
	}
}

func TestOpErrorClass(t *testing.T) {
	const address = "ann@example.com"
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("no invite for %s: %w", address, invites.ErrNotFound), "not_found"},
		{&invites.InputError{Field: "email", Reason: address + " is not an address"}, "invalid_input"},
		{&invites.ForbiddenError{Op: invites.OpCancel, Err: invites.ErrNotFound}, "forbidden"},
		{fmt.Errorf("%w: %w", invites.ErrUnavailable, context.DeadlineExceeded), "unavailable"},
		{invites.ErrQuotaExceeded, "quota_exceeded"},
		{context.Canceled, "canceled"},
		{errors.New("disk full at " + address), "other"},
	} {
		t.Run(c.want, func(t *testing.T) {
			tm := newTelemetry(t)
			_, end := tm.obs.StartOp(context.Background(), invites.OpInfo{Name: invites.OpNameGet, TenantID: "acme", InviteID: uuid.New()})
			end(invites.OpResult{Err: c.err})

			s := tm.span(t, "invites.Get")
			if s.Status.Code != codes.Error || s.Status.Description != c.want {
				t.Errorf("status %v, want Error %q", s.Status, c.want)
			}
			if got := attrs(s)["error.type"].AsString(); got != c.want {
				t.Errorf("error.type %q, want %q", got, c.want)
			}
			m := tm.metrics(t)
			p := histogram(t, m, "invites.operation.duration", attribute.String("invites.operation.name", "get"),
				attribute.String("invites.outcome", "error"), attribute.String("error.type", c.want))
			if p.Count != 1 {
				t.Errorf("%d durations", p.Count)
			}
			tm.leaks(t, m, address)
		})
	}
}

func TestAttemptLinksToOperation(t *testing.T) {
	tm := newTelemetry(t)
	ctx, end := tm.obs.StartOp(context.Background(), invites.OpInfo{Name: invites.OpNameSend, TenantID: "acme", Batch: 1})
	tp := tm.obs.Trace(ctx)
	end(invites.OpResult{Count: 1})
	if tp == "" || len(tp) > invites.MaxTraceBytes {
		t.Fatalf("Trace %q", tp)
	}

	queued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := invites.Delivery{ID: uuid.New(), InviteID: uuid.New(), TenantID: "acme", Kind: invites.KindInvitation,
		Attempt: 2, QueuedAt: queued, Trace: tp}
	actx, endAttempt := tm.obs.StartAttempt(context.Background(), d)
	if !trace.SpanContextFromContext(actx).IsValid() {
		t.Fatal("the attempt's context carries no span")
	}
	endAttempt(invites.AttemptResult{Status: invites.DeliverySent, At: queued.Add(90 * time.Second)})

	send, s := tm.span(t, "invites.Send"), tm.span(t, "invites.deliver")
	if s.SpanKind != trace.SpanKindConsumer || s.Status.Code != codes.Unset {
		t.Errorf("kind %v, status %v", s.SpanKind, s.Status)
	}
	if s.Parent.IsValid() {
		t.Error("the attempt is a child; want a root with a link")
	}
	if len(s.Links) != 1 || !s.Links[0].SpanContext.Equal(send.SpanContext.WithRemote(true)) {
		t.Errorf("links %v, want the Send's %v", s.Links, send.SpanContext)
	}
	a := attrs(s)
	for k, want := range map[attribute.Key]string{
		"invites.delivery_id": d.ID.String(), "invites.invite_id": d.InviteID.String(),
		"invites.tenant_id": "acme", "invites.kind": "invitation", "invites.outcome": "sent",
	} {
		if got := a[k].AsString(); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if a["invites.attempt"].AsInt64() != 2 {
		t.Errorf("attempt %v", a["invites.attempt"])
	}
	if _, ok := a["smtp.reply_code"]; ok {
		t.Error("reply code set on a sent email")
	}
	m := tm.metrics(t)
	if n := counter(t, m, "invites.delivery.attempts", attribute.String("invites.outcome", "sent"), attribute.String("smtp.reply_class", "2xx")); n != 1 {
		t.Errorf("%d sent attempts", n)
	}
	if p := histogram(t, m, "invites.delivery.wait"); p.Count != 1 || p.Sum != 90 {
		t.Errorf("wait %d points, sum %v; want 1, 90", p.Count, p.Sum)
	}
}

func TestAttemptFailures(t *testing.T) {
	tm := newTelemetry(t)
	d := invites.Delivery{ID: uuid.New(), InviteID: uuid.New(), TenantID: "acme", Kind: invites.KindReminder, Attempt: 1}
	_, end := tm.obs.StartAttempt(context.Background(), d)
	end(invites.AttemptResult{Status: invites.DeliveryQueued, Err: errors.New("dial tcp: timeout")})
	_, end = tm.obs.StartAttempt(context.Background(), d)
	end(invites.AttemptResult{Status: invites.DeliveryFailed, Err: fmt.Errorf("rcpt: %w", invites.ErrPermanent), Reply: 550})

	spans := tm.spans.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	for i, want := range []struct {
		outcome, class string
		reply          int64
	}{{"retried", "other", 0}, {"failed", "permanent", 550}} {
		s := spans[i]
		a := attrs(s)
		if a["invites.outcome"].AsString() != want.outcome || a["error.type"].AsString() != want.class ||
			a["smtp.reply_code"].AsInt64() != want.reply || s.Status.Code != codes.Error || len(s.Links) != 0 {
			t.Errorf("attempt %d: %v, status %v, links %v", i, s.Attributes, s.Status, s.Links)
		}
	}
	m := tm.metrics(t)
	for _, want := range [][2]string{{"retried", "none"}, {"failed", "5xx"}} {
		if n := counter(t, m, "invites.delivery.attempts", attribute.String("invites.outcome", want[0]), attribute.String("smtp.reply_class", want[1])); n != 1 {
			t.Errorf("%v: %d attempts", want, n)
		}
	}
	if h, ok := m["invites.delivery.wait"].(metricdata.Histogram[float64]); ok && len(h.DataPoints) > 0 {
		t.Error("a failed email waited")
	}
}

func TestTraceOnlySampled(t *testing.T) {
	tm := newTelemetry(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	if got := tm.obs.Trace(context.Background()); got != "" {
		t.Errorf("Trace without a span %q", got)
	}
	ctx, end := tm.obs.StartOp(context.Background(), invites.OpInfo{Name: invites.OpNameSend})
	defer end(invites.OpResult{})
	if got := tm.obs.Trace(ctx); got != "" {
		t.Errorf("Trace of an unsampled span %q", got)
	}
}

func TestEvents(t *testing.T) {
	tm := newTelemetry(t)
	tm.obs.Events(context.Background(), invites.EventCreated, 3)
	tm.obs.Events(context.Background(), invites.EventAccepted, 1)
	tm.obs.Events(context.Background(), invites.EventCreated, 2)
	m := tm.metrics(t)
	for typ, want := range map[string]int64{"created": 5, "accepted": 1} {
		if n := counter(t, m, "invites.events", attribute.String("invites.event.type", typ)); n != want {
			t.Errorf("%s: %d, want %d", typ, n, want)
		}
	}
}

func TestGaugesReadFirstStatsOncePerCollection(t *testing.T) {
	tm := newTelemetry(t)
	if _, ok := tm.metrics(t)["invites.outbox.queued"]; ok {
		t.Error("gauges before WatchStats")
	}
	calls := 0
	tm.obs.WatchStats(func(context.Context) (invites.Stats, error) {
		calls++
		return invites.Stats{Queued: 5, Due: 3, OldestDueAge: 1500 * time.Millisecond, Failing: 2, UnhandledEvents: 7, Suppressions: 4}, nil
	})
	tm.obs.WatchStats(func(context.Context) (invites.Stats, error) {
		t.Error("the second Stats was read")
		return invites.Stats{}, nil
	})
	m := tm.metrics(t)
	if calls != 1 {
		t.Errorf("Stats read %d times in a collection", calls)
	}
	for name, want := range map[string]int64{"invites.outbox.queued": 5, "invites.outbox.due": 3, "invites.outbox.failing": 2, "invites.events.unhandled": 7, "invites.suppressions": 4} {
		if got := gauge[int64](t, m, name); got != want {
			t.Errorf("%s %d, want %d", name, got, want)
		}
	}
	if got := gauge[float64](t, m, "invites.outbox.oldest_due_age"); got != 1.5 {
		t.Errorf("oldest due age %v, want 1.5", got)
	}
}

// failingMeter cannot make a histogram.
type failingMeter struct{ metricnoop.Meter }

func (failingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return nil, errors.New("no histograms here")
}

type failingMeters struct{ metricnoop.MeterProvider }

func (failingMeters) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

func TestNewFailsWithoutInstruments(t *testing.T) {
	if _, err := otelinvites.New(otelinvites.Config{MeterProvider: failingMeters{}}); err == nil {
		t.Error("New succeeded without its histograms")
	}
}
