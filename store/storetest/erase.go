package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var eraseCases = []testCase{
	{"Forget/Erases", testForgetErases},
	{"Forget/None", testForgetNone},
	{"Bounce/Latest", testBounceLatest},
	{"Bounce/Superseded", testBounceSuperseded},
	{"Bounce/Queued", testBounceQueued},
	{"Bounce/AnyStatus", testBounceAnyStatus},
	{"Delivery/TraceAndQueuedAt", testDeliveryTrace},
}

// forget runs Forget of tenant's address email, as the Service gives it
// (normalized), by "dpo" at now.
func forget(t *testing.T, s invites.Store, tenant, email string, now time.Time) []uuid.UUID {
	t.Helper()
	ids, err := needUpkeep(t, s).Forget(t.Context(), invites.ForgetParams{Now: now, TenantID: tenant, Email: invites.NormalizeEmail(email), ActorID: "dpo"})
	if err != nil {
		t.Fatalf("Forget(%s, %s): %v", tenant, email, err)
	}
	return ids
}

// sameIDs compares two sets of ids.
func sameIDs(a, b []uuid.UUID) bool {
	sortIDs := func(ids []uuid.UUID) []uuid.UUID {
		ids = slices.Clone(ids)
		slices.SortFunc(ids, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
		return ids
	}
	return slices.Equal(sortIDs(a), sortIDs(b))
}

// Forget erases every invite of one address of one tenant, whatever its
// status and case, leaving an EventForgotten each that ClaimEvents still
// hands out; the same address in another tenant and other addresses stay.
func testForgetErases(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	x1 := insertOne(t, s, t0, newInvite(tenantA, "Pat@Example.com", t0))
	other := insertOne(t, s, t0, newInvite(tenantA, "other@example.com", t0))
	y := insertOne(t, s, t0, newInvite(tenantB, "pat@example.com", t0))
	digests := mintAll(t, s, t0)
	if _, err := cancelIn(ctx, s, tenantA, x1.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(2 * time.Minute)
	x2 := insertOne(t, s, t1, newInvite(tenantA, "pat@EXAMPLE.com", t1))
	digests[x2.ID] = mint(t, s, t1, x2.ID)
	if _, err := accept(ctx, s, digests[x2.ID], "pat", t1, okHook); err != nil {
		t.Fatal(err)
	}
	x3 := insertOne(t, s, t1, newInvite(tenantA, "PAT@example.com", t1)) // its invitation stays queued
	handleAll(t, s, t1)
	keep := map[uuid.UUID][]invites.Event{}
	for _, inv := range []invites.Invite{other, y} {
		keep[inv.ID] = historyOf(t, s, inv)
	}

	now := t0.Add(time.Hour)
	ids := forget(t, s, tenantA, "pat@example.com", now)
	if want := []uuid.UUID{x1.ID, x2.ID, x3.ID}; !sameIDs(ids, want) {
		t.Fatalf("Forget returned %v, want the canceled, accepted and pending invites %v", ids, want)
	}
	for _, inv := range []invites.Invite{x1, x2, x3} {
		wantGone(t, s, tenantA, inv.ID, digests[inv.ID])
	}
	for _, inv := range []invites.Invite{other, y} {
		got := get(t, s, inv.TenantID, inv.ID)
		if got.Status != invites.StatusPending || len(historyOf(t, s, inv)) != len(keep[inv.ID]) {
			t.Fatalf("Forget touched %s of %s", inv.Email, inv.TenantID)
		}
		if got, err := s.Lookup(ctx, invites.LookupParams{Digest: digests[inv.ID]}); err != nil || got.ID != inv.ID {
			t.Fatalf("Lookup of %s's token after Forget: %s, %v", inv.Email, got.ID, err)
		}
	}
	claimNone(t, s, now, "the pending invite's queued invitation went with it")

	// One forgotten event per invite, and no other event of theirs.
	if st := stats(t, s, now); st.UnhandledEvents != 3 || st.Queued != 0 {
		t.Fatalf("Stats after Forget = %+v, want the 3 forgotten events unhandled and nothing queued", st)
	}
	es := claimEvents(t, s, now, 100)
	var told []uuid.UUID
	for _, e := range es {
		if e.Type != invites.EventForgotten || e.TenantID != tenantA || e.ActorID != "dpo" || !sameTime(e.At, now) {
			t.Fatalf("ClaimEvents after Forget gave %+v, want only forgotten events of %s by dpo at %s", e, tenantA, now)
		}
		told = append(told, e.InviteID)
		completeEvent(t, s, e, time.Time{})
	}
	if !sameIDs(told, ids) {
		t.Fatalf("forgotten events of %v, want one of each of %v", told, ids)
	}
	wantStats(t, s, now, invites.Stats{}, "every forgotten event handled")
	wantGone(t, s, tenantA, x3.ID)

	// The address is free again; a handled forgotten event is pruned as
	// any other.
	insertOne(t, s, now, newInvite(tenantA, "pat@example.com", now))
	prune(t, s, invites.PruneParams{EventsBefore: now.Add(time.Second), Limit: 100}, invites.PruneResult{Events: 3 + len(keep[other.ID]) + len(keep[y.ID])})
}

// Forget of an address with no invite (or of another tenant only) erases
// nothing and is no error.
func testForgetNone(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantB, "b@x.com", t0))
	for _, email := range []string{"nobody@x.com", "b@x.com"} {
		if ids := forget(t, s, tenantA, email, t0); len(ids) != 0 {
			t.Fatalf("Forget(%s, %s) = %v, want none", tenantA, email, ids)
		}
	}
	get(t, s, tenantB, inv.ID)
	if st := stats(t, s, t0); st.UnhandledEvents != 1 {
		t.Fatalf("Forget of nobody wrote events: UnhandledEvents %d, want 1", st.UnhandledEvents)
	}
}

// bounce runs Bounce of delivery id at now.
func bounce(t *testing.T, s invites.Store, id uuid.UUID, now time.Time, reason string) (invites.Invite, bool) {
	t.Helper()
	inv, ok, err := s.Bounce(t.Context(), invites.BounceParams{Now: now, DeliveryID: id, Reason: reason})
	if err != nil {
		t.Fatalf("Bounce(%s): %v", id, err)
	}
	return inv, ok
}

// A bounce of the invite's latest email fails its delivery, once; a
// second report of it changes nothing.
func testBounceLatest(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "gone@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
	now := t0.Add(time.Hour)
	const reason = "hard bounce: 550 no such user"
	got, ok := bounce(t, s, d.ID, now, reason)
	if !ok || got.ID != inv.ID || got.DeliveryStatus != invites.DeliveryFailed || got.DeliveryError != reason || got.Status != invites.StatusPending {
		t.Fatalf("Bounce = %+v, %t; want true and the invite pending, delivery failed with %q", got, ok, reason)
	}
	checkInvite(t, "Get after Bounce", get(t, s, tenantA, inv.ID), got)
	want := []ev{{invites.EventCreated, "inviter", t0}, {invites.EventSent, "", t0}, {invites.EventBounced, "", now}}
	history(t, s, tenantA, inv.ID, want...)

	if _, ok := bounce(t, s, d.ID, now.Add(time.Minute), "soft bounce: again"); ok {
		t.Fatal("a second Bounce of one delivery answered true")
	}
	history(t, s, tenantA, inv.ID, want...)
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryFailed, reason)

	_, _, err := s.Bounce(t.Context(), invites.BounceParams{Now: now, DeliveryID: uuid.Must(uuid.NewV7()), Reason: reason})
	wantIs(t, "Bounce of an unknown delivery", err, invites.ErrNotFound)
	_, _, err = s.Bounce(t.Context(), invites.BounceParams{Now: now, DeliveryID: inv.ID, Reason: reason})
	wantIs(t, "Bounce by the invite's id", err, invites.ErrNotFound)
}

// A bounce of an email a resend superseded is recorded, but the invite's
// delivery state is its latest email's.
func testBounceSuperseded(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "old@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
	t1 := t0.Add(time.Hour)
	if _, err := resend(t, s, inv.ID, t1, rule); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(time.Minute)
	got, ok := bounce(t, s, d.ID, t2, "hard bounce: 550")
	if !ok || got.DeliveryStatus != invites.DeliveryQueued || got.DeliveryError != "" {
		t.Fatalf("Bounce of the superseded email = %s %q, %t; want true, the invite still queued", got.DeliveryStatus, got.DeliveryError, ok)
	}
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "")
	history(t, s, tenantA, inv.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0},
		ev{invites.EventResent, "admin-" + tenantA, t1}, ev{invites.EventBounced, "", t2})
	r := claimOne(t, s, t2, lease, inv.ID, 1)
	if r.Kind != invites.KindReminder {
		t.Fatalf("after the bounce claimed %+v, want the resend's reminder", r.Delivery)
	}
	complete(t, s, r.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t2})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
}

// A delivery that bounces while it waits for a retry, or while a worker
// holds it, fails for good: it is not claimed again, and the worker's
// outcome changes nothing.
func testBounceQueued(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	invs := insertOK(t, s, t0, newInvite(tenantA, "retry@x.com", t0), newInvite(tenantA, "held@x.com", t0))
	cs := claim(t, s, t0, 10, time.Hour)
	if len(cs) != 2 {
		t.Fatalf("claimed %d, want 2", len(cs))
	}
	byInvite := map[uuid.UUID]claimed{cs[0].InviteID: cs[0], cs[1].InviteID: cs[1]}
	waiting, held := byInvite[invs[0].ID], byInvite[invs[1].ID]
	complete(t, s, waiting.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0.Add(time.Minute), Error: "421 later", At: t0})
	now := t0.Add(30 * time.Second)
	for _, c := range []claimed{waiting, held} {
		if got, ok := bounce(t, s, c.ID, now, "soft bounce: mailbox full"); !ok || got.DeliveryStatus != invites.DeliveryFailed {
			t.Fatalf("Bounce of a queued delivery = %s, %t; want failed, true", got.DeliveryStatus, ok)
		}
	}
	wantStats(t, s, now, invites.Stats{UnhandledEvents: 4}, "both deliveries bounced: nothing queued")
	claimNone(t, s, t0.Add(2*time.Hour), "bounced deliveries are not claimed again")
	complete(t, s, held.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	wantDelivery(t, s, tenantA, invs[1].ID, invites.DeliveryFailed, "soft bounce: mailbox full")
	history(t, s, tenantA, invs[1].ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventBounced, "", now})
}

// Bounce records whatever the invite's status, and leaves the status.
func testBounceAnyStatus(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	invs := insertOK(t, s, t0, newInvite(tenantA, "acc@x.com", t0), newInvite(tenantB, "can@x.com", t0))
	cs := claim(t, s, t0, 10, lease)
	for _, c := range cs {
		complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
	}
	by := map[uuid.UUID]claimed{cs[0].InviteID: cs[0], cs[1].InviteID: cs[1]}
	if _, err := accept(ctx, s, by[invs[0].ID].digest, "joiner", t0, okHook); err != nil {
		t.Fatal(err)
	}
	if _, err := cancelIn(ctx, s, tenantB, invs[1].ID, t0); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	for i, st := range []invites.Status{invites.StatusAccepted, invites.StatusCanceled} {
		got, ok := bounce(t, s, by[invs[i].ID].ID, now, "hard bounce")
		if !ok || got.Status != st || got.DeliveryStatus != invites.DeliveryFailed {
			t.Fatalf("Bounce of the email of a %s invite = %s, %s, %t; want it %s, delivery failed", st, got.Status, got.DeliveryStatus, ok, st)
		}
		if es := historyOf(t, s, got); es[len(es)-1].Type != invites.EventBounced {
			t.Fatalf("history of the %s invite ends %v, want bounced", st, types(es))
		}
	}
}

// A delivery keeps the trace and the time of the send that queued it, to
// every attempt; a resend's delivery has its own.
func testDeliveryTrace(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	plain := insertOne(t, s, t0, newInvite(tenantA, "plain@x.com", t0))
	if c := claimOne(t, s, t0, lease, plain.ID, 1); c.Trace != "" || !sameTime(c.QueuedAt, t0) {
		t.Fatalf("claimed %q queued at %s, want no trace (none given), queued at %s", c.Trace, c.QueuedAt, t0)
	}
	const first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	res, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Trace: first, Invites: []invites.Invite{newInvite(tenantA, "a@x.com", t0)}})
	if err != nil || len(res) != 1 {
		t.Fatalf("Insert with a trace: %+v, %v", res, err)
	}
	id := res[0].Invite.ID
	wantTrace := func(c claimed, kind invites.MessageKind, queued time.Time, trace string) {
		t.Helper()
		if c.Kind != kind || !sameTime(c.QueuedAt, queued) || c.Trace != trace {
			t.Fatalf("claimed %s %q queued at %s, want %s %q queued at %s", c.Kind, c.Trace, c.QueuedAt, kind, trace, queued)
		}
	}
	c := claimOne(t, s, t0.Add(time.Second), lease, id, 1)
	wantTrace(c, invites.KindInvitation, t0, first)
	complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0.Add(2 * time.Second), Error: "421", At: t0})
	c = claimOne(t, s, t0.Add(2*time.Second), lease, id, 2)
	wantTrace(c, invites.KindInvitation, t0, first)
	complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})

	// A resend's delivery has the trace and time of the resend: the
	// longest trace kept whole, none when none is given.
	t1 := t0.Add(3 * time.Hour)
	long := strings.Repeat("t", invites.MaxTraceBytes)
	for _, x := range []struct {
		id    uuid.UUID
		trace string
	}{{id, long}, {plain.ID, ""}} {
		e := renewEdit(t1)
		e.Trace = x.trace
		if _, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: t1, TenantID: tenantA, ID: x.id, ActorID: as(tenantA).UserID,
			From: []invites.Status{invites.StatusPending}, Edit: e}); err != nil {
			t.Fatalf("renewing Change with trace %q: %v", x.trace, err)
		}
	}
	cs := claim(t, s, t1.Add(time.Minute), 10, lease)
	if len(cs) != 2 {
		t.Fatalf("claimed %d after two resends, want 2", len(cs))
	}
	for _, c := range cs {
		want := map[uuid.UUID]string{id: long, plain.ID: ""}[c.InviteID]
		wantTrace(c, invites.KindReminder, t1, want)
	}
}
