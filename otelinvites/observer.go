package otelinvites

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/invitekit/invites"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/invitekit/invites/otelinvites"

// Config says where the telemetry goes.
type Config struct {
	// TracerProvider makes the spans. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// Observer is an invites.Observer on OpenTelemetry; give it to
// invites.Config.Observer. It is safe for concurrent use.
type Observer struct {
	tracer trace.Tracer

	opDuration metric.Float64Histogram
	events     metric.Int64Counter
	attempts   metric.Int64Counter
	wait       metric.Float64Histogram

	// The measurement options of every fixed label set, made once so the
	// hot path allocates none.
	ops        map[string]*opLabels
	eventOpts  map[invites.EventType][]metric.AddOption
	attemptOps [numOutcomes][numReplyClasses][]metric.AddOption

	outbox outboxGauges
	stats  atomic.Pointer[func(context.Context) (invites.Stats, error)]
}

var _ invites.Observer = (*Observer)(nil)

// The operations, and whether their OpResult.Count means something.
var opNames = map[string]bool{
	invites.OpNameSend: true, invites.OpNameGet: false, invites.OpNameList: true,
	invites.OpNameUpdate: false, invites.OpNameCancel: false, invites.OpNameResend: false,
	invites.OpNameAccept: false, invites.OpNameDecline: false, invites.OpNameLookup: false,
	invites.OpNameCheck: false, invites.OpNameHistory: true, invites.OpNameForget: true,
	invites.OpNameRecordBounce: false,
	invites.OpNameCreateLink:   false, invites.OpNameRotateLink: false, invites.OpNameRevokeLink: false,
	invites.OpNameRevokeLinksBy: true, invites.OpNameJoinByLink: false, invites.OpNameCheckLink: false,
	invites.OpNameGetLink: false, invites.OpNameListLinks: true, invites.OpNameLinkUses: true,
	invites.OpNameLinkHistory:     true,
	invites.OpNameRecordComplaint: false, invites.OpNameUnsuppress: false,
}

var eventTypes = []invites.EventType{
	invites.EventCreated, invites.EventSent, invites.EventDeliveryFailed, invites.EventResent,
	invites.EventAccepted, invites.EventDeclined, invites.EventCanceled, invites.EventExpired,
	invites.EventBounced, invites.EventForgotten,
	invites.EventLinkCreated, invites.EventLinkUsed, invites.EventLinkRevoked,
	invites.EventSuppressed, invites.EventUnsuppressed,
}

// Histogram buckets, in seconds. An operation takes milliseconds, as
// semantic conventions' durations assume; an email waits from a moment to
// hours of retries.
var (
	opBuckets   = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10}
	waitBuckets = []float64{0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400}
)

// New returns an Observer on cfg's providers. It fails when an instrument
// cannot be made.
func New(cfg Config) (*Observer, error) {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	o := &Observer{
		tracer:    tp.Tracer(ScopeName),
		ops:       make(map[string]*opLabels, len(opNames)),
		eventOpts: make(map[invites.EventType][]metric.AddOption, len(eventTypes)),
	}
	var errs [4]error
	o.opDuration, errs[0] = meter.Float64Histogram("invites.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of the Service's operations."),
		metric.WithExplicitBucketBoundaries(opBuckets...))
	o.events, errs[1] = meter.Int64Counter("invites.events",
		metric.WithUnit("{event}"), metric.WithDescription("Lifecycle events committed."))
	o.attempts, errs[2] = meter.Int64Counter("invites.delivery.attempts",
		metric.WithUnit("{attempt}"), metric.WithDescription("Attempts to send an invitation's email, by outcome."))
	o.wait, errs[3] = meter.Float64Histogram("invites.delivery.wait",
		metric.WithUnit("s"), metric.WithDescription("Time from queueing an email to its going out."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if err := o.outbox.register(meter, o.observeStats); err != nil {
		return nil, err
	}
	for name, counts := range opNames {
		o.ops[name] = newOpLabels(name, counts)
	}
	for _, t := range eventTypes {
		o.eventOpts[t] = addOpts(attribute.String(keyEventType, string(t)))
	}
	for out := range numOutcomes {
		for rc := range numReplyClasses {
			o.attemptOps[out][rc] = addOpts(
				attribute.String(keyOutcome, outcomeNames[out]),
				attribute.String(keyReplyClass, replyClassNames[rc]))
		}
	}
	return o, nil
}

// Attribute keys.
const (
	keyTenantID   = "invites.tenant_id"
	keyInviteID   = "invites.invite_id"
	keyBatchSize  = "invites.batch_size"
	keyCount      = "invites.count"
	keyError      = "error.type" // as OpenTelemetry's semantic conventions name it
	keyOperation  = "invites.operation.name"
	keyOutcome    = "invites.outcome"
	keyEventType  = "invites.event.type"
	keyDelivery   = "invites.delivery_id"
	keyAttempt    = "invites.attempt"
	keyKind       = "invites.kind"
	keyReplyCode  = "smtp.reply_code"
	keyReplyClass = "smtp.reply_class"
)

// Span options made once: a variadic argument made at the call would be
// allocated, a span kept by no SDK or not.
var (
	internalKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
	consumerKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

// opLabels is what one operation's spans and measurements are named.
type opLabels struct {
	span   string
	counts bool
	ok     []metric.RecordOption
	errs   [numErrClasses][]metric.RecordOption
}

func newOpLabels(name string, counts bool) *opLabels {
	op := attribute.String(keyOperation, snakeCase(name))
	l := &opLabels{
		span:   "invites." + name,
		counts: counts,
		ok:     recordOpts(op, attribute.String(keyOutcome, "ok")),
	}
	for c := range numErrClasses {
		l.errs[c] = recordOpts(op, attribute.String(keyOutcome, "error"), attribute.String(keyError, errClasses[c].name))
	}
	return l
}

// snakeCase returns a method's name as metric labels conventionally are:
// lower snake case, "record_bounce" for RecordBounce.
func snakeCase(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func addOpts(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

func recordOpts(kv ...attribute.KeyValue) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// StartOp starts the operation's span and times it.
func (o *Observer) StartOp(ctx context.Context, info invites.OpInfo) (context.Context, func(invites.OpResult)) {
	l := o.ops[info.Name]
	if l == nil { // an operation newer than this package
		l = newOpLabels(info.Name, false)
	}
	ctx, span := o.tracer.Start(ctx, l.span, internalKind...)
	timed := o.opDuration.Enabled(ctx)
	if !timed && !span.IsRecording() {
		// Nothing to keep, on no-op providers, say: a span that does not
		// record keeps nothing at its End either, so skip the clock and
		// the closure.
		return ctx, endNothing
	}
	start := time.Now()
	if span.IsRecording() {
		kv := make([]attribute.KeyValue, 0, 3)
		if info.TenantID != "" {
			kv = append(kv, attribute.String(keyTenantID, info.TenantID))
		}
		if info.InviteID != uuid.Nil {
			kv = append(kv, attribute.String(keyInviteID, info.InviteID.String()))
		}
		if info.Batch > 0 {
			kv = append(kv, attribute.Int(keyBatchSize, info.Batch))
		}
		span.SetAttributes(kv...)
	}
	return ctx, func(r invites.OpResult) {
		opts := l.ok
		if r.Err != nil {
			c := classify(r.Err)
			opts = l.errs[c]
			fail(span, c)
		} else if span.IsRecording() && l.counts {
			span.SetAttributes(attribute.Int(keyCount, r.Count))
		}
		if span.IsRecording() && r.InviteID != uuid.Nil && info.InviteID == uuid.Nil {
			span.SetAttributes(attribute.String(keyInviteID, r.InviteID.String()))
		}
		span.End()
		if timed {
			o.opDuration.Record(ctx, time.Since(start).Seconds(), opts...)
		}
	}
}

func endNothing(invites.OpResult) {}

// fail marks span failed with the error's class; never its text.
func fail(span trace.Span, c errClass) {
	name := errClasses[c].name
	span.SetStatus(codes.Error, name)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(keyError, name))
	}
}

// StartAttempt starts the attempt's span, linked to the operation that
// queued the delivery, and counts how it ends.
func (o *Observer) StartAttempt(ctx context.Context, d invites.Delivery) (context.Context, func(invites.AttemptResult)) {
	var span trace.Span
	if sc := parseTrace(d.Trace); sc.IsValid() {
		ctx, span = o.tracer.Start(ctx, "invites.deliver", consumerKind[0], trace.WithLinks(trace.Link{SpanContext: sc}))
	} else {
		ctx, span = o.tracer.Start(ctx, "invites.deliver", consumerKind...)
	}
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String(keyDelivery, d.ID.String()),
			attribute.String(keyInviteID, d.InviteID.String()),
			attribute.String(keyTenantID, d.TenantID),
			attribute.Int(keyAttempt, d.Attempt),
			attribute.String(keyKind, string(d.Kind)),
		)
	}
	return ctx, func(r invites.AttemptResult) {
		out := outcomeOf(r.Status)
		o.attempts.Add(ctx, 1, o.attemptOps[out][replyClassOf(out, r.Reply)]...)
		if out == outcomeSent && !d.QueuedAt.IsZero() {
			o.wait.Record(ctx, max(r.At.Sub(d.QueuedAt), 0).Seconds())
		}
		if span.IsRecording() {
			span.SetAttributes(attribute.String(keyOutcome, outcomeNames[out]))
			if r.Reply != 0 {
				span.SetAttributes(attribute.Int(keyReplyCode, r.Reply))
			}
		}
		if r.Err != nil {
			fail(span, classify(r.Err))
		}
		span.End()
	}
}

// Events counts n events of type t.
func (o *Observer) Events(ctx context.Context, t invites.EventType, n int) {
	opts, ok := o.eventOpts[t]
	if !ok { // a type newer than this package
		opts = addOpts(attribute.String(keyEventType, string(t)))
	}
	o.events.Add(ctx, int64(n), opts...)
}

// WatchStats keeps stats for the outbox gauges. Only the first call
// counts, so Services sharing a store and an Observer report the store
// once; Services on different stores want an Observer each.
func (o *Observer) WatchStats(stats func(context.Context) (invites.Stats, error)) {
	o.stats.CompareAndSwap(nil, &stats)
}

func (o *Observer) observeStats(ctx context.Context) (invites.Stats, bool, error) {
	stats := o.stats.Load()
	if stats == nil {
		return invites.Stats{}, false, nil
	}
	s, err := (*stats)(ctx)
	return s, err == nil, err
}
