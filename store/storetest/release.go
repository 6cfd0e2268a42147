package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// release releases the claim id offered digests and fails the test on an
// error; it returns how many deliveries it released.
func release(t *testing.T, s invites.Store, id uuid.UUID, digests [][]byte) int {
	t.Helper()
	n, err := s.ReleaseClaim(t.Context(), invites.ReleaseParams{ClaimID: id, Digests: digests})
	if err != nil {
		t.Fatalf("ReleaseClaim(%s): %v", id, err)
	}
	return n
}

// A released claim's deliveries are claimable at once, Attempt kept, and
// the tokens it gave them are forgotten; releasing it again, or a claim
// that never committed, releases nothing.
func testDeliveryReleaseClaim(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	invs := insertOK(t, s, t0, newInvite(tenantA, "a@x.com", t0), newInvite(tenantB, "b@x.com", t0))
	id := uuid.New()
	cs, digests := claimAs(t, s, t0, 10, lease, id)
	if len(cs) != len(invs) {
		t.Fatalf("claimed %d of %d", len(cs), len(invs))
	}
	if n := release(t, s, id, digests); n != len(cs) {
		t.Fatalf("ReleaseClaim released %d of the claim's %d deliveries", n, len(cs))
	}
	for _, c := range cs {
		if _, err := s.Lookup(ctx, invites.LookupParams{Digest: c.digest}); !errors.Is(err, invites.ErrInvalidToken) {
			t.Fatalf("Lookup of a released claim's token = %v, want ErrInvalidToken", err)
		}
	}
	if n := release(t, s, id, digests); n != 0 {
		t.Fatalf("ReleaseClaim again released %d", n)
	}
	again := claim(t, s, t0, 10, lease)
	if len(again) != len(cs) {
		t.Fatalf("claim at once after the release took %d of %d", len(again), len(cs))
	}
	for _, c := range again {
		if c.Attempt != 2 {
			t.Fatalf("claim after the release: Attempt %d, want 2 (the released claim's attempt is kept)", c.Attempt)
		}
		if got, err := s.Lookup(ctx, invites.LookupParams{Digest: c.digest}); err != nil || got.ID != c.InviteID {
			t.Fatalf("Lookup of the new claim's token: invite %s, error %v", got.ID, err)
		}
	}
	if n := release(t, s, uuid.New(), [][]byte{newDigest(t), newDigest(t)}); n != 0 {
		t.Fatalf("ReleaseClaim of a claim that never committed released %d", n)
	}
	if _, err := s.ReleaseClaim(ctx, invites.ReleaseParams{Digests: digests}); err == nil {
		t.Fatal("ReleaseClaim without a ClaimID: no error")
	}
	claimNone(t, s, t0, "the release of others' claims leaves their leases")
}

// A release touches only the deliveries still under its claim: not one
// another claim took since its lease ran out, nor one whose outcome was
// recorded.
func testDeliveryReleaseOnlyItsClaim(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	a := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	first := uuid.New()
	cs, digests := claimAs(t, s, t0, 10, lease, first)
	if len(cs) != 1 {
		t.Fatalf("claimed %d, want 1", len(cs))
	}
	later := t0.Add(lease)
	claimOne(t, s, later, lease, a.ID, 2)
	if n := release(t, s, first, digests); n != 0 {
		t.Fatalf("ReleaseClaim of a claim taken over released %d", n)
	}
	claimNone(t, s, later, "the second claim still holds")

	b := insertOne(t, s, later, newInvite(tenantA, "b@x.com", later))
	second := uuid.New()
	cs, digests = claimAs(t, s, later, 10, lease, second)
	if len(cs) != 1 || cs[0].InviteID != b.ID {
		t.Fatalf("claimed %+v, want the delivery of %s", cs, b.ID)
	}
	complete(t, s, cs[0].Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: later})
	if n := release(t, s, second, digests); n != 0 {
		t.Fatalf("ReleaseClaim of a claim whose outcome is recorded released %d", n)
	}
	wantDelivery(t, s, tenantA, b.ID, invites.DeliverySent, "")
	claimNone(t, s, later, "a sent delivery stays sent")
}

// Workers claim and release side by side, each also releasing its
// previous claim again: no delivery is ever held by two claims at once,
// and every claim counts in Attempt.
func testDeliveryReleaseRace(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	const n, workers, rounds = 6, 8, 15
	invs := make([]invites.Invite, n)
	for i := range invs {
		invs[i] = newInvite(tenantA, fmt.Sprintf("r%d@x.com", i), t0)
	}
	insertOK(t, s, t0, invs...)
	var (
		mu     sync.Mutex
		held   = map[uuid.UUID]int{} // delivery -> worker holding it
		claims = map[uuid.UUID]int{} // delivery -> claims taken
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			var prevID uuid.UUID
			var prev [][]byte
			for range rounds {
				id := uuid.New()
				cs, digests := claimAs(t, s, t0, 2, lease, id)
				mu.Lock()
				for _, c := range cs {
					if other, ok := held[c.ID]; ok {
						t.Errorf("delivery %s claimed by worker %d while worker %d holds it", c.ID, w, other)
					}
					held[c.ID] = w
					claims[c.ID]++
				}
				mu.Unlock()
				if prev != nil {
					if k := release(t, s, prevID, prev); k != 0 {
						t.Errorf("worker %d's stale release freed %d deliveries", w, k)
					}
				}
				mu.Lock()
				for _, c := range cs {
					delete(held, c.ID)
				}
				mu.Unlock()
				if k := release(t, s, id, digests); k != len(cs) {
					t.Errorf("worker %d released %d of its %d", w, k, len(cs))
				}
				prevID, prev = id, digests
			}
		})
	}
	wg.Wait()
	for _, c := range claim(t, s, t0, 10, lease) {
		if c.Attempt != claims[c.ID]+1 {
			t.Errorf("delivery %s at Attempt %d after %d claims", c.ID, c.Attempt, claims[c.ID])
		}
		delete(claims, c.ID)
	}
	if len(claims) != 0 {
		t.Errorf("%d deliveries not claimable after every claim was released", len(claims))
	}
}
