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
	{"Delivery/Renew", testDeliveryRenew},
	{"Delivery/ClaimTokens", testDeliveryClaimTokens},
	{"Delivery/ClaimDigestsShort", testDeliveryClaimDigestsShort},
	{"Delivery/ClaimDropsCanceled", testDeliveryClaimDropsCanceled},
	{"Delivery/ClaimRenewsExpiry", testDeliveryClaimRenewsExpiry},
	{"Delivery/ClaimKeepsFreshExpiry", testDeliveryClaimKeepsFreshExpiry},
	{"Delivery/CompleteSent", testDeliveryCompleteSent},
	{"Delivery/CompleteRetry", testDeliveryCompleteRetry},
	{"Delivery/RetryReleasesLease", testDeliveryRetryReleasesLease},
	{"Delivery/CompleteFailed", testDeliveryCompleteFailed},
	{"Delivery/CompleteMany", testDeliveryCompleteMany},
	{"Delivery/ReleaseClaim", testDeliveryReleaseClaim},
	{"Delivery/ReleaseOnlyItsClaim", testDeliveryReleaseOnlyItsClaim},
	{"Delivery/ReleaseRace", testDeliveryReleaseRace},
}

// claimed is a Claim and the digest of the token it took.
type claimed struct {
	invites.Claim
	digest []byte
}

// claim claims as a worker does, a fresh digest offered per delivery and
// every invite's ExpiresAt renewed to now+ttl, and fails the test on an
// error.
func claim(t *testing.T, s invites.Store, now time.Time, limit int, lease time.Duration) []claimed {
	t.Helper()
	cs, _ := claimAs(t, s, now, limit, lease, uuid.New())
	return cs
}

// claimAs is claim under the ClaimID id; it returns the digests the claim
// was offered too.
func claimAs(t *testing.T, s invites.Store, now time.Time, limit int, lease time.Duration, id uuid.UUID) ([]claimed, [][]byte) {
	t.Helper()
	digests := make([][]byte, limit)
	for i := range digests {
		digests[i] = newDigest(t)
	}
	cs, err := s.ClaimDeliveries(t.Context(), invites.ClaimParams{
		Now: now, Limit: limit, Lease: lease, Digests: digests, ExpiresAt: now.Add(ttl), RenewBefore: now.Add(ttl), ClaimID: id,
	})
	if err != nil {
		t.Fatalf("ClaimDeliveries(now %s, limit %d): %v", now, limit, err)
	}
	if len(cs) > limit {
		t.Fatalf("ClaimDeliveries(limit %d) returned %d deliveries", limit, len(cs))
	}
	out := make([]claimed, len(cs))
	for i, c := range cs {
		if c.Invite.ID != c.InviteID {
			t.Fatalf("claim %+v carries invite %s", c.Delivery, c.Invite.ID)
		}
		out[i] = claimed{c, digests[i]}
	}
	return out, digests
}

// claimOne claims at now and fails unless exactly one delivery, of invite
// id at attempt, comes back.
func claimOne(t *testing.T, s invites.Store, now time.Time, lease time.Duration, id uuid.UUID, attempt int) claimed {
	t.Helper()
	cs := claim(t, s, now, 100, lease)
	if len(cs) != 1 || cs[0].InviteID != id || cs[0].Attempt != attempt {
		t.Fatalf("ClaimDeliveries at %s = %+v, want one delivery of invite %s at Attempt %d", now, cs, id, attempt)
	}
	return cs[0]
}

func claimNone(t *testing.T, s invites.Store, now time.Time, why string) {
	t.Helper()
	if cs := claim(t, s, now, 100, lease); len(cs) != 0 {
		t.Fatalf("ClaimDeliveries at %s = %+v, want none: %s", now, cs, why)
	}
}

// complete records o as the outcome of d.
func complete(t *testing.T, s invites.Store, d invites.Delivery, o invites.DeliveryOutcome) {
	t.Helper()
	o.Delivery = d
	if err := s.CompleteDeliveries(t.Context(), invites.CompleteParams{Outcomes: []invites.DeliveryOutcome{o}}); err != nil {
		t.Fatalf("CompleteDeliveries(%+v, %+v): %v", d, o, err)
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
	cs := claim(t, s, t0, 100, lease)
	if len(cs) != len(want) {
		t.Fatalf("ClaimDeliveries = %+v, want one delivery per stored invite (%d), none for the blocked one", cs, len(want))
	}
	seen := map[uuid.UUID]bool{}
	for _, c := range cs {
		tenant, ok := want[c.InviteID]
		switch {
		case !ok:
			t.Fatalf("claimed %+v of an invite that was not stored", c.Delivery)
		case seen[c.InviteID]:
			t.Fatalf("claimed two deliveries of invite %s", c.InviteID)
		case c.ID == uuid.Nil || c.ID == c.InviteID:
			t.Fatalf("delivery %+v: ID must be its own, non-nil", c.Delivery)
		case c.TenantID != tenant || c.Kind != invites.KindInvitation || c.Attempt != 1:
			t.Fatalf("delivery %+v: want TenantID %s, Kind %s, Attempt 1", c.Delivery, tenant, invites.KindInvitation)
		case c.Invite.TenantID != tenant || c.Invite.Status != invites.StatusPending:
			t.Fatalf("claim of %s carries invite %+v", c.InviteID, c.Invite)
		}
		seen[c.InviteID] = true
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
		cs := claim(t, s, t0, 2, lease)
		if len(cs) != want {
			t.Fatalf("claim %d with limit 2 of 5: got %d deliveries, want %d", i+1, len(cs), want)
		}
		for _, c := range cs {
			if seen[c.ID] {
				t.Fatalf("delivery %s claimed twice within its lease", c.ID)
			}
			seen[c.ID] = true
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
		t.Fatalf("reclaimed %+v, want the same delivery as %+v", d2.Delivery, d1.Delivery)
	}

	// The first worker's claim no longer holds: its outcome changes nothing
	// and its renewal says so.
	complete(t, s, d1.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "")
	lost, err := s.RenewDeliveries(ctx, invites.RenewParams{Now: now, Lease: lease, Deliveries: []invites.Delivery{d1.Delivery, d2.Delivery}})
	if err != nil || len(lost) != 1 || lost[0] != d1.ID {
		t.Fatalf("RenewDeliveries of the lapsed and the current claim = %v, %v; want the lapsed one lost", lost, err)
	}

	// The second worker's claim does hold; both attempts' links work.
	for i, digest := range [][]byte{d1.digest, d2.digest} {
		if got, err := s.Lookup(ctx, invites.LookupParams{Digest: digest}); err != nil || got.ID != inv.ID {
			t.Fatalf("Lookup of attempt %d's token: invite %s, error %v", i+1, got.ID, err)
		}
	}
	complete(t, s, d2.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
}

func testDeliveryRenew(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	now := t0.Add(lease - time.Second)
	lost, err := s.RenewDeliveries(t.Context(), invites.RenewParams{Now: now, Lease: lease, Deliveries: []invites.Delivery{d.Delivery}})
	if err != nil || len(lost) != 0 {
		t.Fatalf("RenewDeliveries of a claim that holds = %v, %v; want none lost", lost, err)
	}
	claimNone(t, s, t0.Add(lease+time.Second), "the renewed lease runs past the first")
	claimNone(t, s, now.Add(lease-time.Microsecond), "the renewed lease runs until now+lease")
	claimOne(t, s, now.Add(lease), lease, inv.ID, 2)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	lost, err = s.RenewDeliveries(t.Context(), invites.RenewParams{Now: now, Lease: lease, Deliveries: []invites.Delivery{d.Delivery}})
	if err != nil || len(lost) != 1 {
		t.Fatalf("RenewDeliveries of a reclaimed delivery = %v, %v; want it lost", lost, err)
	}
}

// A claim gives each delivery its token and renews its invite's expiry.
func testDeliveryClaimTokens(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	invs := insertOK(t, s, t0, newInvite(tenantA, "a@x.com", t0), newInvite(tenantA, "b@x.com", t0), newInvite(tenantB, "c@x.com", t0))
	now := t0.Add(time.Hour)
	cs := claim(t, s, now, 10, lease)
	if len(cs) != len(invs) {
		t.Fatalf("claimed %d of %d", len(cs), len(invs))
	}
	for _, c := range cs {
		if !sameTime(c.Invite.ExpiresAt, now.Add(ttl)) {
			t.Fatalf("claimed invite %s: ExpiresAt %s, want %s", c.InviteID, c.Invite.ExpiresAt, now.Add(ttl))
		}
		got, err := s.Lookup(ctx, invites.LookupParams{Digest: c.digest})
		if err != nil || got.ID != c.InviteID {
			t.Fatalf("Lookup of the digest claimed for invite %s: invite %s, error %v", c.InviteID, got.ID, err)
		}
		checkInvite(t, "Lookup after the claim", got, c.Invite)
	}
}

// A claim short of digests is refused whole.
func testDeliveryClaimDigestsShort(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	_, err := s.ClaimDeliveries(t.Context(), invites.ClaimParams{Now: t0, Limit: 2, Lease: lease, Digests: [][]byte{newDigest(t)}, ExpiresAt: t0.Add(ttl)})
	if err == nil {
		t.Fatal("ClaimDeliveries with fewer digests than Limit succeeded")
	}
	claimOne(t, s, t0, lease, inv.ID, 1)
}

func testDeliveryClaimDropsCanceled(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	invs := insertOK(t, s, t0, newInvite(tenantA, "a@x.com", t0), newInvite(tenantA, "b@x.com", t0))
	if _, err := cancelIn(ctx, s, tenantA, invs[0].ID, t0); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	cs := claim(t, s, t0, 10, lease)
	if len(cs) != 1 || cs[0].InviteID != invs[1].ID {
		t.Fatalf("claimed %+v, want only the pending invite's delivery", cs)
	}
	complete(t, s, cs[0].Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
	claimNone(t, s, t0.Add(time.Hour), "the delivery of a canceled invite is dropped by the claim")
	if got := get(t, s, tenantA, invs[0].ID); got.Status != invites.StatusCanceled {
		t.Fatalf("the claim changed the canceled invite to %s", got.Status)
	}
}

// A worker that was down past an invite's expiry still sends it: minting
// renews ExpiresAt, so the invite never expires before its email went out.
func testDeliveryClaimRenewsExpiry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "late@x.com", t0))
	now := inv.ExpiresAt.Add(24 * time.Hour)
	c := claimOne(t, s, now, lease, inv.ID, 1)
	if c.Invite.StatusAt(now) != invites.StatusPending || !sameTime(c.Invite.ExpiresAt, now.Add(ttl)) {
		t.Fatalf("after the claim: reads as %s with ExpiresAt %s; want pending until %s", c.Invite.StatusAt(now), c.Invite.ExpiresAt, now.Add(ttl))
	}
	if _, err := accept(t.Context(), s, c.digest, "u", now, okHook); err != nil {
		t.Fatalf("Accept with the renewed token: %v", err)
	}
}

// An invite whose ExpiresAt is not before RenewBefore keeps it.
func testDeliveryClaimKeepsFreshExpiry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	invs := insertOK(t, s, t0, newInvite(tenantA, "fresh@x.com", t0),
		newInvite(tenantA, "short@x.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) }))
	now := t0.Add(time.Minute)
	cs, err := s.ClaimDeliveries(t.Context(), invites.ClaimParams{Now: now, Limit: 2, Lease: lease,
		Digests: [][]byte{newDigest(t), newDigest(t)}, ExpiresAt: now.Add(ttl), RenewBefore: now.Add(ttl - time.Hour)})
	if err != nil || len(cs) != 2 {
		t.Fatalf("ClaimDeliveries = %+v, %v; want both", cs, err)
	}
	want := map[uuid.UUID]time.Time{invs[0].ID: invs[0].ExpiresAt, invs[1].ID: now.Add(ttl)}
	for _, c := range cs {
		if !sameTime(c.Invite.ExpiresAt, want[c.InviteID]) {
			t.Fatalf("claimed %s with ExpiresAt %s, want %s", c.Invite.Email, c.Invite.ExpiresAt, want[c.InviteID])
		}
		if got := get(t, s, tenantA, c.InviteID); !sameTime(got.ExpiresAt, want[c.InviteID]) {
			t.Fatalf("%s stored with ExpiresAt %s after the claim, want %s", got.Email, got.ExpiresAt, want[c.InviteID])
		}
	}
}

func testDeliveryCompleteSent(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
	claimNone(t, s, t0.Add(30*24*time.Hour), "a sent delivery is done")
}

func testDeliveryCompleteRetry(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	retryAt := t0.Add(5 * time.Minute)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: retryAt, Error: "421 try later"})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "421 try later")
	claimNone(t, s, t0.Add(2*time.Minute), "the lease ran out but RetryAt has not come")
	claimNone(t, s, retryAt.Add(-time.Microsecond), "RetryAt has not come")
	d2 := claimOne(t, s, retryAt, lease, inv.ID, 2)
	if d2.ID != d.ID {
		t.Fatalf("the retry claimed delivery %s, want %s", d2.ID, d.ID)
	}
	// The stale first attempt cannot overwrite the retry.
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "late"})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryQueued, "421 try later")

	complete(t, s, d2.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliverySent, "")
	if got, err := s.Lookup(ctx, invites.LookupParams{Digest: d2.digest}); err != nil || got.ID != inv.ID {
		t.Fatalf("Lookup of the retry's token: invite %s, error %v", got.ID, err)
	}
	// The failed first attempt may have reached the inbox, and a receiver
	// may drop the retry as its duplicate: the first link still works.
	if got, err := accept(ctx, s, d.digest, "u", retryAt, okHook); err != nil || got.ID != inv.ID {
		t.Fatalf("Accept with the first attempt's token after the retry: invite %s, error %v", got.ID, err)
	}
	if got, err := s.Lookup(ctx, invites.LookupParams{Digest: d2.digest}); err != nil || got.Status != invites.StatusAccepted {
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
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: now, Error: "worker stopped"})
	claimOne(t, s, now, lease, inv.ID, 2)
}

func testDeliveryCompleteFailed(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d := claimOne(t, s, t0, lease, inv.ID, 1)
	complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "550 no such user"})
	wantDelivery(t, s, tenantA, inv.ID, invites.DeliveryFailed, "550 no such user")
	claimNone(t, s, t0.Add(30*24*time.Hour), "a failed delivery is final")
	if got := get(t, s, tenantA, inv.ID); got.Status != invites.StatusPending {
		t.Fatalf("a failed delivery changed the invite's Status to %s", got.Status)
	}
}

// One call records the outcomes of many claims, of every kind, and skips
// the one whose claim lapsed.
func testDeliveryCompleteMany(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	invs := insertOK(t, s, t0, newInvite(tenantA, "a@x.com", t0), newInvite(tenantA, "b@x.com", t0),
		newInvite(tenantB, "c@x.com", t0), newInvite(tenantA, "d@x.com", t0))
	cs := claim(t, s, t0, 10, lease)
	byInvite := map[uuid.UUID]claimed{}
	for _, c := range cs {
		byInvite[c.InviteID] = c
	}
	// The last invite's claim lapses and another worker holds it.
	stale := byInvite[invs[3].ID]
	complete(t, s, stale.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0, Error: "handed back"})
	now := t0.Add(time.Second)
	again := claimOne(t, s, now, lease, invs[3].ID, 2)

	outcomes := []invites.DeliveryOutcome{
		{Delivery: byInvite[invs[0].ID].Delivery, Status: invites.DeliverySent, At: now},
		{Delivery: byInvite[invs[1].ID].Delivery, Status: invites.DeliveryFailed, Error: "550 gone", At: now},
		{Delivery: byInvite[invs[2].ID].Delivery, Status: invites.DeliveryQueued, RetryAt: now.Add(time.Hour), Error: "421 later", At: now},
		{Delivery: stale.Delivery, Status: invites.DeliverySent, At: now},
	}
	if err := s.CompleteDeliveries(t.Context(), invites.CompleteParams{Outcomes: outcomes}); err != nil {
		t.Fatalf("CompleteDeliveries of four outcomes: %v", err)
	}
	wantDelivery(t, s, tenantA, invs[0].ID, invites.DeliverySent, "")
	wantDelivery(t, s, tenantA, invs[1].ID, invites.DeliveryFailed, "550 gone")
	wantDelivery(t, s, tenantB, invs[2].ID, invites.DeliveryQueued, "421 later")
	wantDelivery(t, s, tenantA, invs[3].ID, invites.DeliveryQueued, "handed back")
	created := func(i int) ev { return ev{invites.EventCreated, invs[i].CreatedByUserID, t0} }
	history(t, s, tenantA, invs[0].ID, created(0), ev{invites.EventSent, "", now})
	history(t, s, tenantA, invs[1].ID, created(1), ev{invites.EventDeliveryFailed, "", now})
	history(t, s, tenantB, invs[2].ID, created(2))
	history(t, s, tenantA, invs[3].ID, created(3))
	claimNone(t, s, now.Add(lease-time.Second), "the retry is not due, the stale one's reclaim holds")
	complete(t, s, again.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	wantDelivery(t, s, tenantA, invs[3].ID, invites.DeliverySent, "")
}
