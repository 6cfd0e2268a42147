// Package mailertest is a recording invites.Mailer for tests: it keeps
// every message it is handed, can be told to fail, and gives a test the
// token of the latest email to an address so it can accept like a user.
package mailertest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/invitekit/invites"
)

// Errors a Mailer can be told to return.
var (
	// ErrTemporary is retried by the delivery worker.
	ErrTemporary = errors.New("mailertest: temporary failure")
	// ErrPermanent fails the delivery at once (it wraps invites.ErrPermanent).
	ErrPermanent = fmt.Errorf("mailertest: %w", invites.ErrPermanent)
)

// Mailer records sent messages. Its zero value is ready; it is safe for
// concurrent use.
type Mailer struct {
	mu       sync.Mutex
	sent     []invites.Message
	attempts int
	failNext []error
	failWith func(invites.Message) error
}

var _ invites.Mailer = (*Mailer)(nil)

// New returns an empty Mailer.
func New() *Mailer { return &Mailer{} }

// Send records m, or returns the failure the Mailer was told to give. It
// honours ctx like a real mailer would.
func (m *Mailer) Send(ctx context.Context, msg invites.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	if len(m.failNext) > 0 {
		err := m.failNext[0]
		m.failNext = m.failNext[1:]
		return err
	}
	if m.failWith != nil {
		if err := m.failWith(msg); err != nil {
			return err
		}
	}
	m.sent = append(m.sent, msg)
	return nil
}

// FailNext makes the next n sends return err, then sending works again.
func (m *Mailer) FailNext(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		m.failNext = append(m.failNext, err)
	}
}

// FailWith makes every send ask f first: a non-nil error fails that send.
// nil turns it off.
func (m *Mailer) FailWith(f func(invites.Message) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failWith = f
}

// Messages returns the messages sent so far, oldest first.
func (m *Mailer) Messages() []invites.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]invites.Message(nil), m.sent...)
}

// Attempts returns the number of Send calls, failed ones included.
func (m *Mailer) Attempts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts
}

// LastTo returns the latest message sent to email (as NormalizeEmail
// compares), and whether there is one.
func (m *Mailer) LastTo(email string) (invites.Message, bool) {
	norm := invites.NormalizeEmail(email)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].Invite.EmailNorm() == norm {
			return m.sent[i], true
		}
	}
	return invites.Message{}, false
}

// TokenFor returns the plaintext token of the latest email to email, or ""
// when none went there: what a user would click.
func (m *Mailer) TokenFor(email string) string {
	msg, ok := m.LastTo(email)
	if !ok {
		return ""
	}
	return msg.Token.Reveal()
}

// Reset forgets messages, attempts and failures.
func (m *Mailer) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent, m.attempts, m.failNext, m.failWith = nil, 0, nil, nil
}
