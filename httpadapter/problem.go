package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/invitekit/invites"
)

// Problem is an RFC 9457 problem detail, the body of every error response,
// written as application/problem+json. Code is the stable name clients
// switch on; the extension members are set only where they apply.
type Problem struct {
	// Type is "about:blank" unless Config.Problem sets a URI.
	Type string `json:"type"`
	// Title is the status text, as RFC 9457 asks for about:blank.
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`

	// Field names the body member or query parameter at fault.
	Field string `json:"field,omitempty"`
	// InviteStatus is the status the invite is in, for not_pending. (The
	// member "status" is the HTTP status in RFC 9457.)
	InviteStatus invites.Status `json:"inviteStatus,omitempty"`
	// RetryAfter is the wait in whole seconds for resend_too_soon and
	// unavailable, also sent as the Retry-After header.
	RetryAfter int `json:"retryAfter,omitempty"`

	// Err is the error answered, for Config.Problem; never written.
	Err error `json:"-"`
}

// Error returns Detail, so a Problem can travel as an error.
func (p *Problem) Error() string { return p.Detail }

// The stable codes of Problem.Code.
const (
	CodeInvalidRequest       = "invalid_request"        // 400, Field names what
	CodeUnauthenticated      = "unauthenticated"        // 401
	CodeForbidden            = "forbidden"              // 403: another tenant's or user's name in a body, or Config.Authorize said no
	CodeForbiddenRole        = "forbidden_role"         // 403: a role the actor may not grant
	CodeEmailMismatch        = "email_mismatch"         // 403: the accepting user's email is not the invite's
	CodeNotFound             = "not_found"              // 404: no such invite in the actor's tenant, or no such route
	CodeInvalidToken         = "invalid_token"          // 404
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeNotPending           = "not_pending"            // 409, with InviteStatus
	CodeAlreadyInvited       = "already_invited"        // 409: a resend meets another pending invite of the address
	CodeLinkNotKept          = "link_not_kept"          // 409: a retry under an Idempotency-Key whose answer held a link, never kept (invites.ErrLinkNotKept)
	CodeSuppressed           = "suppressed"             // 409: a resend to an address that bounced for good or complained
	CodeExpired              = "expired"                // 410
	CodeAlreadyJoined        = "already_joined"         // 409: the user joined through this link before
	CodeAlreadyMember        = "already_member"         // 409: Config.IsMember says the joiner belongs to the tenant
	CodeLinkRevoked          = "link_revoked"           // 410
	CodeLinkExhausted        = "link_exhausted"         // 410: every use of the link is taken
	CodeLinkExpired          = "link_expired"           // 410
	CodeDomainNotAllowed     = "domain_not_allowed"     // 403: the joiner's address is unverified or at none of the link's allowedDomains
	CodeLinkRateLimited      = "link_rate_limited"      // 429, with RetryAfter: over Config.LinkUsesPerMinute
	CodeIdempotencyKeyReused = "idempotency_key_reused" // 422: the Idempotency-Key was used for another request
	CodeBatchTooLarge        = "batch_too_large"        // 413
	CodeBodyTooLarge         = "body_too_large"         // 413
	CodeUnsupportedMediaType = "unsupported_media_type" // 415
	CodeResendTooSoon        = "resend_too_soon"        // 429, with RetryAfter
	CodeTooManyResends       = "too_many_resends"       // 429
	CodeRateLimited          = "rate_limited"           // 429: over a send quota
	CodeInternal             = "internal"               // 500
	CodeUnsupported          = "unsupported"            // 501: the store cannot do the operation (invites.ErrUnsupported)
	CodeUnavailable          = "unavailable"            // 503, with Retry-After: the store did not answer in time
)

// unavailableRetry is the Retry-After of CodeUnavailable, in seconds.
const unavailableRetry = 5

func problem(status int, code, field, detail string) *Problem {
	return &Problem{Status: status, Code: code, Field: field, Detail: detail}
}

// problemFor returns the problem of an error of the Service (or of
// decoding).
// Details are sentences: fixed texts or the Service's own words, never a
// store's, and never with a Go package's prefix.
func problemFor(err error) *Problem {
	var (
		p    *Problem
		in   *invites.InputError
		no   *invites.ForbiddenError
		np   *invites.NotPendingError
		soon *invites.ResendTooSoonError
	)
	switch {
	case errors.As(err, &p):
		c := *p
		return &c
	case errors.As(err, &in):
		return problem(http.StatusBadRequest, CodeInvalidRequest, in.Field, in.Field+" "+in.Reason+".")
	case errors.Is(err, invites.ErrInvalidInput):
		return problem(http.StatusBadRequest, CodeInvalidRequest, "", "The request is not valid.")
	case errors.Is(err, invites.ErrNotFound):
		return problem(http.StatusNotFound, CodeNotFound, "", "No such invite.")
	case errors.Is(err, invites.ErrInvalidToken):
		return problem(http.StatusNotFound, CodeInvalidToken, "", "The token is not valid.")
	case errors.As(err, &np):
		p := problem(http.StatusConflict, CodeNotPending, "", "The invite is "+string(np.Status)+", not pending.")
		p.InviteStatus = np.Status
		return p
	case errors.Is(err, invites.ErrNotPending):
		return problem(http.StatusConflict, CodeNotPending, "", "The invite is not pending.")
	case errors.Is(err, invites.ErrAlreadyInvited):
		return problem(http.StatusConflict, CodeAlreadyInvited, "", "The address has another pending invite.")
	case errors.Is(err, invites.ErrLinkNotKept):
		return problem(http.StatusConflict, CodeLinkNotKept, IdempotencyKeyHeader,
			"The first answer under this Idempotency-Key held an accept link, which is shown once and never kept: resend the invite for a new link.")
	case errors.Is(err, invites.ErrSuppressed):
		return problem(http.StatusConflict, CodeSuppressed, "",
			"The address bounced for good or its recipient complained: it gets no email until an administrator lifts the suppression.")
	case errors.Is(err, invites.ErrIdempotencyMismatch):
		return problem(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused, IdempotencyKeyHeader,
			"The Idempotency-Key was used for another request; send a new key for a new request.")
	case errors.Is(err, invites.ErrExpired):
		return problem(http.StatusGone, CodeExpired, "", "The invite has expired.")
	case errors.Is(err, invites.ErrBatchTooLarge):
		return problem(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, "",
			serviceText(err, invites.ErrBatchTooLarge, "The batch has more items than allowed."))
	case errors.As(err, &soon):
		wait := max(1, int(math.Ceil(soon.RetryAfter.Seconds())))
		p := problem(http.StatusTooManyRequests, CodeResendTooSoon, "",
			fmt.Sprintf("The invite was sent too recently: it may be resent in %s.", seconds(wait)))
		p.RetryAfter = wait
		return p
	case errors.Is(err, invites.ErrResendTooSoon):
		return problem(http.StatusTooManyRequests, CodeResendTooSoon, "", "The invite was sent too recently.")
	case errors.Is(err, invites.ErrTooManyResends):
		return problem(http.StatusTooManyRequests, CodeTooManyResends, "", "The invite has been resent as often as allowed.")
	case errors.Is(err, invites.ErrQuotaExceeded):
		return problem(http.StatusTooManyRequests, CodeRateLimited, "", serviceText(err, invites.ErrQuotaExceeded,
			"A send quota is used up: the tenant's pending invites, the inviter's sends per hour or the address's emails per day."))
	case errors.Is(err, invites.ErrEmailMismatch):
		return problem(http.StatusForbidden, CodeEmailMismatch, "", "The invite is for another email address.")
	case errors.Is(err, invites.ErrUnavailable):
		p := problem(http.StatusServiceUnavailable, CodeUnavailable, "", "The store could not answer in time: retry later.")
		p.RetryAfter = unavailableRetry
		return p
	case errors.Is(err, invites.ErrUnsupported):
		return problem(http.StatusNotImplemented, CodeUnsupported, "", "The store this service runs on cannot do this operation.")
	case errors.Is(err, invites.ErrForbiddenRole):
		return problem(http.StatusForbidden, CodeForbiddenRole, "roles",
			serviceText(err, invites.ErrForbiddenRole, "The actor may not grant one of the roles."))
	case errors.As(err, &no):
		// The host's reason stays in Problem.Err, for Config.Problem.
		return problem(http.StatusForbidden, CodeForbidden, "", "The actor may not "+opText[no.Op]+".")
	}
	for _, lp := range linkProblems {
		if errors.Is(err, lp.err) {
			p := problem(lp.status, lp.code, "", lp.detail)
			if lp.code == CodeLinkRateLimited {
				p.RetryAfter = 60 // Config.LinkUsesPerMinute counts a minute
			}
			return p
		}
	}
	return problem(http.StatusInternalServerError, CodeInternal, "", "An internal error occurred.")
}

// linkProblems are the refusals of the link methods, each its own code.
var linkProblems = []struct {
	err          error
	status       int
	code, detail string
}{
	{invites.ErrAlreadyJoined, http.StatusConflict, CodeAlreadyJoined, "The user has joined through this link before."},
	{invites.ErrAlreadyMember, http.StatusConflict, CodeAlreadyMember, "The user is a member of the link's tenant already."},
	{invites.ErrLinkRevoked, http.StatusGone, CodeLinkRevoked, "The link has been revoked."},
	{invites.ErrLinkExhausted, http.StatusGone, CodeLinkExhausted, "The link has no uses left."},
	{invites.ErrLinkExpired, http.StatusGone, CodeLinkExpired, "The link has expired."},
	{invites.ErrDomainNotAllowed, http.StatusForbidden, CodeDomainNotAllowed,
		"The link admits only users whose verified address is at one of its domains."},
	{invites.ErrLinkRateLimited, http.StatusTooManyRequests, CodeLinkRateLimited,
		"The link has been used too often in the last minute: retry in a minute."},
}

// opText says what each Op does, for a forbidden problem.
var opText = map[invites.Op]string{
	invites.OpSend:       "send invites",
	invites.OpList:       "list invites",
	invites.OpGet:        "read this invite",
	invites.OpUpdate:     "update this invite",
	invites.OpCancel:     "cancel this invite",
	invites.OpResend:     "resend this invite",
	invites.OpHistory:    "read the history of this invite",
	invites.OpForget:     "erase an address",
	invites.OpUnsuppress: "lift a suppression",

	invites.OpCreateLink:    "create links",
	invites.OpGetLink:       "read this link",
	invites.OpListLinks:     "list links",
	invites.OpRevokeLink:    "revoke this link",
	invites.OpRotateLink:    "rotate this link",
	invites.OpLinkUses:      "read the uses of this link",
	invites.OpLinkHistory:   "read the history of this link",
	invites.OpRevokeLinksBy: "revoke another user's links",
}

// seconds returns n seconds in words.
func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// serviceText returns the detail of err, which wraps sentinel: the words the
// Service wrapped it with, as a sentence, or fallback when there are none
// (a store returns the bare sentinel).
func serviceText(err, sentinel error, fallback string) string {
	why, ok := strings.CutPrefix(err.Error(), sentinel.Error()+": ")
	if !ok || why == "" {
		return fallback
	}
	return strings.ToUpper(why[:1]) + why[1:] + "."
}

// fail writes the problem of err. A 500, as the Problem hook left it, is
// logged with its cause, but never with the request body, which may hold
// a token (an error of the host's the hook answers as a 409, say, is not
// a failure); an unavailable store is logged once per outage (see
// handler.down).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	p.Err = err
	if errors.Is(err, invites.ErrUnavailable) && h.down.CompareAndSwap(false, true) {
		h.cfg.Logger.WarnContext(r.Context(), "httpadapter: the store is unavailable; answering 503 until it is back",
			"method", r.Method, "route", r.Pattern, "err", err)
	}
	if h.cfg.Problem != nil {
		h.cfg.Problem(r, p)
	}
	if p.Status < 100 || p.Status > 999 { // a hook's slip must not panic WriteHeader
		p.Status = http.StatusInternalServerError
	}
	if p.Status == http.StatusInternalServerError {
		ctx := r.Context()
		level := slog.LevelError
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			level = slog.LevelDebug // the client went away: nothing to fix
		}
		h.cfg.Logger.Log(ctx, level, "httpadapter: request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	b, _ := json.Marshal(p) // plain fields: cannot fail
	write(w, p.Status, "application/problem+json", b)
}
