package invites

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Observer watches the Service at work, for traces and metrics: package
// otelinvites is one, on OpenTelemetry. The root package stays free of
// any telemetry library; a host sets Config.Observer. The Service calls it
// on every operation and delivery attempt, so its methods must be quick
// and safe for concurrent use. It is never given a token or, in its
// metrics' sense, anything a host should not label a series with: the
// tenant and invite ids it gets are for spans.
type Observer interface {
	// StartOp is called as an operation of the Service starts. The
	// context it returns is the one the operation runs in (carrying a
	// span, say), and end is called once, as the operation returns.
	StartOp(ctx context.Context, op OpInfo) (context.Context, func(OpResult))

	// StartAttempt is called as one attempt to send a delivery's email
	// starts, in a context of the delivery worker's own; end is called
	// once, with how it went.
	StartAttempt(ctx context.Context, d Delivery) (context.Context, func(AttemptResult))

	// Events is told that n events of type t committed, as the Service
	// learns of them (a batch's EventCreated at once).
	Events(ctx context.Context, t EventType, n int)

	// Trace returns what to keep with the deliveries an operation running
	// in ctx queues, so their attempts can link to it (a W3C traceparent,
	// say); "" keeps nothing. At most MaxTraceBytes are kept.
	Trace(ctx context.Context) string

	// WatchStats is called once by New with the Service's Stats, for
	// gauges read when metrics are collected.
	WatchStats(stats func(context.Context) (Stats, error))
}

// The operations StartOp names: the Service's methods.
const (
	OpNameSend         = "Send"
	OpNameGet          = "Get"
	OpNameList         = "List"
	OpNameUpdate       = "Update"
	OpNameCancel       = "Cancel"
	OpNameResend       = "Resend"
	OpNameAccept       = "Accept"
	OpNameDecline      = "Decline"
	OpNameLookup       = "Lookup"
	OpNameCheck        = "Check"
	OpNameHistory      = "History"
	OpNameForget       = "Forget"
	OpNameRecordBounce = "RecordBounce"
	// OpNameRecordComplaint and OpNameUnsuppress: the suppression list.
	OpNameRecordComplaint = "RecordComplaint"
	OpNameUnsuppress      = "Unsuppress"
)

// The operations of links StartOp names (links.go).
const (
	OpNameCreateLink    = "CreateLink"
	OpNameRotateLink    = "RotateLink"
	OpNameRevokeLink    = "RevokeLink"
	OpNameRevokeLinksBy = "RevokeLinksBy"
	OpNameJoinByLink    = "JoinByLink"
	OpNameCheckLink     = "CheckLink"
	OpNameGetLink       = "GetLink"
	OpNameListLinks     = "ListLinks"
	OpNameLinkUses      = "LinkUses"
	OpNameLinkHistory   = "LinkHistory"
)

// OpInfo names an operation as it starts.
type OpInfo struct {
	Name     string // one of the OpName constants
	TenantID string // the actor's; "" for an operation by token or message
	// InviteID is the invite operated on, when the call names one.
	InviteID uuid.UUID
	// LinkID is the link operated on, when the call names one.
	LinkID uuid.UUID
	// Batch is the number of items of a Send.
	Batch int
}

// OpResult is how an operation ended.
type OpResult struct {
	Err error
	// Count is what the operation returned: the invites a Send stored,
	// a List's page, the events of History, the invites Forget erased.
	Count int
	// InviteID is the invite the operation found, when it learned it
	// only then (an Accept by token).
	InviteID uuid.UUID
	// LinkID is the link a call by token found (JoinByLink, CheckLink),
	// or the link a CreateLink or RotateLink made.
	LinkID uuid.UUID
}

// AttemptResult is how one delivery attempt ended.
type AttemptResult struct {
	// Status is DeliverySent; DeliveryQueued when it will be retried;
	// DeliveryFailed when it failed for good.
	Status DeliveryStatus
	// Err's text has the token and the recipient's address taken out, as
	// DeliveryError; errors.Is and errors.As still reach the mailer's
	// error, whose own fields an Observer should not record.
	Err error
	// Reply is the SMTP reply code the server refused the email with, or
	// 0 when the error carried none (a timeout, a dropped connection) or
	// there was no error. The Service finds it on an error that has a
	// ReplyCode() int method, as mailer.ReplyError does.
	Reply int
	// At is when the attempt ended, on Config.Now; Delivery.QueuedAt to
	// At is how long the email waited.
	At time.Time
}

// noObserver is the Observer of a Config without one.
type noObserver struct{}

func (noObserver) StartOp(ctx context.Context, _ OpInfo) (context.Context, func(OpResult)) {
	return ctx, func(OpResult) {}
}

func (noObserver) StartAttempt(ctx context.Context, _ Delivery) (context.Context, func(AttemptResult)) {
	return ctx, func(AttemptResult) {}
}

func (noObserver) Events(context.Context, EventType, int)          {}
func (noObserver) Trace(context.Context) string                    { return "" }
func (noObserver) WatchStats(func(context.Context) (Stats, error)) {}
