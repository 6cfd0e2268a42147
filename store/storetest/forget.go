package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Erasure that reaches everything (issue 22): bounded commits, and the
// invites stored under rules older than today's.
var forgetCases = []testCase{
	{"Forget/Limit", testForgetLimit},
	{"Service/ForgetBatches", testServiceForgetBatches},
	{"Service/ForgetOldAddresses", testServiceForgetOldAddresses},
}

// sameAddress stores n invites of tenantA's email at now, each expired at
// once, so the next Insert ends it and the address has n invites, the
// last pending (with the address limit off).
func sameAddress(t *testing.T, s invites.Store, email string, now time.Time, n int) []invites.Invite {
	t.Helper()
	out := make([]invites.Invite, n)
	for i := range out {
		out[i] = insertOne(t, s, now, newInvite(tenantA, email, now, func(inv *invites.Invite) { inv.ExpiresAt = now }))
	}
	return out
}

// Forget with a Limit deletes up to Limit invites per call, each whole
// (its tokens, deliveries and events with it, its EventForgotten
// written), and leaves the rest as they were until a call finds none.
func testForgetLimit(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	u := needUpkeep(t, s)
	ctx := t.Context()
	invs := sameAddress(t, s, "many@x.com", t0, 5)
	digests := mintAll(t, s, t0)
	other := insertOne(t, s, t0, newInvite(tenantA, "other@x.com", t0))
	left := map[uuid.UUID]bool{}
	for _, inv := range invs {
		left[inv.ID] = true
	}
	now := t0.Add(time.Hour)
	var erased []uuid.UUID
	for _, want := range []int{2, 2, 1, 0} {
		ids, err := u.Forget(ctx, invites.ForgetParams{Now: now, TenantID: tenantA, Email: "many@x.com", ActorID: "dpo", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != want {
			t.Fatalf("Forget with Limit 2 erased %d invites (%v), want %d of the %d left", len(ids), ids, want, len(left))
		}
		for _, id := range ids {
			if !left[id] {
				t.Fatalf("Forget returned %s, not one of the address's invites left", id)
			}
			delete(left, id)
			wantGone(t, s, tenantA, id, digests[id])
		}
		for id := range left {
			if inv, err := s.Get(ctx, invites.GetParams{TenantID: tenantA, ID: id}); err != nil || len(historyOf(t, s, inv)) == 0 {
				t.Fatalf("an invite past the Limit: Get = %v, or no history left", err)
			}
		}
		erased = append(erased, ids...)
	}
	get(t, s, tenantA, other.ID)
	handleAll(t, s, t0)
	var told []uuid.UUID
	for _, e := range claimEvents(t, s, now, 100) {
		if e.Type == invites.EventForgotten {
			told = append(told, e.InviteID)
		}
	}
	if !sameIDs(told, erased) {
		t.Fatalf("forgotten events of %v, want one of each of %v", told, erased)
	}
}

// forgetSpy is a store whose Forget calls are counted; all else is the
// store's own.
type forgetSpy struct {
	invites.Store
	invites.UpkeepStore
	mu    sync.Mutex
	calls []invites.ForgetParams
	sizes []int
}

func (f *forgetSpy) Forget(ctx context.Context, p invites.ForgetParams) ([]uuid.UUID, error) {
	ids, err := f.UpkeepStore.Forget(ctx, p)
	f.mu.Lock()
	f.calls, f.sizes = append(f.calls, p), append(f.sizes, len(ids))
	f.mu.Unlock()
	return ids, err
}

// Service.Forget of an address with more invites than one commit takes
// erases them all, in commits of a bounded size.
func testServiceForgetBatches(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	const n = 450
	invs := sameAddress(t, s, "Lots@X.com", t0, n)
	spy := &forgetSpy{Store: s, UpkeepStore: needUpkeep(t, s)}
	ids, err := rule.at(t, spy, t0.Add(time.Hour)).Forget(t.Context(), as(tenantA), "lots@x.com")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uuid.UUID, n)
	for i, inv := range invs {
		want[i] = inv.ID
	}
	if !sameIDs(ids, want) {
		t.Fatalf("Forget erased %d invites, want all %d", len(ids), n)
	}
	if len(spy.calls) < 3 {
		t.Fatalf("Forget erased %d invites in %d commits (%v): want each commit bounded", n, len(spy.calls), spy.sizes)
	}
	for i, p := range spy.calls {
		if p.Limit <= 0 || p.Limit > 200 || spy.sizes[i] > p.Limit {
			t.Fatalf("store.Forget call %d: Limit %d, erased %d; want a Limit of 1 to 200, kept", i, p.Limit, spy.sizes[i])
		}
	}
	if last := spy.sizes[len(spy.sizes)-1]; last != 0 {
		t.Fatalf("the last store.Forget erased %d, want Forget to stop only at a call that found none", last)
	}
	for _, inv := range invs[:3] {
		wantGone(t, s, tenantA, inv.ID)
	}
}

// Addresses a Send of today refuses but an older version stored (a
// one-label or localhost domain, an IP address for a domain, a local part
// not in NFKC such as the Kelvin sign) are still erased by Forget: the
// address is looked up by its normalized form, not validated again.
func testServiceForgetOldAddresses(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	ctx := t.Context()
	svc := rule.at(t, s, t0.Add(time.Hour))
	for _, c := range []struct{ stored, given string }{
		{"u@localhost", "U@LOCALHOST"},
		{"ops@intranet", "ops@intranet"},
		{"x@10.0.0.1", "x@10.0.0.1"},
		{"\u212Aate@x.io", "\u212Aate@X.io"}, // the Kelvin sign, not k
		{"ﬁle@x.io", "ﬁle@x.io"},             // the fi ligature, not NFKC
	} {
		kate := insertOne(t, s, t0, newInvite(tenantA, "kate@x.io", t0)) // what the Kelvin sign looks like
		inv := insertOne(t, s, t0, newInvite(tenantA, c.stored, t0))
		ids, err := svc.Forget(ctx, as(tenantA), c.given)
		if err != nil || len(ids) != 1 || ids[0] != inv.ID {
			t.Fatalf("Forget(%q) of the stored %q = %v, %v; want [%s]", c.given, c.stored, ids, err, inv.ID)
		}
		wantGone(t, s, tenantA, inv.ID)
		get(t, s, tenantA, kate.ID)
		if ids := forget(t, s, tenantA, "kate@x.io", t0); len(ids) != 1 {
			t.Fatalf("Forget of kate@x.io = %v", ids)
		}
	}
	for _, bad := range []string{"", "no at sign", "Pat <pat@x.com>", "a@b.c\x00", "\xff@x.com"} {
		_, err := svc.Forget(ctx, as(tenantA), bad)
		wantIs(t, "Forget("+bad+")", err, invites.ErrInvalidInput)
	}
}
