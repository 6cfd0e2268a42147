package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
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
	CodeExpired              = "expired"                // 410
	CodeBatchTooLarge        = "batch_too_large"        // 413
	CodeBodyTooLarge         = "body_too_large"         // 413
	CodeUnsupportedMediaType = "unsupported_media_type" // 415
	CodeResendTooSoon        = "resend_too_soon"        // 429, with RetryAfter
	CodeTooManyResends       = "too_many_resends"       // 429
	CodeRateLimited          = "rate_limited"           // 429: over a send quota
	CodeInternal             = "internal"               // 500
	CodeUnavailable          = "unavailable"            // 503, with Retry-After: the store did not answer in time
)

// unavailableRetry is the Retry-After of CodeUnavailable, in seconds.
const unavailableRetry = 5

func problem(status int, code, field, detail string) *Problem {
	return &Problem{Status: status, Code: code, Field: field, Detail: detail}
}

// problemFor maps an error of the Service (or of decoding) to its problem.
// Details are fixed texts or the Service's own words, never a store's.
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
		return problem(http.StatusBadRequest, CodeInvalidRequest, in.Field, in.Field+" "+in.Reason)
	case errors.Is(err, invites.ErrInvalidInput):
		return problem(http.StatusBadRequest, CodeInvalidRequest, "", "the request is not valid")
	case errors.Is(err, invites.ErrNotFound):
		return problem(http.StatusNotFound, CodeNotFound, "", "no such invite")
	case errors.Is(err, invites.ErrInvalidToken):
		return problem(http.StatusNotFound, CodeInvalidToken, "", "the token is not valid")
	case errors.As(err, &np):
		p := problem(http.StatusConflict, CodeNotPending, "", "the invite is "+string(np.Status)+", not pending")
		p.InviteStatus = np.Status
		return p
	case errors.Is(err, invites.ErrNotPending):
		return problem(http.StatusConflict, CodeNotPending, "", "the invite is not pending")
	case errors.Is(err, invites.ErrAlreadyInvited):
		return problem(http.StatusConflict, CodeAlreadyInvited, "", "the address has another pending invite")
	case errors.Is(err, invites.ErrExpired):
		return problem(http.StatusGone, CodeExpired, "", "the invite has expired")
	case errors.Is(err, invites.ErrBatchTooLarge):
		return problem(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, "", serviceText(err))
	case errors.As(err, &soon):
		p := problem(http.StatusTooManyRequests, CodeResendTooSoon, "", "the invite was sent too recently")
		p.RetryAfter = max(1, int(math.Ceil(soon.RetryAfter.Seconds())))
		return p
	case errors.Is(err, invites.ErrResendTooSoon):
		return problem(http.StatusTooManyRequests, CodeResendTooSoon, "", "the invite was sent too recently")
	case errors.Is(err, invites.ErrTooManyResends):
		return problem(http.StatusTooManyRequests, CodeTooManyResends, "", "the invite was resent too often")
	case errors.Is(err, invites.ErrQuotaExceeded):
		return problem(http.StatusTooManyRequests, CodeRateLimited, "", serviceText(err))
	case errors.Is(err, invites.ErrEmailMismatch):
		return problem(http.StatusForbidden, CodeEmailMismatch, "", "the invite is for another email address")
	case errors.Is(err, invites.ErrUnavailable):
		p := problem(http.StatusServiceUnavailable, CodeUnavailable, "", "the store could not answer in time; retry later")
		p.RetryAfter = unavailableRetry
		return p
	case errors.Is(err, invites.ErrForbiddenRole):
		return problem(http.StatusForbidden, CodeForbiddenRole, "roles", serviceText(err))
	case errors.As(err, &no):
		// The host's reason stays in Problem.Err, for Config.Problem.
		what := "this invite"
		if no.Op == invites.OpSend || no.Op == invites.OpList {
			what = "invites"
		}
		return problem(http.StatusForbidden, CodeForbidden, "", "the actor may not "+string(no.Op)+" "+what)
	}
	return problem(http.StatusInternalServerError, CodeInternal, "", "an internal error occurred")
}

// serviceText is the text of an error only the Service makes, without its
// package prefix.
func serviceText(err error) string { return strings.TrimPrefix(err.Error(), "invites: ") }

// fail writes the problem of err. A 500 is logged with its cause, but
// never with the request body, which may hold a token; an unavailable
// store is logged once per outage (see handler.down).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	p.Err = err
	if errors.Is(err, invites.ErrUnavailable) && h.down.CompareAndSwap(false, true) {
		h.cfg.Logger.WarnContext(r.Context(), "httpadapter: the store is unavailable; answering 503 until it is back",
			"method", r.Method, "route", r.Pattern, "err", err)
	}
	if p.Status == http.StatusInternalServerError {
		ctx := r.Context()
		level := slog.LevelError
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			level = slog.LevelDebug // the client went away: nothing to fix
		}
		h.cfg.Logger.Log(ctx, level, "httpadapter: request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if h.cfg.Problem != nil {
		h.cfg.Problem(r, p)
	}
	if p.Status < 100 || p.Status > 999 { // a hook's slip must not panic WriteHeader
		p.Status = http.StatusInternalServerError
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
