package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var upkeepCases = []testCase{
	{"Stats/Outbox", testStatsOutbox},
	{"Stats/Events", testStatsEvents},
	{"Prune/Invites", testPruneInvites},
	{"Prune/Events", testPruneEvents},
	{"Prune/NothingWhenZero", testPruneNothingWhenZero},
}

// stats reads the store's Stats at now.
func stats(t *testing.T, s invites.Store, now time.Time) invites.Stats {
	t.Helper()
	st, err := s.Stats(t.Context(), invites.StatsParams{Now: now})
	if err != nil {
		t.Fatalf("Stats(%s): %v", now, err)
	}
	return st
}

// needUpkeep skips t unless s is an invites.UpkeepStore, the optional
// capability of Prune and Forget, and returns it as one: a store without
// it passes the suite on the rest.
func needUpkeep(t *testing.T, s invites.Store) invites.UpkeepStore {
	t.Helper()
	u, ok := s.(invites.UpkeepStore)
	if !ok {
		t.Skip("the store is no invites.UpkeepStore: Prune and Forget are left unchecked")
	}
	return u
}

// wantStats fails unless Stats at now is want.
func wantStats(t *testing.T, s invites.Store, now time.Time, want invites.Stats, why string) {
	t.Helper()
	if got := stats(t, s, now); got != want {
		t.Fatalf("Stats at %s = %+v, want %+v: %s", now, got, want, why)
	}
}

// prune runs one Prune and fails the test unless it deleted want.
func prune(t *testing.T, s invites.Store, p invites.PruneParams, want invites.PruneResult) {
	t.Helper()
	got, err := needUpkeep(t, s).Prune(t.Context(), p)
	if err != nil || got != want {
		t.Fatalf("Prune(%+v) = %+v, %v; want %+v", p, got, err, want)
	}
}

// wantGone fails unless tenant's invite id is deleted whole: Get and
// History do not find it and none of its tokens work.
func wantGone(t *testing.T, s invites.Store, tenant string, id uuid.UUID, digests ...[]byte) {
	t.Helper()
	ctx := t.Context()
	if got, err := s.Get(ctx, invites.GetParams{TenantID: tenant, ID: id}); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Get of deleted invite %s = %s, %v; want ErrNotFound", id, got.Status, err)
	}
	if es, err := s.History(ctx, invites.HistoryParams{TenantID: tenant, ID: id}); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("History of deleted invite %s = %v, %v; want ErrNotFound", id, types(es), err)
	}
	for _, d := range digests {
		if d == nil {
			continue
		}
		if got, err := s.Lookup(ctx, invites.LookupParams{Digest: d}); !errors.Is(err, invites.ErrInvalidToken) {
			t.Fatalf("Lookup of a token of deleted invite %s = invite %s, %v; want ErrInvalidToken", id, got.ID, err)
		}
	}
}

// The outbox counted across tenants: due (never claimed, or a retry whose
// time came), leased, waiting for a retry; sent and superseded deliveries
// are not counted.
func testStatsOutbox(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	wantStats(t, s, t0, invites.Stats{}, "an empty store")
	invs := insertOK(t, s, t0, newInvite(tenantA, "leased@x.com", t0), newInvite(tenantB, "wait@x.com", t0),
		newInvite(tenantA, "retry@x.com", t0), newInvite(tenantB, "sent@x.com", t0))
	leased, wait, retry, sent := invs[0].ID, invs[1].ID, invs[2].ID, invs[3].ID
	wantStats(t, s, t0, invites.Stats{Queued: 4, Due: 4, UnhandledEvents: 4}, "four deliveries queued at t0")
	wantStats(t, s, t0.Add(time.Hour), invites.Stats{Queued: 4, Due: 4, OldestDueAge: time.Hour, UnhandledEvents: 4}, "due for an hour")
	for _, c := range claim(t, s, t0, 10, time.Hour) {
		switch c.InviteID {
		case wait:
			complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0.Add(10 * time.Minute), Error: "421 later", At: t0})
		case retry:
			complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0.Add(time.Minute), Error: "421 later", At: t0})
		case sent:
			complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
		case leased:
		default:
			t.Fatalf("claimed a delivery of an invite not stored: %+v", c.Delivery)
		}
	}
	insertOK(t, s, t0.Add(2*time.Minute), newInvite(tenantA, "new@x.com", t0.Add(2*time.Minute)))
	insertOK(t, s, t0.Add(3*time.Minute), newInvite(tenantB, "newer@x.com", t0.Add(3*time.Minute)))
	now := t0.Add(5 * time.Minute)
	// Queued: leased, wait, retry and the two new; due: retry (since its
	// RetryAt, a minute in) and the new ones; failing: wait and retry.
	wantStats(t, s, now, invites.Stats{Queued: 5, Due: 3, OldestDueAge: 4 * time.Minute, Failing: 2, UnhandledEvents: 7},
		"one leased, one waiting for its retry, one retry due, two new due, one sent")
	if st := stats(t, s, t0.Add(2*time.Hour)); st.Queued != 5 || st.Due != 5 || st.Failing != 2 {
		t.Fatalf("Stats once the lease and the retry time passed = %+v, want all 5 queued due, 2 failing", st)
	}

	// A resend supersedes the queued delivery: one queued, not two.
	later := t0.Add(3 * time.Hour)
	if _, err := resend(t, s, retry, later, rule); err != nil {
		t.Fatalf("Resend: %v", err)
	}
	if st := stats(t, s, later); st.Queued != 5 || st.Due != 5 || st.Failing != 1 {
		t.Fatalf("Stats after a resend of a failing invite = %+v, want 5 queued due, 1 failing", st)
	}
	cs := claim(t, s, later, 10, lease)
	for _, c := range cs {
		complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: later})
	}
	if st := stats(t, s, later); len(cs) != 5 || st.Queued != 0 || st.Due != 0 || st.OldestDueAge != 0 || st.Failing != 0 {
		t.Fatalf("after sending all %d claimed: Stats = %+v, want the outbox empty", len(cs), st)
	}
}

// UnhandledEvents counts every event not handled, leased ones too, of
// every tenant.
func testStatsEvents(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	insertOK(t, s, t0, newInvite(tenantA, "a@x.com", t0), newInvite(tenantB, "b@x.com", t0))
	wantStats(t, s, t0, invites.Stats{Queued: 2, Due: 2, UnhandledEvents: 2}, "two created events")
	es := claimEvents(t, s, t0, 10)
	if len(es) != 2 {
		t.Fatalf("ClaimEvents = %v, want both created events", types(es))
	}
	if st := stats(t, s, t0); st.UnhandledEvents != 2 {
		t.Fatalf("with both events leased, UnhandledEvents = %d, want 2", st.UnhandledEvents)
	}
	completeEvent(t, s, es[0], time.Time{})
	completeEvent(t, s, es[1], t0.Add(time.Hour))
	if st := stats(t, s, t0); st.UnhandledEvents != 1 {
		t.Fatalf("one handled, one handed back: UnhandledEvents = %d, want 1", st.UnhandledEvents)
	}
	mintAll(t, s, t0)
	if st := stats(t, s, t0); st.UnhandledEvents != 3 {
		t.Fatalf("after two sent events: UnhandledEvents = %d, want 3", st.UnhandledEvents)
	}
}

// Prune deletes the invites of a final stored status from before the
// cutoff, whole, Limit at a time; pending invites stay however old.
func testPruneInvites(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	cut := t0.Add(10 * 24 * time.Hour)
	invs := insertOK(t, s, t0, newInvite(tenantA, "acc@x.com", t0), newInvite(tenantB, "dec@x.com", t0),
		newInvite(tenantA, "can@x.com", t0), newInvite(tenantA, "atcut@x.com", t0),
		newInvite(tenantA, "late@x.com", t0), newInvite(tenantB, "live@x.com", t0))
	acc, dec, can, atCut, late, live := invs[0], invs[1], invs[2], invs[3], invs[4], invs[5]
	digests := mintAll(t, s, t0)
	// One more invite keeps a claim open when it is canceled, and its
	// worker completes it after the prune.
	open := insertOne(t, s, t0, newInvite(tenantA, "open@x.com", t0))
	held := claimOne(t, s, t0, time.Hour, open.ID, 1)
	// Two are never sent (a claim would renew their expiry): one expires,
	// the other stays stored pending past its expiry.
	exp := insertOne(t, s, t0, newInvite(tenantA, "exp@x.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) }))
	stale := insertOne(t, s, t0, newInvite(tenantA, "stale@x.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(3 * time.Hour) }))
	at := t0.Add(time.Minute)
	mustOK(t, "Accept", func() error { _, err := accept(ctx, s, digests[acc.ID], "joiner", at, okHook); return err })
	mustOK(t, "Decline", func() error { _, err := decline(ctx, s, digests[dec.ID], at); return err })
	for _, c := range []struct {
		inv invites.Invite
		at  time.Time
	}{{can, at}, {open, at}, {atCut, cut}, {late, cut.Add(time.Hour)}} {
		mustOK(t, "Cancel", func() error { _, err := cancelIn(ctx, s, tenantA, c.inv.ID, c.at); return err })
	}
	if n, err := s.ExpireDue(ctx, invites.ExpireParams{Now: t0.Add(2 * time.Hour), Limit: 10}); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v; want exp expired", n, err)
	}
	keep := []invites.Invite{atCut, late, stale, live}
	before := map[uuid.UUID][]invites.Event{}
	events := 0
	for _, inv := range keep {
		before[inv.ID] = historyOf(t, s, inv)
		events += len(before[inv.ID])
	}

	p := invites.PruneParams{InvitesBefore: cut, Limit: 2}
	prune(t, s, p, invites.PruneResult{Invites: 2})
	prune(t, s, p, invites.PruneResult{Invites: 2})
	prune(t, s, p, invites.PruneResult{Invites: 1})
	prune(t, s, p, invites.PruneResult{})

	for _, inv := range []invites.Invite{acc, dec, can, exp, open} {
		wantGone(t, s, inv.TenantID, inv.ID, digests[inv.ID], held.digest)
	}
	for _, inv := range keep {
		if got := historyOf(t, s, inv); len(got) != len(before[inv.ID]) {
			t.Fatalf("Prune changed the history of kept invite %s: %v, was %v", inv.Email, types(got), types(before[inv.ID]))
		}
		if inv.ID == stale.ID {
			continue // never sent: no token
		}
		if got, err := s.Lookup(ctx, invites.LookupParams{Digest: digests[inv.ID]}); err != nil || got.ID != inv.ID {
			t.Fatalf("Lookup of kept invite %s's token: %s, %v", inv.Email, got.ID, err)
		}
	}
	// The open claim's delivery went with its invite: its outcome finds
	// nothing to change, and nothing of it is counted.
	complete(t, s, held.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: cut})
	wantGone(t, s, tenantA, open.ID)
	wantStats(t, s, cut, invites.Stats{Queued: 1, Due: 1, OldestDueAge: cut.Sub(t0), UnhandledEvents: events},
		"only stale's delivery and the kept invites' events left")

	// A pending invite is never pruned, however long past its expiry.
	prune(t, s, invites.PruneParams{InvitesBefore: cut.Add(1000 * 24 * time.Hour), Limit: 100}, invites.PruneResult{Invites: 2})
	for _, inv := range []invites.Invite{stale, live} {
		if got := get(t, s, inv.TenantID, inv.ID); got.Status != invites.StatusPending {
			t.Fatalf("invite %s is %s after the prune, want pending", inv.Email, got.Status)
		}
	}
}

// mustOK fails the test when step fails.
func mustOK(t *testing.T, what string, step func() error) {
	t.Helper()
	if err := step(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// historyOf returns the events of inv.
func historyOf(t *testing.T, s invites.Store, inv invites.Invite) []invites.Event {
	t.Helper()
	es, err := s.History(t.Context(), invites.HistoryParams{TenantID: inv.TenantID, ID: inv.ID})
	if err != nil {
		t.Fatalf("History(%s): %v", inv.Email, err)
	}
	return es
}

// handleAll claims and handles every event due at now.
func handleAll(t *testing.T, s invites.Store, now time.Time) {
	t.Helper()
	for {
		es := claimEvents(t, s, now, 100)
		if len(es) == 0 {
			return
		}
		for _, e := range es {
			completeEvent(t, s, e, time.Time{})
		}
	}
}

// Prune's events part deletes handled events from before the cutoff, of
// live invites too, Limit at a time, and leaves the invites.
func testPruneEvents(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	a := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	b := insertOne(t, s, t0, newInvite(tenantB, "b@x.com", t0))
	t1 := t0.Add(time.Hour)
	mintAll(t, s, t1)
	handleAll(t, s, t1)
	c := insertOne(t, s, t0, newInvite(tenantA, "c@x.com", t0)) // its created event stays unhandled
	t2 := t1.Add(time.Hour)
	if _, err := cancelIn(t.Context(), s, tenantA, a.ID, t2); err != nil {
		t.Fatal(err)
	}
	prune(t, s, invites.PruneParams{EventsBefore: t1, Limit: 100}, invites.PruneResult{Events: 2})
	history(t, s, tenantA, a.ID, ev{invites.EventSent, "", t1}, ev{invites.EventCanceled, "admin-" + tenantA, t2})
	history(t, s, tenantB, b.ID, ev{invites.EventSent, "", t1})
	history(t, s, tenantA, c.ID, ev{invites.EventCreated, "inviter", t0})

	p := invites.PruneParams{EventsBefore: t2.Add(time.Hour), Limit: 1}
	prune(t, s, p, invites.PruneResult{Events: 1})
	prune(t, s, p, invites.PruneResult{Events: 1})
	prune(t, s, p, invites.PruneResult{})
	last := max(history(t, s, tenantA, a.ID, ev{invites.EventCanceled, "admin-" + tenantA, t2})[0].ID,
		history(t, s, tenantA, c.ID, ev{invites.EventCreated, "inviter", t0})[0].ID)
	history(t, s, tenantB, b.ID)
	// IDs go on growing past those pruned.
	if _, err := cancelIn(t.Context(), s, tenantB, b.ID, t2); err != nil {
		t.Fatal(err)
	}
	if e := history(t, s, tenantB, b.ID, ev{invites.EventCanceled, "admin-" + tenantB, t2}); e[0].ID <= last {
		t.Fatalf("an event written after the prune has ID %d, not above the last before it (%d)", e[0].ID, last)
	}
	if got := get(t, s, tenantA, a.ID); got.Status != invites.StatusCanceled {
		t.Fatalf("the events' prune touched the canceled invite: %s", got.Status)
	}
	wantStats(t, s, t2, invites.Stats{Queued: 1, Due: 1, OldestDueAge: 2 * time.Hour, UnhandledEvents: 3}, "c's queued invitation; a's and b's canceled and c's created events unhandled")
}

// A zero cutoff prunes nothing of its kind.
func testPruneNothingWhenZero(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	mintAll(t, s, t0)
	handleAll(t, s, t0)
	if _, err := cancelIn(t.Context(), s, tenantA, inv.ID, t0); err != nil {
		t.Fatal(err)
	}
	handleAll(t, s, t0)
	far := t0.Add(1000 * 24 * time.Hour)
	prune(t, s, invites.PruneParams{Limit: 100}, invites.PruneResult{})
	prune(t, s, invites.PruneParams{EventsBefore: far, Limit: 100}, invites.PruneResult{Events: 3})
	history(t, s, tenantA, inv.ID)
	prune(t, s, invites.PruneParams{InvitesBefore: far, Limit: 100}, invites.PruneResult{Invites: 1})
	wantGone(t, s, tenantA, inv.ID)
}
