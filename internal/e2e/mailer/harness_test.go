package mailer_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/internal/testclock"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

var ctx = context.Background()

var admin = invites.Actor{UserID: "u-admin", TenantID: "acme", Roles: []string{"admin", "member"}}

// world is a Service on memstore delivering through the SMTP mailer to a
// real SMTP server.
type world struct {
	t     *testing.T
	srv   *smtptest.Server
	smtp  *mailer.SMTP
	store *memstore.Store
	clock *testclock.Clock
	cfg   invites.Config
	svc   *invites.Service
	// sends counts the worker's Mailer.Send calls, as they return.
	sends atomic.Int64
}

// counted is the world's SMTP mailer counting its sends.
type counted struct{ w *world }

func (c counted) Send(ctx context.Context, m invites.Message) error {
	defer c.w.sends.Add(1)
	return c.w.smtp.Send(ctx, m)
}

func newWorld(t *testing.T, tune ...func(*invites.Config)) *world {
	t.Helper()
	return newWorldOn(t, smtptest.Options{}, tune...)
}

// newWorldOn is newWorld with a server of opts.
func newWorldOn(t *testing.T, opts smtptest.Options, tune ...func(*invites.Config)) *world {
	t.Helper()
	w := &world{t: t, srv: smtptest.New(t, opts), store: memstore.New(),
		clock: testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))}
	w.smtp = newSMTP(t, w.srv, func(c *mailer.SMTPConfig) { c.From = "Acme <invites@acme.test>" })
	w.cfg = invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Now:       w.clock.Now,
		Logger:    slog.New(slog.DiscardHandler),
	}
	for _, f := range tune {
		f(&w.cfg)
	}
	w.svc = w.service(w.store)
	return w
}

// service is another Service of the world's mailer and clock over store.
func (w *world) service(store invites.Store) *invites.Service {
	w.t.Helper()
	svc, err := invites.New(store, counted{w}, w.cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return svc
}

// send invites one address per item and fails the test on any error.
func (w *world) send(items ...invites.NewInvite) []invites.Invite {
	w.t.Helper()
	res, err := w.svc.Send(ctx, admin, items)
	if err != nil || len(res.Errors) > 0 {
		w.t.Fatalf("Send: %+v, %v", res.Errors, err)
	}
	return res.Success
}

// sendN invites n addresses.
func (w *world) sendN(n int) []invites.Invite {
	items := make([]invites.NewInvite, n)
	for i := range items {
		items[i] = invites.NewInvite{Email: fmt.Sprintf("user%04d@example.test", i)}
	}
	return w.send(items...)
}

// deliver runs one delivery pass of svc and returns how many emails went out.
func (w *world) deliver(svc *invites.Service) int {
	w.t.Helper()
	n, err := svc.DeliverPending(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) get(id uuid.UUID) invites.Invite {
	w.t.Helper()
	inv, err := w.svc.Get(ctx, admin, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return inv
}

// list returns every invite of the tenant.
func (w *world) list() []invites.Invite {
	w.t.Helper()
	var all []invites.Invite
	q := invites.Query{Limit: 100}
	for {
		page, err := w.svc.List(ctx, admin, q)
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, page.Invites...)
		if page.NextCursor == "" {
			return all
		}
		q.Cursor = page.NextCursor
	}
}

// run starts svc.Run and returns a stop that cancels it and reports how
// long Run took to return.
func run(t *testing.T, svc *invites.Service) (stop func() time.Duration) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	var once sync.Once
	stop = func() time.Duration {
		var took time.Duration
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context was canceled")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}
