package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var deliveryCases = []testCase{
	{"Delivery/InsertQueuesOne", testDeliveryInsertQueuesOne},
	{"Delivery/Limit", testDeliveryLimit},
	{"Delivery/DueTime", testDeliveryDueTime},
	{"Delivery/Lease", testDeliveryLease},
	{"Delivery/SetTokenCanceled", testDeliverySetTokenCanceled},
	{"Delivery/SetTokenRenewsExpiry", testDeliverySetTokenRenewsExpiry},
	{"Delivery/CompleteSent", testDeliveryCompleteSent},
	{"Delivery/CompleteRetry", testDeliveryCompleteRetry},
	{"Delivery/RetryReleasesLease", testDeliveryRetryReleasesLease},
	{"Delivery/CompleteFailed", testDeliveryCompleteFailed},
}

// claim calls ClaimDeliveries and fails the test on an error.
func claim(t *testing.T, s invites.Store, now time.Time, limit int, lease time.Duration) []invites.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(t.Context(), now, limit, lease)
	if err != nil {
		t.Fatalf("ClaimDeliveries(now %s, limit %d): %v", now, limit, err)
	}
	if len(ds) > limit {
		t.Fatalf("ClaimDeliveries(limit %d) returned %d deliveries", limit, len(ds))
	}
	return ds
}

// claimOne claims at now and fails unless exactly one delivery, of invite
// id at attempt, comes back.
func claimOne(t *testing.T, s invites.Store, now time.Time, lease time.Duration, id uuid.UUID, attempt int) invites.Delivery {
	t.Helper()
	ds := claim(t, s, now, 100, lease)
	if len(ds) != 1 || ds[0].InviteID != id || ds[0].Attempt != attempt {
		t.Fatalf("ClaimDeliveries at %s = %+v, want one delivery of invite %s at Attempt %d", now, ds, id, attempt)
	}
	return ds[0]
}

func claimNone(t *testing.T, s invites.Store, now time.Time, why string) {
	t.Helper()
	if ds := claim(t, s, now, 100, lease); len(ds) != 0 {
		t.Fatalf("ClaimDeliveries at %s = %+v, want none: %s", now, ds, why)
	}
}

func complete(t *testing.T, s invites.Store, d invites.Delivery, o invites.DeliveryOutcome) {
	t.Helper()
	if err := s.CompleteDelivery(t.Context(), d, o); err != nil {
		t.Fatalf("CompleteDelivery(%+v, %+v): %v", d, o, err)
	}
}

// wantDelivery fails unless the invite shows the delivery status and error.
func wantDelivery(t *testing.T, s invites.Store, tenant string, id uuid.UUID, st invites.DeliveryStatus, msg string) {
	t.Helper()
	got := get(t, s, tenant, id)
	if got.DeliveryStatus != st || got.DeliveryError != msg {
		t.Fatalf("invite DeliveryStatus %s, DeliveryError %q; want %s, %q", got.DeliveryStatus, got.DeliveryError, st, msg)
	}
}

func testDeliveryInsertQueuesOne(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	a := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	res := insert(t, s, t0, newInvite(tenantA, "b@x.com", t0), newInvite(tenantB, "a@x.com", t0), newInvite(tenantA, "A@x.com", t0))
	if res[2].Existing != a.ID {
		t.Fatalf("Insert of A@x.com: Existing = %s, want %s", res[2].Existing, a.ID)
	}
	want := map[uuid.UUID]string{a.ID: tenantA, res[0].Invite.ID: tenantA, res[1].Invite.ID: tenantB}
	ds := claim(t, s, t0, 100, lease)
	if len(ds) != len(want) {
		t.Fatalf("ClaimDeliveries = %+v, want one delivery per stored invite (%d), none for the blocked one", ds, len(want))
	}
	seen := map[uuid.UUID]bool{}
	for _, d := range ds {
		tenant, ok := want[d.InviteID]
		switch {
		case !ok:
			t.Fatalf("claimed %+v of an invite that was not stored", d)
		case seen[d.InviteID]:
			t.Fatalf("claimed two deliveries of invite %s", d.InviteID)
		case d.ID == uuid.Nil || d.ID == d.InviteID:
			t.Fatalf("delivery %+v: ID must be its own, non-nil", d)
		case d.TenantID != tenant || d.Kind != invites.KindInvitation || d.Attempt != 1:
			t.Fatalf("delivery %+v: want TenantID %s, Kind %s, Attempt 1", d, tenant, invites.KindInvitation)
		}
		seen[d.InviteID] = true
	}
	claimNone(t, s, t0, "all are leased")
}

func testDeliveryLimit(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	var batch []invites.Invite
	for _, e := range []string{"a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com"} {
		batch = append(batch, newInvite(tenantA, e, t0))
	}
	insertOK(t, s, t0, batch...)
	seen := map[uuid.UUID]bool{}
	for i, want := range []int{2, 2, 1, 0} {
		ds := claim(t, s, t0, 2, lease)
		if len(ds) != want {
			t.Fatalf("claim %d with limit 2 of 5: got %d deliveries, want %d", i+1, len(ds), want)
		}
		for _, d := range ds {
			if seen[d.ID] {
				t.Fatalf("delivery %s claimed twice within its lease", d.ID)
			}
			seen[d.ID] = true
		}
	}
}

func testDeliveryDueTime(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	claimNone(t, s, t0.Add(-time.Second), "a delivery queued at t0 is not due before t0")
	claimOne(t, s, t0, lease, inv.ID, 1)
}

func testDeliveryLease(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d1 := claimOne(t, s, t0, lease, inv.ID, 1)
	claimNone(t, s, t0.Add(lease-time.Second), "the first claim's lease still runs")
	now := t0.Add(lease + time.Second)
	d2 := claimOne(t, s, now, lease, inv.ID, 2)
	if d2.ID != d1.ID || d2.Kind != d1.Kind {
		t.Fatalf("reclaimed %+v, want the same delivery as %+v", d2, d1)
	}

	// The first worker's claim no longer holds.
	stale := newDigest(t)
	_, err := s.SetToken(ctx, d1, stale, now.Add(ttl))
	wantIs(t, "SetToken with the lapsed claim", err, invites.ErrStaleDelivery)
	_, err = s.Lookup(ctx, stale)
	wantIs(t, "Lookup of the token a stale SetToken offered", err, invites.ErrInvalidToken)
	err = s.CompleteDelivery(ctx, d1, invites.DeliveryOutcome{Status: invites.DeliverySent})
	wantIs(t, "CompleteDelivery with the lapsed claim", err, invites.ErrStaleDelivery)
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "")

	// The second worker's claim does.
	digest := newDigest(t)
	got, err := s.SetToken(ctx, d2, digest, now.Add(ttl))
	if err != nil {
		t.Fatalf("SetToken with the current claim after a stale one was refused: %v", err)
	}
	if got.ID != inv.ID || !sameTime(got.ExpiresAt, now.Add(ttl)) {
		t.Fatalf("SetToken returned invite %s with ExpiresAt %s, want %s, %s", got.ID, got.ExpiresAt, inv.ID, now.Add(ttl))
	}
	if got, err := s.Lookup(ctx, digest); err != nil || got.ID != inv.ID {
		t.Fatalf("Lookup after SetToken: invite %s, error %v", got.ID, err)
	}
	complete(t, s, d2, invites.DeliveryOutcome{Status: invites.DeliverySent})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
}

func testDeliverySetTokenCanceled(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	if _, err := s.Cancel(ctx, as(tenantA), inv.ID, t0, nil); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	digest := newDigest(t)
	_, err := s.SetToken(ctx, d, digest, t0.Add(ttl))
	wantIs(t, "SetToken for a canceled invite", err, invites.ErrStaleDelivery)
	_, err = s.Lookup(ctx, digest)
	wantIs(t, "Lookup of the refused token", err, invites.ErrInvalidToken)
	claimNone(t, s, t0.Add(time.Hour), "the delivery of a canceled invite is dropped by SetToken")
}

// A worker that was down past an invite's expiry still sends it: minting
// renews ExpiresAt, so the invite never expires before its email went out.
func testDeliverySetTokenRenewsExpiry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "late@x.com", t0))
	now := inv.ExpiresAt.Add(24 * time.Hour)
	d := claimOne(t, s, now, lease, inv.ID, 1)
	digest := newDigest(t)
	got, err := s.SetToken(ctx, d, digest, now.Add(ttl))
	if err != nil {
		t.Fatalf("SetToken for a pending invite past its first ExpiresAt: %v", err)
	}
	if got.StatusAt(now) != invites.StatusPending || !sameTime(got.ExpiresAt, now.Add(ttl)) {
		t.Fatalf("after SetToken: reads as %s with ExpiresAt %s; want pending until %s", got.StatusAt(now), got.ExpiresAt, now.Add(ttl))
	}
	if _, err := s.Accept(ctx, digest, "u", now, okHook); err != nil {
		t.Fatalf("Accept with the renewed token: %v", err)
	}
}

func testDeliveryCompleteSent(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	if _, err := s.SetToken(t.Context(), d, newDigest(t), t0.Add(ttl)); err != nil {
		t.Fatalf("SetToken: %v", err)
	}
	complete(t, s, d, invites.DeliveryOutcome{Status: invites.DeliverySent})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
	claimNone(t, s, t0.Add(30*24*time.Hour), "a sent delivery is done")
}

func testDeliveryCompleteRetry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	first := newDigest(t)
	if _, err := s.SetToken(ctx, d, first, t0.Add(ttl)); err != nil {
		t.Fatalf("SetToken: %v", err)
	}
	retryAt := t0.Add(5 * time.Minute)
	complete(t, s, d, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: retryAt, Error: "421 try later"})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "421 try later")
	claimNone(t, s, t0.Add(2*time.Minute), "the lease ran out but RetryAt has not come")
	claimNone(t, s, retryAt.Add(-time.Microsecond), "RetryAt has not come")
	d2 := claimOne(t, s, retryAt, lease, inv.ID, 2)
	if d2.ID != d.ID {
		t.Fatalf("the retry claimed delivery %s, want %s", d2.ID, d.ID)
	}
	// The stale first attempt cannot overwrite the retry.
	err := s.CompleteDelivery(ctx, d, invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "late"})
	wantIs(t, "CompleteDelivery of the first attempt after the retry claimed it", err, invites.ErrStaleDelivery)
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "421 try later")

	digest := newDigest(t)
	if _, err := s.SetToken(ctx, d2, digest, retryAt.Add(ttl)); err != nil {
		t.Fatalf("SetToken of the retry: %v", err)
	}
	complete(t, s, d2, invites.DeliveryOutcome{Status: invites.DeliverySent})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
	if got, err := s.Lookup(ctx, digest); err != nil || got.ID != inv.ID {
		t.Fatalf("Lookup of the retry's token: invite %s, error %v", got.ID, err)
	}
	// The failed first attempt may have reached the inbox, and a receiver
	// may drop the retry as its duplicate: the first link still works.
	if got, err := s.Accept(ctx, first, "u", retryAt, okHook); err != nil || got.ID != inv.ID {
		t.Fatalf("Accept with the first attempt's token after the retry: invite %s, error %v", got.ID, err)
	}
	if got, err := s.Lookup(ctx, digest); err != nil || got.Status != invites.StatusAccepted {
		t.Fatalf("Lookup of the retry's token after accepting by the first: %v, %v; want accepted", got.Status, err)
	}
}

// A worker that stops hands its delivery back at once (RetryAt = now)
// rather than leaving it to its lease.
func testDeliveryRetryReleasesLease(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, time.Hour, inv.ID, 1)
	now := t0.Add(time.Second)
	complete(t, s, d, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: now, Error: "worker stopped"})
	claimOne(t, s, now, lease, inv.ID, 2)
}

func testDeliveryCompleteFailed(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	if _, err := s.SetToken(t.Context(), d, newDigest(t), t0.Add(ttl)); err != nil {
		t.Fatalf("SetToken: %v", err)
	}
	complete(t, s, d, invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "550 no such user"})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryFailed, "550 no such user")
	claimNone(t, s, t0.Add(30*24*time.Hour), "a failed delivery is final")
	if got := get(t, s, tenantA, inv.ID); got.Status != invites.StatusPending {
		t.Fatalf("a failed delivery changed the invite's Status to %s", got.Status)
	}
}
