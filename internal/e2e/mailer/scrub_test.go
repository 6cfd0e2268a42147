package mailer_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"golang.org/x/net/idna"
)

// attempts is an Observer keeping the error text of each attempt.
type attempts struct {
	mu   sync.Mutex
	errs []string
}

func (a *attempts) StartOp(ctx context.Context, _ invites.OpInfo) (context.Context, func(invites.OpResult)) {
	return ctx, func(invites.OpResult) {}
}

func (a *attempts) StartAttempt(ctx context.Context, _ invites.Delivery) (context.Context, func(invites.AttemptResult)) {
	return ctx, func(r invites.AttemptResult) {
		if r.Err != nil {
			a.mu.Lock()
			a.errs = append(a.errs, r.Err.Error())
			a.mu.Unlock()
		}
	}
}

func (a *attempts) Events(context.Context, invites.EventType, int)          {}
func (a *attempts) Trace(context.Context) string                            { return "" }
func (a *attempts) WatchStats(func(context.Context) (invites.Stats, error)) {}

// lockedBuffer is a log's output, written by the worker's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// aLabels writes the domain of an address as DNS carries it.
func aLabels(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	d, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil {
		panic(err)
	}
	return addr[:at] + "@" + d
}

// A server refusing RCPT with a reply that echoes the recipient (550
// 5.1.1 <a@b.c>: unknown user) leaves the address in none of what the
// worker writes: its log, the invite's DeliveryError (which outlives a
// Forget of the address in no copy), the Observer's AttemptResult.Err.
// Servers echo it as given, in other cases, and with the domain in
// A-labels; the reply's code and the rest of its text stay.
func TestDeliveryScrubsRecipient(t *testing.T) {
	for _, c := range []struct {
		name, email string
		echo        func(to string) string
	}{
		{"AsGiven", "Ann.Lee@example.test", func(to string) string { return "<" + to + ">: unknown user" }},
		{"Upper", "Ann.Lee@example.test", func(to string) string { return strings.ToUpper(to) + " unknown user" }},
		{"Lower", "Ann.Lee@Example.test", func(to string) string { return "user " + strings.ToLower(to) + " unknown" }},
		{"ALabel", "jo@bücher.example", func(to string) string { return "<" + aLabels(to) + ">: unknown user" }},
		{"ALabelUpper", "Jo@Bücher.example", func(to string) string { return "<" + strings.ToUpper(aLabels(to)) + ">: unknown user" }},
		{"Twice", "ann@example.test", func(to string) string { return "<" + to + "> unknown; " + to + " does not exist" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs, seen := &lockedBuffer{}, &attempts{}
			w := newWorld(t, func(cfg *invites.Config) {
				cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
				cfg.Observer = seen
				cfg.MaxAttempts = 2
			})
			w.srv.Set(smtptest.Fault{RefuseRcpt: 451, RcptReply: c.echo})
			inv := w.send(invites.NewInvite{Email: c.email})[0]
			w.deliver(w.svc)
			w.srv.Set(smtptest.Fault{RefuseRcpt: 550, RcptReply: c.echo})
			w.clock.Advance(time.Hour)
			w.deliver(w.svc)
			got := w.get(inv.ID)
			if got.DeliveryStatus != invites.DeliveryFailed || !strings.Contains(got.DeliveryError, "550 5.1.1") {
				t.Fatalf("after a 451 and a 550: %s %q, want failed with the reply", got.DeliveryStatus, got.DeliveryError)
			}
			seen.mu.Lock()
			errs := seen.errs
			seen.mu.Unlock()
			if len(errs) != 2 {
				t.Fatalf("the Observer saw %d failed attempts, want 2", len(errs))
			}
			at := strings.LastIndexByte(inv.Email, '@')
			local := strings.ToLower(inv.Email[:at])
			for what, text := range map[string]string{"DeliveryError": got.DeliveryError, "the log": logs.String(),
				"the first attempt's Err": errs[0], "the last attempt's Err": errs[1]} {
				if strings.Contains(strings.ToLower(text), local+"@") {
					t.Errorf("%s holds the address: %s", what, text)
				}
				if what != "the log" && !strings.Contains(text, "unknown") {
					t.Errorf("%s lost the reply's text: %s", what, text)
				}
			}
			if !strings.Contains(logs.String(), "451 4.1.1") || !strings.Contains(logs.String(), "550 5.1.1") {
				t.Errorf("the log lacks the replies:\n%s", logs)
			}
		})
	}
}
