package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var eventCases = []testCase{
	{"Events/Lifecycle", testEventsLifecycle},
	{"Events/EndStates", testEventsEndStates},
	{"Events/DeliveryFailed", testEventsDeliveryFailed},
	{"Events/ExpireDue", testEventsExpireDue},
	{"Events/Reinvite", testEventsReinvite},
	{"Events/ReinviteInLongBatch", testEventsReinviteLongBatch},
	{"Events/NoneOnRefusal", testEventsNoneOnRefusal},
	{"Events/NotFound", testEventsNotFound},
	{"Events/ClaimInOrder", testEventsClaimInOrder},
	{"Events/Retry", testEventsRetry},
	{"Race/ClaimEvents", testRaceClaimEvents},
}

// ev is an event as a case expects it: ids and claims aside.
type ev struct {
	typ   invites.EventType
	actor string
	at    time.Time
}

// history fails the test unless the events of invite id are want, in order.
func history(t *testing.T, s invites.Store, tenant string, id uuid.UUID, want ...ev) []invites.Event {
	t.Helper()
	got, err := s.History(t.Context(), invites.HistoryParams{TenantID: tenant, ID: id})
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	show := func(es []invites.Event) string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s by %q at %s", e.Type, e.ActorID, e.At.UTC().Format(time.RFC3339Nano)))
		}
		return fmt.Sprint(out)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		e := got[i]
		ok = e.Type == want[i].typ && e.ActorID == want[i].actor && sameTime(e.At, want[i].at) &&
			e.InviteID == id && e.TenantID == tenant && (i == 0 || e.ID > got[i-1].ID)
	}
	if !ok {
		var w []string
		for _, e := range want {
			w = append(w, fmt.Sprintf("%s by %q at %s", e.typ, e.actor, e.at.UTC().Format(time.RFC3339Nano)))
		}
		t.Fatalf("History(%s) = %s\nwant %v (ids growing, this invite and tenant)", id, show(got), w)
	}
	return got
}

func testEventsLifecycle(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "life@example.com", t0))
	t1 := t0.Add(time.Minute)
	mintAll(t, s, t1)
	t2 := t1.Add(2 * time.Minute)
	if _, err := resend(t, s, inv.ID, t2, rule); err != nil {
		t.Fatalf("Resend: %v", err)
	}
	t3 := t2.Add(time.Minute)
	digests := mintAll(t, s, t3)
	t4 := t3.Add(time.Hour)
	if _, err := accept(t.Context(), s, digests[inv.ID], "joiner", t4, nil); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	history(t, s, tenantA, inv.ID,
		ev{invites.EventCreated, "inviter", t0},
		ev{invites.EventSent, "", t1},
		ev{invites.EventResent, "admin-" + tenantA, t2},
		ev{invites.EventSent, "", t3},
		ev{invites.EventAccepted, "joiner", t4})
}

func testEventsEndStates(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	declined := insertOne(t, s, t0, newInvite(tenantA, "no@example.com", t0))
	canceled := insertOne(t, s, t0, newInvite(tenantA, "gone@example.com", t0))
	hooked := insertOne(t, s, t0, newInvite(tenantA, "hook@example.com", t0))
	digests := mintAll(t, s, t0)
	t1 := t0.Add(time.Hour)
	if _, err := decline(t.Context(), s, digests[declined.ID], t1); err != nil {
		t.Fatalf("Decline: %v", err)
	}
	if _, err := cancelIn(t.Context(), s, tenantA, canceled.ID, t1); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if _, err := accept(t.Context(), s, digests[hooked.ID], "joiner", t1, okHook); err != nil {
		t.Fatalf("Accept with a hook: %v", err)
	}
	history(t, s, tenantA, declined.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0}, ev{invites.EventDeclined, "", t1})
	history(t, s, tenantA, canceled.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0}, ev{invites.EventCanceled, "admin-" + tenantA, t1})
	history(t, s, tenantA, hooked.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0}, ev{invites.EventAccepted, "joiner", t1})
}

// A retry is no event; only the attempt that ends the delivery is.
func testEventsDeliveryFailed(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "bounce@example.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0.Add(time.Minute), Error: "421", At: t0})
	t1 := t0.Add(time.Minute)
	d = claimOne(t, s, t1, lease, inv.ID, 2)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "550 no such user", At: t1})
	history(t, s, tenantA, inv.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventDeliveryFailed, "", t1})
}

func testEventsExpireDue(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	short := func(d time.Duration) func(*invites.Invite) {
		return func(i *invites.Invite) { i.ExpiresAt = t0.Add(d) }
	}
	a := insertOne(t, s, t0, newInvite(tenantA, "a@example.com", t0, short(time.Hour)))
	b := insertOne(t, s, t0, newInvite(tenantB, "b@example.com", t0, short(2*time.Hour)))
	live := insertOne(t, s, t0, newInvite(tenantA, "live@example.com", t0, short(5*time.Hour)))
	done := insertOne(t, s, t0, newInvite(tenantA, "done@example.com", t0, short(time.Hour)))
	if _, err := cancelIn(t.Context(), s, tenantA, done.ID, t0); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(3 * time.Hour)
	expireDue := func(limit, want int) {
		t.Helper()
		n, err := s.ExpireDue(t.Context(), invites.ExpireParams{Now: now, Limit: limit})
		if err != nil || n != want {
			t.Fatalf("ExpireDue(%s, limit %d) = %d, %v; want %d", now, limit, n, err, want)
		}
	}
	expireDue(1, 1) // the limit holds
	expireDue(10, 1)
	expireDue(10, 0)
	for _, x := range []struct {
		inv    invites.Invite
		tenant string
	}{{a, tenantA}, {b, tenantB}} {
		got := get(t, s, x.tenant, x.inv.ID)
		if got.Status != invites.StatusExpired || !sameTime(got.StatusUpdatedAt, x.inv.ExpiresAt) {
			t.Fatalf("after ExpireDue: status %s at %s, want expired at its ExpiresAt %s", got.Status, got.StatusUpdatedAt, x.inv.ExpiresAt)
		}
		history(t, s, x.tenant, x.inv.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventExpired, "", x.inv.ExpiresAt})
	}
	if got := get(t, s, tenantA, live.ID); got.Status != invites.StatusPending {
		t.Fatalf("ExpireDue touched an invite not yet expired: %s", got.Status)
	}
	history(t, s, tenantA, done.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventCanceled, "admin-" + tenantA, t0})
}

// Re-inviting an address whose invite expired, or resending the expired
// invite, records the expiry and the new send.
func testEventsReinvite(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	exp := func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) }
	old := insertOne(t, s, t0, newInvite(tenantA, "again@example.com", t0, exp))
	now := t0.Add(2 * time.Hour)
	fresh := insertOne(t, s, now, newInvite(tenantA, "Again@Example.com", now))
	if fresh.ID == old.ID || get(t, s, tenantA, old.ID).Status != invites.StatusExpired {
		t.Fatalf("re-invite after expiry: want a new invite and the old one stored expired")
	}
	history(t, s, tenantA, old.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventExpired, "", old.ExpiresAt})
	history(t, s, tenantA, fresh.ID, ev{invites.EventCreated, "inviter", now})

	other := insertOne(t, s, t0, newInvite(tenantA, "renew@example.com", t0, exp))
	if _, err := resend(t, s, other.ID, now, rule); err != nil {
		t.Fatalf("Resend of an expired invite: %v", err)
	}
	history(t, s, tenantA, other.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventResent, "admin-" + tenantA, now})
}

// A long batch (stores may pass its addresses another way) expires the
// stale invite of its address and is blocked by the live one.
func testEventsReinviteLongBatch(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	stale := insertOne(t, s, t0, newInvite(tenantA, "stale@example.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) }))
	live := insertOne(t, s, t0, newInvite(tenantA, "live@example.com", t0))
	now := t0.Add(2 * time.Hour)
	batch := addresses(tenantA, "long", now, 40)
	batch[17] = newInvite(tenantA, "STALE@example.com", now)
	batch[31] = newInvite(tenantA, "live@example.com", now)
	res := insert(t, s, now, batch...)
	for i, r := range res {
		switch {
		case i == 31 && r.Existing != live.ID:
			t.Fatalf("item 31 = %+v, want blocked by %s", r, live.ID)
		case i != 31 && r.Invite.ID != batch[i].ID:
			t.Fatalf("item %d = %+v, want stored", i, r)
		}
	}
	history(t, s, tenantA, stale.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventExpired, "", stale.ExpiresAt})
}

// A refused or rolled-back change leaves no event.
func testEventsNoneOnRefusal(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "refuse@example.com", t0))
	digests := mintAll(t, s, t0)
	boom := errors.New("host says no")
	_, err := accept(t.Context(), s, digests[inv.ID], "joiner", t0, func(context.Context, invites.Invite) error { return boom })
	wantIs(t, "Accept with a failing hook", err, boom)
	if _, err := resend(t, s, inv.ID, t0, rule); !errors.Is(err, invites.ErrResendTooSoon) {
		t.Fatalf("Resend within the cooldown: %v", err)
	}
	if _, err := decline(t.Context(), s, digests[inv.ID], t0); err != nil {
		t.Fatal(err)
	}
	_, err = cancelIn(t.Context(), s, tenantA, inv.ID, t0)
	wantRefused(t, "Cancel of a declined invite", err, invites.StatusDeclined)
	history(t, s, tenantA, inv.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0}, ev{invites.EventDeclined, "", t0})
}

func testEventsNotFound(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "mine@example.com", t0))
	for _, c := range []struct {
		tenant string
		id     uuid.UUID
	}{{tenantB, inv.ID}, {tenantA, uuid.Must(uuid.NewV7())}} {
		es, err := s.History(t.Context(), invites.HistoryParams{TenantID: c.tenant, ID: c.id})
		if !errors.Is(err, invites.ErrNotFound) || len(es) != 0 {
			t.Fatalf("History(%s, %s) = %v, %v; want ErrNotFound", c.tenant, c.id, es, err)
		}
	}
}

func claimEvents(t *testing.T, s invites.Store, now time.Time, limit int) []invites.Event {
	t.Helper()
	es, err := s.ClaimEvents(t.Context(), invites.ClaimEventsParams{Now: now, Limit: limit, Lease: lease})
	if err != nil {
		t.Fatalf("ClaimEvents(%s): %v", now, err)
	}
	return es
}

func completeEvent(t *testing.T, s invites.Store, e invites.Event, retryAt time.Time) {
	t.Helper()
	if err := s.CompleteEvent(t.Context(), invites.CompleteEventParams{Event: e, RetryAt: retryAt}); err != nil {
		t.Fatalf("CompleteEvent(%d, retry %s): %v", e.ID, retryAt, err)
	}
}

func types(es []invites.Event) []invites.EventType {
	out := make([]invites.EventType, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}

// One invite's events come one at a time, in order; a leased head holds
// back the rest until it is handled or its lease runs out.
func testEventsClaimInOrder(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	a := insertOne(t, s, t0, newInvite(tenantA, "a@example.com", t0))
	insertOne(t, s, t0, newInvite(tenantB, "b@example.com", t0))
	mintAll(t, s, t0)
	if _, err := cancelIn(t.Context(), s, tenantA, a.ID, t0); err != nil {
		t.Fatal(err)
	}
	var seen []invites.EventType
	for round := 0; ; round++ {
		es := claimEvents(t, s, t0, 100)
		if len(es) == 0 {
			break
		}
		if round == 3 || len(es) > 2 || (len(es) == 2 && es[0].InviteID == es[1].InviteID) || (round == 0 && len(es) != 2) {
			t.Fatalf("round %d claimed %v: want one event per invite (both at first), three rounds", round, types(es))
		}
		if again := claimEvents(t, s, t0, 100); len(again) != 0 {
			t.Fatalf("while round %d's events are leased, ClaimEvents gave %v", round, types(again))
		}
		for _, e := range es {
			if e.Attempt != 1 {
				t.Fatalf("first claim of event %d: Attempt %d, want 1", e.ID, e.Attempt)
			}
			if e.InviteID == a.ID {
				seen = append(seen, e.Type)
			}
			completeEvent(t, s, e, time.Time{})
		}
	}
	if want := []invites.EventType{invites.EventCreated, invites.EventSent, invites.EventCanceled}; !slices.Equal(seen, want) {
		t.Fatalf("events of invite a claimed %v, want %v", seen, want)
	}
	// A lapsed lease gives the head to the next claimer; the first claim's
	// completion is then stale.
	c := insertOne(t, s, t0, newInvite(tenantA, "c@example.com", t0))
	first := claimEvents(t, s, t0, 100)
	if len(first) != 1 || first[0].InviteID != c.ID {
		t.Fatalf("ClaimEvents = %v, want the created event of c", first)
	}
	second := claimEvents(t, s, t0.Add(lease), 100)
	if len(second) != 1 || second[0].ID != first[0].ID || second[0].Attempt != 2 {
		t.Fatalf("after the lease ran out ClaimEvents = %+v, want event %d at Attempt 2", second, first[0].ID)
	}
	err := s.CompleteEvent(t.Context(), invites.CompleteEventParams{Event: first[0]})
	wantIs(t, "CompleteEvent by the claim whose lease lapsed", err, invites.ErrStaleDelivery)
	completeEvent(t, s, second[0], time.Time{})
	err = s.CompleteEvent(t.Context(), invites.CompleteEventParams{Event: second[0]})
	wantIs(t, "CompleteEvent of a handled event", err, invites.ErrStaleDelivery)
}

// An event handed back waits until its retry time, and the events after it
// of its invite wait for it.
func testEventsRetry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "retry@example.com", t0))
	mintAll(t, s, t0)
	es := claimEvents(t, s, t0, 100)
	if len(es) != 1 || es[0].Type != invites.EventCreated {
		t.Fatalf("ClaimEvents = %v, want the created event", types(es))
	}
	retryAt := t0.Add(10 * time.Minute)
	completeEvent(t, s, es[0], retryAt)
	if es := claimEvents(t, s, retryAt.Add(-time.Microsecond), 100); len(es) != 0 {
		t.Fatalf("before the retry time ClaimEvents = %v, want none (the sent event waits too)", types(es))
	}
	es = claimEvents(t, s, retryAt, 100)
	if len(es) != 1 || es[0].Type != invites.EventCreated || es[0].Attempt != 2 || es[0].InviteID != inv.ID {
		t.Fatalf("at the retry time ClaimEvents = %+v, want the created event at Attempt 2", es)
	}
	completeEvent(t, s, es[0], time.Time{})
	if es = claimEvents(t, s, retryAt, 100); len(es) != 1 || es[0].Type != invites.EventSent {
		t.Fatalf("then ClaimEvents = %v, want the sent event", types(es))
	}
}

// Workers claiming side by side handle each event once, and each
// invite's events in order.
func testRaceClaimEvents(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	const n = 40
	var ids []uuid.UUID
	for i := range n {
		inv := insertOne(t, s, t0, newInvite(tenantA, fmt.Sprintf("r%d@example.com", i), t0))
		ids = append(ids, inv.ID)
	}
	mintAll(t, s, t0)
	for _, id := range ids[:n/2] {
		if _, err := cancelIn(t.Context(), s, tenantA, id, t0); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		told = map[uuid.UUID][]int64{}
		wg   sync.WaitGroup
	)
	for range 6 {
		wg.Go(func() {
			for idle := 0; idle < 3; {
				es, err := s.ClaimEvents(context.Background(), invites.ClaimEventsParams{Now: t0, Limit: 7, Lease: time.Hour})
				if err != nil {
					t.Errorf("ClaimEvents: %v", err)
					return
				}
				if len(es) == 0 {
					idle++
					time.Sleep(time.Millisecond)
					continue
				}
				idle = 0
				for _, e := range es {
					mu.Lock()
					told[e.InviteID] = append(told[e.InviteID], e.ID)
					mu.Unlock()
					if err := s.CompleteEvent(context.Background(), invites.CompleteEventParams{Event: e}); err != nil {
						t.Errorf("CompleteEvent(%d): %v", e.ID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		want := 2 // created, sent
		if i < n/2 {
			want = 3 // and canceled
		}
		got := told[id]
		if len(got) != want || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != want {
			t.Fatalf("invite %d: events handed out %v, want its %d events once each, in order", i, got, want)
		}
	}
}
