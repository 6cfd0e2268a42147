package otelinvites

import (
	"context"
	"errors"

	"github.com/invitekit/invites"
)

// errClass indexes errClasses: a bounded name for an error, safe as an
// attribute where the error's text, which can quote an address, is not.
type errClass int

// errClasses are tried in order, the first match naming the error:
// ErrForbidden first, since it wraps whatever Config.Authorize returned,
// and ErrUnavailable before the context's errors it may wrap. The last,
// other, matches everything.
var errClasses = [...]struct {
	err  error
	name string
}{
	{invites.ErrForbidden, "forbidden"},
	{invites.ErrForbiddenRole, "forbidden_role"},
	{invites.ErrUnavailable, "unavailable"},
	{invites.ErrNotFound, "not_found"},
	{invites.ErrInvalidToken, "invalid_token"},
	{invites.ErrExpired, "expired"},
	{invites.ErrNotPending, "not_pending"},
	{invites.ErrResendTooSoon, "resend_too_soon"},
	{invites.ErrTooManyResends, "too_many_resends"},
	{invites.ErrInvalidInput, "invalid_input"},
	{invites.ErrAlreadyInvited, "already_invited"},
	{invites.ErrBatchTooLarge, "batch_too_large"},
	{invites.ErrEmailMismatch, "email_mismatch"},
	{invites.ErrQuotaExceeded, "quota_exceeded"},
	{invites.ErrPermanent, "permanent"},
	{invites.ErrStaleDelivery, "stale_delivery"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{nil, "other"},
}

const numErrClasses = len(errClasses)

func classify(err error) errClass {
	for i, c := range errClasses[:numErrClasses-1] {
		if errors.Is(err, c.err) {
			return errClass(i)
		}
	}
	return errClass(numErrClasses - 1)
}

// outcome is how a delivery attempt ended.
type outcome int

const (
	outcomeSent outcome = iota
	outcomeRetried
	outcomeFailed
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"sent", "retried", "failed"}

func outcomeOf(s invites.DeliveryStatus) outcome {
	switch s {
	case invites.DeliverySent:
		return outcomeSent
	case invites.DeliveryQueued:
		return outcomeRetried
	default:
		return outcomeFailed
	}
}

// replyClass is the first digit of an SMTP reply, or none.
type replyClass int

const (
	reply2xx replyClass = iota
	reply4xx
	reply5xx
	replyNone
	numReplyClasses
)

var replyClassNames = [numReplyClasses]string{"2xx", "4xx", "5xx", "none"}

// replyClassOf returns 2xx for a sent email, whose reply the mailer does
// not report, and otherwise the class of the refusal's code.
func replyClassOf(out outcome, code int) replyClass {
	switch {
	case out == outcomeSent:
		return reply2xx
	case code >= 400 && code < 500:
		return reply4xx
	case code >= 500 && code < 600:
		return reply5xx
	default:
		return replyNone
	}
}
