package invites_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// The delivery engine's own rules, on memstore: batches, leases renewed
// in flight, outcomes retried through a blip, wake-ups coalesced.

// flaky is a Store whose CompleteDeliveries fails its first n calls, as
// a database that blinks.
type flaky struct {
	invites.Store
	fails atomic.Int64
}

func (f *flaky) CompleteDeliveries(ctx context.Context, os invites.CompleteParams) error {
	if f.fails.Add(-1) >= 0 {
		return fmt.Errorf("connection reset: %w", invites.ErrUnavailable)
	}
	return f.Store.CompleteDeliveries(ctx, os)
}

// An outcome the store could not take at once is recorded on a later try,
// so the email is not sent again.
func TestOutcomeRetriedThroughBlip(t *testing.T) {
	h := newHarness(t)
	store := &flaky{Store: h.store}
	store.fails.Store(3)
	svc, err := invites.New(store, h.mail, invites.Config{
		Tokens: token.Issuer{}, AcceptURL: func(tok invites.Token) string { return tok.Reveal() }, Now: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	inv := h.send(admin, "blip@example.com")[0]
	if n, err := svc.DeliverPending(ctx); n != 1 || err != nil {
		t.Fatalf("DeliverPending = %d, %v", n, err)
	}
	if got := h.get(admin, inv); got.DeliveryStatus != invites.DeliverySent {
		t.Fatalf("after three failed recordings the invite reads %s", got.DeliveryStatus)
	}
	h.advance(time.Hour)
	if n := h.deliver(); n != 0 || h.mail.Attempts() != 1 {
		t.Fatalf("the email went %d times", h.mail.Attempts())
	}
}

// slowMail takes its time over every email, as a stalled server does.
type slowMail struct {
	*mailertest.Mailer
	d time.Duration
}

func (m slowMail) Send(ctx context.Context, msg invites.Message) error {
	select {
	case <-time.After(m.d):
	case <-ctx.Done():
		return ctx.Err()
	}
	return m.Mailer.Send(ctx, msg)
}

// A worker renews the leases of the emails it holds, so another worker
// does not take them over while they are slow to go: with a lease far
// shorter than the queue's wait, every email is claimed once and goes
// once.
func TestLeaseRenewedInFlight(t *testing.T) {
	store, mail := &counting{Store: memstore.New()}, mailertest.New()
	cfg := invites.Config{
		Tokens:          token.Issuer{},
		AcceptURL:       func(tok invites.Token) string { return tok.Reveal() },
		DeliveryLease:   150 * time.Millisecond,
		DeliveryWorkers: 2,
		PollInterval:    20 * time.Millisecond,
	}
	var svcs []*invites.Service
	for range 2 {
		svc, err := invites.New(store, slowMail{mail, 50 * time.Millisecond}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	const n = 20 // 500 ms of sending per worker: the lease runs out thrice over
	items := make([]invites.NewInvite, n)
	for i := range items {
		items[i] = invites.NewInvite{Email: fmt.Sprintf("slow%d@example.com", i)}
	}
	if res, err := svcs[0].Send(ctx, admin, items); err != nil || len(res.Errors) > 0 {
		t.Fatal(err, res.Errors)
	}
	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, svc := range svcs {
		wg.Go(func() { svc.Run(rctx) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(mail.Messages()) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * cfg.DeliveryLease) // room for a wrongful takeover to show
	stop()
	wg.Wait()
	seen := map[string]int{}
	for _, m := range mail.Messages() {
		seen[m.Invite.Email]++
	}
	if len(seen) != n {
		t.Fatalf("%d of %d addresses got their email", len(seen), n)
	}
	for addr, k := range seen {
		if k != 1 {
			t.Errorf("%s got %d emails", addr, k)
		}
	}
	if took := store.took.Load(); took != n {
		t.Fatalf("%d deliveries were claimed %d times: leases ran out in flight", n, took)
	}
}

// counting counts ClaimDeliveries calls and the deliveries they took.
type counting struct {
	invites.Store
	claims, took atomic.Int64
}

func (c *counting) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	cs, err := c.Store.ClaimDeliveries(ctx, p)
	if len(cs) > 0 {
		c.claims.Add(1)
		c.took.Add(int64(len(cs)))
	}
	return cs, err
}

// Single sends in quick succession wake Run once for many: their emails
// go out in few claims, not one claim each.
func TestWakesCoalesce(t *testing.T) {
	store := &counting{Store: memstore.New()}
	mail := mailertest.New()
	svc, err := invites.New(store, mail, invites.Config{
		Tokens:       token.Issuer{},
		AcceptURL:    func(tok invites.Token) string { return tok.Reveal() },
		PollInterval: time.Hour, // only wake-ups deliver
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	defer func() { stop(); <-done }()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: fmt.Sprintf("w%d@example.com", i)}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(mail.Messages()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := len(mail.Messages()); got != n {
		t.Fatalf("%d of %d emails went out", got, n)
	}
	if c := store.claims.Load(); c > n/4 {
		t.Fatalf("%d sends took %d claims", n, c)
	}
}

// down is a Store whose claims fail as a database that is away does,
// until up is closed.
type down struct {
	invites.Store
	up    chan struct{}
	tries atomic.Int64
}

func (d *down) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	select {
	case <-d.up:
		return d.Store.ClaimDeliveries(ctx, p)
	default:
		d.tries.Add(1)
		return nil, fmt.Errorf("connection refused: %w", invites.ErrUnavailable)
	}
}

// Run logs an outage of the store once when it starts and once when it
// ends, not once per try, and tries again within moments, not a
// PollInterval later.
func TestRunLogsOutageOnce(t *testing.T) {
	var buf syncbuf.Buffer
	store := &down{Store: memstore.New(), up: make(chan struct{})}
	mail := mailertest.New()
	svc, err := invites.New(store, mail, invites.Config{
		Tokens:       token.Issuer{},
		AcceptURL:    func(tok invites.Token) string { return tok.Reveal() },
		PollInterval: time.Hour,
		Logger:       slog.New(slog.NewTextHandler(&buf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: "outage@example.com"}}); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for store.tries.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := store.tries.Load(); n < 4 {
		t.Fatalf("Run tried %d times in 5 s while the store was away, want retries within moments", n)
	}
	close(store.up)
	for len(mail.Messages()) == 0 && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(mail.Messages()) != 1 {
		t.Fatal("the queued email did not go out once the store was back")
	}
	// The pass that sent it says the store is back once it ends.
	for !strings.Contains(buf.String(), "store is back") && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	out := buf.String()
	if a, b := strings.Count(out, "store is unavailable"), strings.Count(out, "store is back"); a != 1 || b != 1 {
		t.Fatalf("logged the outage %d times and its end %d times, want once each:\n%s", a, b, out)
	}
}
