package invites

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/invitekit/invites/token"
)

// Sentinel errors, checked with errors.Is. Stores translate their own
// errors into these at their boundary.
var (
	ErrNotFound       = errors.New("invites: not found")
	ErrInvalidToken   = token.ErrInvalid // the same error as token.ErrInvalid
	ErrExpired        = errors.New("invites: invite expired")
	ErrNotPending     = errors.New("invites: invite not pending")
	ErrResendTooSoon  = errors.New("invites: resend too soon")
	ErrTooManyResends = errors.New("invites: too many resends")
	ErrForbiddenRole  = errors.New("invites: role not grantable by actor")
	// ErrForbidden refuses what Config.Authorize did not allow.
	ErrForbidden      = errors.New("invites: forbidden")
	ErrInvalidInput   = errors.New("invites: invalid input")
	ErrAlreadyInvited = errors.New("invites: address already has a pending invite")
	ErrBatchTooLarge  = errors.New("invites: batch too large")
	// ErrEmailMismatch refuses an Accept by a user whose email is not the
	// invite's, under Config.RequireEmailMatch.
	ErrEmailMismatch = errors.New("invites: accepting user's email is not the invite's")
	// ErrQuotaExceeded refuses a Resend, or a whole Send batch, over
	// Config.MaxPendingPerTenant or MaxSendsPerInviterPerHour.
	ErrQuotaExceeded = errors.New("invites: quota exceeded")
	// ErrPermanent marks a Mailer error that retrying cannot mend.
	ErrPermanent = errors.New("invites: permanent delivery failure")
	// ErrStaleDelivery answers a worker whose delivery was superseded,
	// whose invite left pending, or whose lease another worker took over.
	ErrStaleDelivery = errors.New("invites: stale delivery")
	// ErrUnavailable says the store could not answer in time, or at all:
	// nothing is wrong with the request, so retry it later.
	ErrUnavailable = errors.New("invites: store unavailable")
	// ErrIdempotencyMismatch refuses a write whose idempotency key was
	// used, within Config.IdempotencyTTL, by another request of the same
	// actor.
	ErrIdempotencyMismatch = errors.New("invites: idempotency key used for another request")
	// ErrUnsupported answers an operation the Store cannot do, lacking
	// the optional interface it needs (UpkeepStore for Prune and Forget).
	ErrUnsupported = errors.New("invites: not supported by the store")
	// ErrLinkNotKept refuses the replay of a write whose answer held an
	// accept link (ChannelHost): a link is shown once and never kept, so
	// the first answer cannot be given again. Resend the invite for a new
	// link.
	ErrLinkNotKept = errors.New("invites: the answer kept with the idempotency key held a link, which is shown once and not kept: resend the invite for a new one")
	// ErrLinkNotReturned refuses a Resend of an invite the host delivers
	// (DeliveryHost): Resend returns no link. Use ResendWith.
	ErrLinkNotReturned = errors.New("invites: the invite's link is delivered by the host, and Resend returns none: use ResendWith")
	// ErrSuppressed refuses a Resend to an address that bounced for good
	// or complained (see Service.Unsuppress).
	ErrSuppressed = errors.New("invites: address suppressed")
)

// NotPendingError is ErrNotPending with the status the invite is in.
type NotPendingError struct{ Status Status }

func (e *NotPendingError) Error() string {
	return fmt.Sprintf("invites: invite is %s, not pending", e.Status)
}

// Is reports whether target is ErrNotPending, so errors.Is(err,
// ErrNotPending) holds.
func (e *NotPendingError) Is(target error) bool { return target == ErrNotPending }

// ResendTooSoonError is ErrResendTooSoon with the wait left.
type ResendTooSoonError struct{ RetryAfter time.Duration }

func (e *ResendTooSoonError) Error() string {
	return fmt.Sprintf("invites: resend too soon, retry after %s", e.RetryAfter)
}

// Is reports whether target is ErrResendTooSoon, so errors.Is(err,
// ErrResendTooSoon) holds.
func (e *ResendTooSoonError) Is(target error) bool { return target == ErrResendTooSoon }

// ForbiddenError is ErrForbidden: Config.Authorize refused Op with Err.
type ForbiddenError struct {
	Op  Op
	Err error
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("invites: %s forbidden: %v", e.Op, e.Err)
}

// Is reports whether target is ErrForbidden, so errors.Is(err,
// ErrForbidden) holds.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Unwrap returns the error of Config.Authorize.
func (e *ForbiddenError) Unwrap() error { return e.Err }

// InputError is ErrInvalidInput naming the field at fault.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("invites: invalid %s: %s", e.Field, e.Reason) }

// Is reports whether target is ErrInvalidInput, so errors.Is(err,
// ErrInvalidInput) holds.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// itemError returns err, item i's refusal by prepare, as its ItemError:
// the field at fault, and a sentence without the package's prefix, from
// an InputError's field and reason or from the words grantable wraps
// ErrForbiddenRole with.
func itemError(i int, email, code string, err error) ItemError {
	e := ItemError{Index: i, Email: email, Code: code}
	var in *InputError
	if errors.As(err, &in) {
		e.Field, e.Message = in.Field, in.Field+" "+in.Reason+"."
		return e
	}
	why := strings.TrimPrefix(err.Error(), ErrForbiddenRole.Error()+": ")
	e.Field, e.Message = "roles", strings.ToUpper(why[:1])+why[1:]+"."
	return e
}
