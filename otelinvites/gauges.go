package otelinvites

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/invitekit/invites"
)

// outboxGauges report Service.Stats.
type outboxGauges struct {
	queued, due, failing, unhandled, suppressions metric.Int64ObservableGauge
	oldestDueAge                                  metric.Float64ObservableGauge
}

// register makes the gauges and one callback for them all, so a
// collection reads stats once, however many gauges it exports.
func (g *outboxGauges) register(meter metric.Meter, stats func(context.Context) (invites.Stats, bool, error)) error {
	var errs [6]error
	g.queued, errs[0] = meter.Int64ObservableGauge("invites.outbox.queued", metric.WithUnit("{delivery}"),
		metric.WithDescription("Emails waiting to be sent: due, in flight, or waiting for a retry."))
	g.due, errs[1] = meter.Int64ObservableGauge("invites.outbox.due", metric.WithUnit("{delivery}"),
		metric.WithDescription("Emails whose time has come that no worker holds."))
	g.oldestDueAge, errs[2] = meter.Float64ObservableGauge("invites.outbox.oldest_due_age", metric.WithUnit("s"),
		metric.WithDescription("How long the longest-waiting due email has been due."))
	g.failing, errs[3] = meter.Int64ObservableGauge("invites.outbox.failing", metric.WithUnit("{delivery}"),
		metric.WithDescription("Emails whose last attempt failed, waiting for a retry."))
	g.unhandled, errs[4] = meter.Int64ObservableGauge("invites.events.unhandled", metric.WithUnit("{event}"),
		metric.WithDescription("Events not yet handled by Config.OnEvent."))
	g.suppressions, errs[5] = meter.Int64ObservableGauge("invites.suppressions", metric.WithUnit("{address}"),
		metric.WithDescription("Addresses suppressed, per tenant, after a hard bounce or a complaint."))
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	_, err := meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		s, ok, err := stats(ctx)
		if !ok {
			return err
		}
		o.ObserveInt64(g.queued, int64(s.Queued))
		o.ObserveInt64(g.due, int64(s.Due))
		o.ObserveFloat64(g.oldestDueAge, s.OldestDueAge.Seconds())
		o.ObserveInt64(g.failing, int64(s.Failing))
		o.ObserveInt64(g.unhandled, int64(s.UnhandledEvents))
		o.ObserveInt64(g.suppressions, int64(s.Suppressions))
		return nil
	}, g.queued, g.due, g.oldestDueAge, g.failing, g.unhandled, g.suppressions)
	return err
}
