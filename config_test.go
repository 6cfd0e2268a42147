package invites_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// A negative MaxResends or ResendCooldown switches that limit off; the
// other keeps its default.
func TestNegativeResendLimitsAreOff(t *testing.T) {
	const many = 3 * invites.DefaultMaxResends
	for _, c := range []struct {
		name     string
		max      int
		cooldown time.Duration
		wait     time.Duration // between resends
		n        int           // resends that succeed
		then     error         // the answer to one more
	}{
		{"no cooldown", 0, -1, 0, invites.DefaultMaxResends, invites.ErrTooManyResends},
		{"no limit", -1, 0, invites.DefaultResendCooldown, many, invites.ErrResendTooSoon},
		{"neither", -1, -1, 0, many, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *invites.Config) {
				cfg.MaxResends, cfg.ResendCooldown, cfg.MaxSendsPerAddressPerDay = c.max, c.cooldown, -1
			})
			inv, _ := h.invite(admin, "again@example.com")
			for i := 1; i <= c.n; i++ {
				h.advance(c.wait)
				if got, err := h.svc.Resend(ctx, admin, inv.ID); err != nil || got.SendCount != i+1 {
					t.Fatalf("resend %d: send count %d, %v", i, got.SendCount, err)
				}
			}
			if _, err := h.svc.Resend(ctx, admin, inv.ID); !errors.Is(err, c.then) {
				t.Errorf("resend %d: %v, want %v", c.n+1, err, c.then)
			}
		})
	}
}

// Without Config.Tokens a Service mints token.Issuer's tokens, and takes
// them back.
func TestTokensDefault(t *testing.T) {
	h := newHarness(t, func(cfg *invites.Config) { cfg.Tokens = nil })
	_, tok := h.invite(admin, "plain@example.com")
	if c, err := h.svc.Check(ctx, tok); err != nil || !c.IsValid || len(tok) != token.Len {
		t.Fatalf("Check of a default token (%d chars) = %+v, %v", len(tok), c, err)
	}
}

// eventSpy keeps what DispatchEvents asked ClaimEvents for.
type eventSpy struct {
	invites.Store
	limit int
	lease time.Duration
}

func (s *eventSpy) ClaimEvents(ctx context.Context, p invites.ClaimEventsParams) ([]invites.Event, error) {
	s.limit, s.lease = p.Limit, p.Lease
	return s.Store.ClaimEvents(ctx, p)
}

// Event dispatch takes its batch, lease and timeout from its own fields,
// not from the delivery settings.
func TestEventSettingsAreTheirOwn(t *testing.T) {
	h := newHarness(t)
	spy := &eventSpy{Store: h.store}
	svc, err := invites.New(spy, h.mail, invites.Config{
		AcceptURL: func(invites.Token) string { return "https://app.test/accept" },
		Now:       h.clock,
		Logger:    slog.New(slog.DiscardHandler), // the handler fails on purpose
		OnEvent: func(ctx context.Context, _ invites.Event) error {
			<-ctx.Done() // until EventTimeout, not SendTimeout
			return ctx.Err()
		},
		EventBatch: 3, EventLease: 7 * time.Second, EventTimeout: 10 * time.Millisecond,
		DeliveryBatch: 50, DeliveryLease: time.Minute, SendTimeout: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.send(admin, "evt@example.com")
	start := time.Now()
	n, err := svc.DispatchEvents(ctx)
	if err != nil || n != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("DispatchEvents = %d, %v after %v", n, err, time.Since(start))
	}
	if spy.limit != 3 || spy.lease != 7*time.Second {
		t.Errorf("ClaimEvents took limit %d and lease %v, want 3 and 7s", spy.limit, spy.lease)
	}
}

// Retention and EventRetention are off at zero or at least MinRetention,
// so the send quotas still count a day of sends.
func TestRetentionAtLeastMin(t *testing.T) {
	for _, c := range []struct {
		retention, events time.Duration
		ok                bool
	}{
		{0, 0, true},
		{invites.MinRetention, 30 * invites.MinRetention, true},
		{invites.MinRetention - time.Second, 0, false},
		{0, time.Hour, false},
		{-invites.MinRetention, 0, false},
	} {
		_, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
			AcceptURL: func(invites.Token) string { return "/accept" },
			Retention: c.retention, EventRetention: c.events,
		})
		if (err == nil) != c.ok {
			t.Errorf("New with Retention %s, EventRetention %s: %v; want ok %t", c.retention, c.events, err, c.ok)
		}
	}
}

// TTL lies within MinTTL and MaxTTL; their defaults widen to take a TTL
// beyond them, so a Config of TTL alone still holds.
func TestTTLWithinBounds(t *testing.T) {
	for _, c := range []struct {
		ttl, min, max time.Duration
		ok            bool
	}{
		{0, 0, 0, true},
		{time.Minute, 0, 0, true},
		{90 * 24 * time.Hour, 0, 0, true},
		{time.Hour, 2 * time.Hour, 0, false},
		{48 * time.Hour, 0, 24 * time.Hour, false},
		{time.Hour, time.Hour, time.Hour, true},
	} {
		_, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
			AcceptURL: func(invites.Token) string { return "/accept" },
			TTL:       c.ttl, MinTTL: c.min, MaxTTL: c.max,
		})
		if (err == nil) != c.ok {
			t.Errorf("New with TTL %s, MinTTL %s, MaxTTL %s: %v; want ok %t", c.ttl, c.min, c.max, err, c.ok)
		}
	}
}
