// Package otelinvites is an invites.Observer on the OpenTelemetry API:
// spans for every operation of the Service and every delivery attempt,
// and metrics of events, deliveries and the outbox. It uses the API only;
// the host brings the SDK and its exporters, and package invites itself
// depends on no telemetry library.
//
// A host turns it on in three lines:
//
//	obs, err := otelinvites.New(otelinvites.Config{}) // the global providers
//	cfg.Observer = obs                                // cfg is the invites.Config
//	svc, err := invites.New(store, mailer, cfg)
//
// SQL spans come from the store: give bunstore bun's own instrumentation,
// bunstore.WithQueryHook(bunotel.NewQueryHook(...)), and the queries of an
// operation nest under its span. Leave bunotel.WithFormattedQueries off,
// its default: a formatted statement carries its values, addresses too.
//
// # Spans
//
// Each operation is a span named "invites." and the method, "invites.Send"
// say, of kind internal, with the attributes invites.tenant_id,
// invites.invite_id, invites.batch_size (Send) and invites.count (what
// Send, List, History and Forget returned). A failed one has status Error
// and error.type, as the semantic conventions name it: the class of the
// error, the sentinel of package invites it matches (not_found,
// invalid_input, forbidden, quota_exceeded, unavailable, ...), canceled or
// deadline_exceeded, else other. The error's text is never recorded, since
// it can quote an address.
//
// Each attempt to send an email is a span "invites.deliver" of kind
// consumer: like a messaging system's process span, it works a message an
// earlier operation queued, and links to that operation's span rather
// than being its child, since it can run hours later in another process.
// The link comes from the W3C traceparent the operation kept with the
// delivery (Observer.Trace; tracestate is not kept). Its attributes are
// invites.delivery_id, invites.invite_id, invites.tenant_id,
// invites.attempt, invites.kind, invites.outcome (sent, retried, failed)
// and smtp.reply_code when the server refused with one.
//
// No span or metric carries a token or an email address.
//
// # Metrics
//
// No metric is labelled with a tenant, invite or address:
//
//   - invites.operation.duration (s): histogram by invites.operation.name,
//     the method in lower snake case (send, record_bounce), and
//     invites.outcome (ok, error), with error.type on errors.
//   - invites.events ({event}): counter by invites.event.type, of events
//     as they commit.
//   - invites.delivery.attempts ({attempt}): counter by invites.outcome
//     (sent, retried, failed) and smtp.reply_class (2xx for a sent email,
//     4xx, 5xx, or none when the failure had no reply).
//   - invites.delivery.wait (s): histogram of how long a sent email waited
//     from being queued to going out, retries included.
//   - invites.outbox.queued, invites.outbox.due, invites.outbox.failing
//     ({delivery}), invites.outbox.oldest_due_age (s) and
//     invites.events.unhandled ({event}): gauges of Service.Stats, read in
//     one call per collection. They describe the store, which every
//     process shares, so they are gauges: summed over processes they would
//     count the outbox once per process. When several Services share one
//     Observer, the first New's Stats is read: Services on different
//     stores want an Observer each.
package otelinvites
