package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"slices"

	"github.com/invitekit/invites"
)

// Errors of the SMTP mailer, checked with errors.Is.
var (
	// ErrClosed answers a Send after Close.
	ErrClosed = errors.New("mailer: closed")
	// ErrNoStartTLS is a server that does not offer STARTTLS when the
	// mailer requires it; the credentials and the message stay unsent.
	ErrNoStartTLS = errors.New("mailer: server does not offer STARTTLS")
	// ErrNoAuth is a server that offers no AUTH when credentials are set.
	ErrNoAuth = errors.New("mailer: server does not offer AUTH")
	// ErrNoSMTPUTF8 is a recipient whose local part is not ASCII for a
	// server that does not offer SMTPUTF8 (RFC 6531). No ASCII form of
	// the address exists, so nothing is sent, and it wraps
	// invites.ErrPermanent: a retry to the same server cannot mend it.
	ErrNoSMTPUTF8 = fmt.Errorf("mailer: the recipient's local part is not ASCII and the server does not offer SMTPUTF8: %w", invites.ErrPermanent)
)

// The SMTP steps an error can come from: the session's setup, then the
// message's own transaction.
const (
	stepConnect  = "connect"
	stepGreeting = "greeting"
	stepHello    = "EHLO"
	stepStartTLS = "STARTTLS"
	stepAuth     = "AUTH"
	stepMail     = "MAIL"
	stepRcpt     = "RCPT"
	stepData     = "DATA"
)

// transaction are the steps about one message rather than the session.
var transaction = []string{stepMail, stepRcpt, stepData}

// ReplyError is a reply of the server refusing a command.
type ReplyError struct {
	// Command is the step refused: MAIL, RCPT or DATA for the message,
	// greeting, EHLO, STARTTLS or AUTH for the session.
	Command string
	Code    int
	Message string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("mailer: smtp %s: %d %s", e.Command, e.Code, e.Message)
}

// ReplyCode is Code, for a caller that cannot import this package: the
// Service reads it into invites.AttemptResult.Reply.
func (e *ReplyError) ReplyCode() int { return e.Code }

// Permanent reports whether sending the message again cannot help: a 5xx
// reply to its MAIL, RCPT or DATA. A 5xx while setting the session up (a
// wrong password, say) is about the configuration, not this invite, so it
// is retried like a 4xx and mends once the host fixes it.
func (e *ReplyError) Permanent() bool {
	return e.Code >= 500 && e.Code < 600 && slices.Contains(transaction, e.Command)
}

// Is reports whether target is invites.ErrPermanent and the reply
// permanent, so the delivery worker fails it at once instead of retrying.
func (e *ReplyError) Is(target error) bool {
	return target == invites.ErrPermanent && e.Permanent()
}

// classify returns an error of step as the mailer's: a reply becomes a
// *ReplyError; anything else (a timeout, a dropped or refused connection)
// stays temporary, and says so when ctx cut it short.
func classify(ctx context.Context, step string, err error) error {
	if err == nil {
		return nil
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &ReplyError{Command: step, Code: tp.Code, Message: tp.Msg}
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrNoStartTLS) || errors.Is(err, ErrNoAuth) {
		return err
	}
	cerr := context.Cause(ctx)
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is ctx's; it can fire a moment before
		// ctx reports itself done.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("mailer: smtp %s: %w (%w)", step, cerr, err)
	}
	return fmt.Errorf("mailer: smtp %s: %w", step, err)
}
