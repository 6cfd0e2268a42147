package invites_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// recorder is an OnEvent handler that keeps what it was told and can be
// made to fail.
type recorder struct {
	mu   sync.Mutex
	got  []invites.Event
	fail func(invites.Event) error
}

func (r *recorder) handle(_ context.Context, e invites.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(e); err != nil {
			return err
		}
	}
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) of(id uuid.UUID) []invites.EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []invites.EventType
	for _, e := range r.got {
		if e.InviteID == id {
			out = append(out, e.Type)
		}
	}
	return out
}

func eventTypes(t *testing.T, got []invites.EventType, want ...invites.EventType) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func (h *harness) dispatch() int {
	h.t.Helper()
	n, err := h.svc.DispatchEvents(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestHistoryAndOnEvent(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, func(c *invites.Config) { c.OnEvent = rec.handle })
	ctx := context.Background()
	inv, tok := h.invite(admin, "ann@example.com")
	h.advance(2 * time.Minute)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if _, err := h.svc.Accept(ctx, h.mail.TokenFor("ann@example.com"), invites.Acceptor{UserID: "u-ann"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann"}); err == nil {
		t.Fatal("the first link still worked after the resend")
	}
	hist, err := h.svc.History(ctx, admin, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []invites.EventType
	for _, e := range hist {
		types = append(types, e.Type)
	}
	eventTypes(t, types, invites.EventCreated, invites.EventSent, invites.EventResent, invites.EventSent, invites.EventAccepted)
	if hist[0].ActorID != admin.UserID || hist[2].ActorID != admin.UserID || hist[4].ActorID != "u-ann" || hist[1].ActorID != "" {
		t.Fatalf("actors %+v", hist)
	}
	if _, err := h.svc.History(ctx, other, inv.ID); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("History from another tenant: %v, want ErrNotFound", err)
	}

	if n := h.dispatch(); n != 5 {
		t.Fatalf("DispatchEvents handled %d, want 5", n)
	}
	eventTypes(t, rec.of(inv.ID), types...)
	if n := h.dispatch(); n != 0 {
		t.Fatalf("a second pass handled %d again", n)
	}
}

// A failing handler holds back the later events of its invite, not those
// of others, and gets the event again after the backoff.
func TestOnEventRetriesInOrder(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, func(c *invites.Config) { c.OnEvent = rec.handle })
	ctx := context.Background()
	a, _ := h.invite(admin, "a@example.com")
	b, _ := h.invite(admin, "b@example.com")
	if _, err := h.svc.Cancel(ctx, admin, a.ID); err != nil {
		t.Fatal(err)
	}
	failures := 0
	rec.fail = func(e invites.Event) error {
		if e.InviteID == a.ID && e.Type == invites.EventSent && failures < 2 {
			failures++
			return errors.New("CRM down")
		}
		return nil
	}
	h.dispatch()
	eventTypes(t, rec.of(a.ID), invites.EventCreated)
	eventTypes(t, rec.of(b.ID), invites.EventCreated, invites.EventSent)
	h.advance(30 * time.Second) // the first retry waits RetryBase/2..RetryBase
	h.dispatch()
	if failures != 2 {
		t.Fatalf("handler failed %d times, want the retry to have run", failures)
	}
	h.advance(time.Minute)
	h.dispatch()
	eventTypes(t, rec.of(a.ID), invites.EventCreated, invites.EventSent, invites.EventCanceled)
}

// An event claimed by a worker that died is handled once its lease runs out.
func TestOnEventAfterWorkerDied(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, func(c *invites.Config) { c.OnEvent = rec.handle })
	inv := h.send(admin, "a@example.com")[0]
	claimed, err := h.store.ClaimEvents(context.Background(), invites.ClaimEventsParams{Now: h.clock(), Limit: 10, Lease: 2 * time.Minute})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("the dying worker claimed %v, %v", claimed, err)
	}
	if n := h.dispatch(); n != 0 {
		t.Fatalf("handled %d events still leased to the dead worker", n)
	}
	h.advance(2 * time.Minute)
	h.dispatch()
	eventTypes(t, rec.of(inv.ID), invites.EventCreated)
}

func TestExpireDueWritesTheExpiry(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, func(c *invites.Config) { c.OnEvent = rec.handle })
	ctx := context.Background()
	inv, _ := h.invite(admin, "late@example.com")
	if n, err := h.svc.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireDue before the expiry = %d, %v", n, err)
	}
	h.advance(7*24*time.Hour + time.Second)
	if n, err := h.svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue after the expiry = %d, %v", n, err)
	}
	got := h.get(admin, inv)
	if got.Status != invites.StatusExpired || !got.StatusUpdatedAt.Equal(got.ExpiresAt) {
		t.Fatalf("after ExpireDue: %s at %s, want expired at %s", got.Status, got.StatusUpdatedAt, got.ExpiresAt)
	}
	h.dispatch()
	eventTypes(t, rec.of(inv.ID), invites.EventCreated, invites.EventSent, invites.EventExpired)
}

// Run marks expiries and tells events by itself.
func TestRunDispatchesEvents(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, func(c *invites.Config) { c.OnEvent = rec.handle; c.PollInterval = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.svc.Run(ctx) }()
	inv := h.send(admin, "run@example.com")[0]
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.of(inv.ID)) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventTypes(t, rec.of(inv.ID), invites.EventCreated, invites.EventSent)
}

// A cancel, accept or decline wakes Run at once to tell its event, rather
// than leaving it to the next poll.
func TestChangesWakeTheEventHandler(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, func(c *invites.Config) { c.OnEvent = rec.handle; c.PollInterval = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	inv, _ := h.invite(admin, "wake@example.com")
	go func() { done <- h.svc.Run(ctx) }()
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(rec.of(inv.ID)) < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := len(rec.of(inv.ID)); got != n {
			t.Fatalf("told %d events, want %d", got, n)
		}
	}
	wait(2) // created and sent, by Run's first pass
	if _, err := h.svc.Cancel(context.Background(), admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	wait(3) // within the hour's poll only because Cancel woke Run
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
