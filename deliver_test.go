package invites_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
)

func TestDeliveryMessage(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "m@example.com")[0]
	if n := h.deliver(); n != 1 {
		t.Fatalf("delivered %d", n)
	}
	if n := h.deliver(); n != 0 {
		t.Fatalf("second pass delivered %d again", n)
	}
	msg, _ := h.mail.LastTo("m@example.com")
	tok := msg.Token.Reveal()
	if msg.Kind != invites.KindInvitation || msg.Invite.ID != inv.ID || msg.ID == "" ||
		msg.AcceptURL != "https://app.test/accept?token="+tok || len(tok) != 43 {
		t.Fatalf("message = %+v", msg)
	}
	if strings.Contains(h.store.Dump(), tok) {
		t.Fatal("the store holds the plaintext token")
	}
}

func TestDeliveryRetriesWithBackoff(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "retry@example.com")[0]
	h.mail.FailNext(2, mailertest.ErrTemporary)
	if n := h.deliver(); n != 0 {
		t.Fatal("failed send counted")
	}
	got := h.get(admin, inv)
	if got.DeliveryStatus != invites.DeliveryQueued || !strings.Contains(got.DeliveryError, "temporary") {
		t.Fatalf("after a failure: %+v", got)
	}
	// The first retry waits between RetryBase/2 and RetryBase (30s).
	h.advance(14 * time.Second)
	if h.deliver() != 0 || h.mail.Attempts() != 1 {
		t.Fatal("retried before its backoff")
	}
	h.advance(16 * time.Second)
	h.deliver() // second failure: waits 30s..60s
	if h.mail.Attempts() != 2 {
		t.Fatalf("attempts = %d", h.mail.Attempts())
	}
	h.advance(29 * time.Second)
	if h.deliver() != 0 {
		t.Fatal("second retry came too early")
	}
	h.advance(31 * time.Second)
	if h.deliver() != 1 {
		t.Fatal("not delivered after backoff")
	}
	if got := h.get(admin, inv); got.DeliveryStatus != invites.DeliverySent || got.DeliveryError != "" {
		t.Fatalf("after success: %+v", got)
	}
}

func TestDeliveryPermanentFailure(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "bounce@example.com")[0]
	h.mail.FailNext(1, mailertest.ErrPermanent)
	h.deliver()
	got := h.get(admin, inv)
	if got.DeliveryStatus != invites.DeliveryFailed || !strings.Contains(got.DeliveryError, "permanent") {
		t.Fatalf("after 5xx: %+v", got)
	}
	h.advance(48 * time.Hour)
	if h.deliver() != 0 || h.mail.Attempts() != 1 {
		t.Fatal("a permanent failure was retried")
	}
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) { c.MaxAttempts = 3 })
	inv := h.send(admin, "down@example.com")[0]
	h.mail.FailWith(func(invites.Message) error { return mailertest.ErrTemporary })
	for range 5 {
		h.deliver()
		h.advance(2 * time.Hour)
	}
	if a := h.mail.Attempts(); a != 3 {
		t.Fatalf("attempts = %d, want 3", a)
	}
	if got := h.get(admin, inv); got.DeliveryStatus != invites.DeliveryFailed {
		t.Fatalf("after max attempts: %+v", got)
	}
}

func TestDeliveryResendSupersedesQueued(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) { c.ResendCooldown = time.Second })
	inv := h.send(admin, "twice@example.com")[0]
	h.advance(time.Second)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	if n := h.deliver(); n != 1 {
		t.Fatalf("delivered %d emails, want only the reminder", n)
	}
	msg, _ := h.mail.LastTo("twice@example.com")
	if msg.Kind != invites.KindReminder {
		t.Fatalf("kind = %s", msg.Kind)
	}
}

func TestDeliveryLeaseReclaim(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "lease@example.com")[0]
	// A worker claims and dies without recording anything.
	_, digest, err := token.Issuer{}.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.ClaimDeliveries(ctx, invites.ClaimParams{
		Now: h.clock(), Limit: 1, Lease: 2 * time.Minute, Digests: [][]byte{digest}, ExpiresAt: h.clock().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if h.deliver() != 0 {
		t.Fatal("delivered while another worker held the lease")
	}
	h.advance(2 * time.Minute)
	if h.deliver() != 1 || h.get(admin, inv).DeliveryStatus != invites.DeliverySent {
		t.Fatal("not reclaimed after the lease")
	}
}

func TestRunWakesOnSendAndStops(t *testing.T) {
	h := newHarness(t)
	passes := make(chan struct{}, 16)
	svc, err := invites.New(claimSignal{h.store, passes}, h.mail, invites.Config{
		Tokens:       token.Issuer{},
		AcceptURL:    func(tok invites.Token) string { return tok.Reveal() },
		Now:          h.clock,
		PollInterval: time.Hour, // only a wake-up can deliver within the test
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	<-passes // Run's first pass found nothing; it now waits on poll or wake
	if _, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: "wake@example.com"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.mail.TokenFor("wake@example.com") == "" {
		if time.Now().After(deadline) {
			t.Fatal("Run did not wake on Send")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// A worker stopped mid-send hands its delivery back at once, not after the lease.
func TestStoppedWorkerReleasesClaim(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "stop@example.com")[0]
	wctx, cancel := context.WithCancel(context.Background())
	h.mail.FailWith(func(invites.Message) error { cancel(); return context.Canceled })
	if _, err := h.svc.DeliverPending(wctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.mail.FailWith(nil)
	if h.deliver() != 1 || h.get(admin, inv).DeliveryStatus != invites.DeliverySent {
		t.Fatal("the stopped worker's delivery was not released")
	}
}

// Deliveries claimed in the same pass but not yet started when the worker
// stops are handed back too, even by a store that refuses work once ctx
// has ended, as a SQL store does.
func TestStoppedWorkerReleasesUnstartedClaims(t *testing.T) {
	h := newHarness(t)
	svc, err := invites.New(ctxStore{h.store}, h.mail, invites.Config{
		Tokens:          token.Issuer{},
		AcceptURL:       func(tok invites.Token) string { return tok.Reveal() },
		Now:             h.clock,
		DeliveryWorkers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.send(admin, "a@example.com", "b@example.com", "c@example.com")
	wctx, cancel := context.WithCancel(context.Background())
	h.mail.FailWith(func(invites.Message) error { cancel(); return context.Canceled })
	if _, err := svc.DeliverPending(wctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.mail.FailWith(nil)
	if n := h.deliver(); n != 3 {
		t.Fatalf("after the worker stopped, %d of 3 deliveries were free to send at once", n)
	}
}

// ctxStore refuses the outbox's work once ctx has ended, as a SQL store
// does.
type ctxStore struct{ invites.Store }

func (c ctxStore) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Store.ClaimDeliveries(ctx, p)
}

func (c ctxStore) CompleteDeliveries(ctx context.Context, os invites.CompleteParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.Store.CompleteDeliveries(ctx, os)
}

// Nothing the worker logs, at any level and on any path, carries a token.
func TestDeliveryLogsNoToken(t *testing.T) {
	var buf syncbuf.Buffer
	h := newHarness(t, func(c *invites.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	inv := h.send(admin, "log@example.com")[0]
	var tokens []string
	h.mail.FailWith(func(m invites.Message) error {
		tokens = append(tokens, m.Token.Reveal())
		if len(tokens) == 1 {
			return fmt.Errorf("%w: 421 busy for %v", mailertest.ErrTemporary, m)
		}
		return fmt.Errorf("%w: 550 rejected %s", mailertest.ErrPermanent, m.AcceptURL) // the raw link
	})
	h.deliver()
	h.advance(time.Hour)
	h.deliver()
	if got := h.get(admin, inv); got.DeliveryStatus != invites.DeliveryFailed || len(tokens) != 2 {
		t.Fatalf("delivery = %+v after %d attempts", got, len(tokens))
	}
	out := buf.String() + h.get(admin, inv).DeliveryError
	if !strings.Contains(out, "retried") {
		t.Fatalf("worker logged nothing: %s", out)
	}
	for _, tok := range tokens {
		if strings.Contains(out, tok) {
			t.Fatalf("token leaked into logs or the stored error: %s", out)
		}
	}
}

// claimSignal is a Store that reports each ClaimDeliveries, so a test
// knows when a delivery pass has looked at the outbox.
type claimSignal struct {
	invites.Store
	passes chan<- struct{}
}

func (c claimSignal) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	ds, err := c.Store.ClaimDeliveries(ctx, p)
	select {
	case c.passes <- struct{}{}:
	default:
	}
	return ds, err
}
