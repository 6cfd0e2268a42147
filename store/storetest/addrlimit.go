package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var addressLimitCases = []testCase{
	{"AddressLimit/Insert", testAddressLimitInsert},
	{"AddressLimit/BeforeQuota", testAddressLimitBeforeQuota},
	{"AddressLimit/Resend", testAddressLimitResend},
	{"Race/AddressLimit", func(t *testing.T, newStore func(*testing.T) invites.Store) {
		raceAddressLimit(t, newStore, true)
	}},
	{"Race/AddressLimitCancelAndSend", func(t *testing.T, newStore func(*testing.T) invites.Store) {
		raceAddressLimit(t, newStore, false)
	}},
}

// cancel cancels an invite of tenantA the test knows is pending or expired.
func cancel(t *testing.T, s invites.Store, id uuid.UUID, now time.Time) {
	t.Helper()
	if _, err := cancelIn(t.Context(), s, tenantA, id, now); err != nil {
		t.Fatalf("Cancel(%s): %v", id, err)
	}
}

// MaxSendsPerAddressPerDay counts the creates and resends of every invite
// of the tenant and address in the 24 hours up to now, canceled and
// expired ones too; a pending invite of the address blocks first.
func testAddressLimitInsert(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	q := invites.Quota{MaxSendsPerAddressPerDay: 3}
	// Three sends to one address, under two spellings of it: one
	// canceled, one expired, one still pending.
	first := insertOne(t, s, t0, newInvite(tenantA, "kim@example.com", t0))
	cancel(t, s, first.ID, t0)
	at1 := t0.Add(time.Minute)
	insertOne(t, s, at1, newInvite(tenantA, "Kim@Example.com", at1, func(i *invites.Invite) { i.ExpiresAt = at1.Add(time.Minute) }))
	at2 := t0.Add(10 * time.Minute)
	if got := insertQ(t, s, at2, q, newInvite(tenantA, "kim@example.com", at2)); got != "s" {
		t.Fatalf("the third send of an address under a limit of 3 = %q, want s", got)
	}
	third := listEmail(t, s, tenantA, "kim@example.com", at2)
	now := t0.Add(time.Hour)
	if got := insertQ(t, s, now, q, newInvite(tenantA, "kim@example.com", now)); got != "b" {
		t.Fatalf("an address at its limit with a pending invite = %q, want b (the pending invite first)", got)
	}
	cancel(t, s, third, now)
	batch := []invites.Invite{
		newInvite(tenantA, "KIM@example.com", now),
		newInvite(tenantA, "lee@example.com", now),
		newInvite(tenantB, "kim@example.com", now),
	}
	if got := insertQ(t, s, now, q, batch...); got != "ass" {
		t.Fatalf("a batch of the limited address, another address and the address in another tenant = %q, want ass", got)
	}
	if got := insertQ(t, s, now, invites.Quota{}, newInvite(tenantA, "kim@example.com", now)); got != "s" {
		t.Fatalf("without a limit = %q, want s", got)
	}
	fourth := listEmail(t, s, tenantA, "kim@example.com", now)
	cancel(t, s, fourth, now)

	// Four sends now lie in the window; the first two leave it exactly 24
	// hours after they were made.
	edge := t0.Add(24*time.Hour + time.Minute)
	before := edge.Add(-time.Microsecond)
	if got := insertQ(t, s, before, q, newInvite(tenantA, "kim@example.com", before)); got != "a" {
		t.Fatalf("a microsecond before the second send leaves the window = %q, want a", got)
	}
	q.MaxSendsPerAddressPerDay = 2 // the sends at t0+10m and t0+1h remain
	if got := insertQ(t, s, edge, q, newInvite(tenantA, "kim@example.com", edge)); got != "a" {
		t.Fatalf("two sends left in the window under a limit of 2 = %q, want a", got)
	}
	q.MaxSendsPerAddressPerDay = 3
	if got := insertQ(t, s, edge, q, newInvite(tenantA, "kim@example.com", edge)); got != "s" {
		t.Fatalf("24 hours after the first two sends = %q, want s", got)
	}
}

// listEmail returns the id of the one invite of tenant and email pending
// at now.
func listEmail(t *testing.T, s invites.Store, tenant, email string, now time.Time) uuid.UUID {
	t.Helper()
	got, _, err := s.List(t.Context(), invites.ListParams{TenantID: tenant, Now: now, Limit: 10,
		Where: invites.Filter{Email: emailIs(email), Status: invites.StatusFilter{EqualTo: invites.StatusPending}}})
	if err != nil || len(got) != 1 {
		t.Fatalf("List of %s pending = %d invites, %v; want 1", email, len(got), err)
	}
	return got[0].ID
}

// An item over the address limit uses none of the tenant's quota.
func testAddressLimitBeforeQuota(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	q := invites.Quota{MaxSendsPerAddressPerDay: 1, MaxPending: 2}
	if got := insertQ(t, s, t0, q, newInvite(tenantA, "kim@example.com", t0)); got != "s" {
		t.Fatalf("first send = %q", got)
	}
	cancel(t, s, listEmail(t, s, tenantA, "kim@example.com", t0), t0)
	batch := append([]invites.Invite{newInvite(tenantA, "kim@example.com", t0)}, addresses(tenantA, "n", t0, 3)...)
	if got := insertQ(t, s, t0, q, batch...); got != "assq" {
		t.Fatalf("a limited address before three new ones under MaxPending 2 = %q, want assq", got)
	}
}

// A Resend is a send to the address: it counts, and over the limit it is
// ErrQuotaExceeded, after every other refusal.
func testAddressLimitResend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	r := rule
	r.Quota = invites.Quota{MaxSendsPerAddressPerDay: 3}
	old := insertOne(t, s, t0, newInvite(tenantA, "kim@example.com", t0))
	cancel(t, s, old.ID, t0)
	a := insertOne(t, s, t0, newInvite(tenantA, "kim@example.com", t0))
	now := t0.Add(2 * time.Minute)
	resendOK(t, s, a.ID, now, r)
	_, err := resend(t, s, a.ID, now.Add(time.Second), r)
	var soon *invites.ResendTooSoonError
	if !errors.As(err, &soon) {
		t.Fatalf("Resend in the cooldown at the address limit = %v, want *ResendTooSoonError first", err)
	}
	now = now.Add(2 * time.Minute)
	_, err = resend(t, s, a.ID, now, r)
	wantIs(t, "Resend of an address that had 3 sends under a limit of 3", err, invites.ErrQuotaExceeded)
	if got := get(t, s, tenantA, a.ID); got.SendCount != 2 || !got.LastSentAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("a refused Resend changed the invite: SendCount %d, LastSentAt %s", got.SendCount, got.LastSentAt)
	}
	_, err = resend(t, s, old.ID, now, r)
	wantNotPending(t, "Resend of a canceled invite at the address limit", err, invites.StatusCanceled)

	b := insertOne(t, s, t0, newInvite(tenantA, "lee@example.com", t0))
	if _, err := resend(t, s, b.ID, now, r); err != nil {
		t.Fatalf("Resend to another address: %v", err)
	}
	later := t0.Add(24*time.Hour + time.Second) // the two sends at t0 are out
	if _, err := resend(t, s, a.ID, later, r); err != nil {
		t.Fatalf("Resend once the first sends left the window: %v", err)
	}
	if got := insertQ(t, s, later, r.Quota, newInvite(tenantA, "kim@example.com", later)); got != "b" {
		t.Fatalf("Insert of the address the resend renewed = %q, want b", got)
	}
}

// Many writers sending to one address at once never make more sends than
// the limit: with resend, each resends the invite it met and a third of
// them cancel it and send again; without, every one cancels the invite
// it met and sends again.
func raceAddressLimit(t *testing.T, newStore func(*testing.T) invites.Store, resend bool) {
	s := newStore(t)
	const (
		limit   = 5
		writers = 16
		rounds  = 4
		email   = "kim@example.com"
	)
	others := 0
	if !resend {
		// Other addresses before the contested one make each INSERT
		// reach it later, widening the window a missing lock leaves.
		others = 30
	}
	// Each resend goes at its own microsecond after t0, so the cooldown
	// (the least the Service takes) refuses only one that lost the race
	// to a later resend of the same invite.
	r := rules{Cooldown: time.Nanosecond, Max: 1000, TTL: ttl, Quota: invites.Quota{MaxSendsPerAddressPerDay: limit}}
	var tick atomic.Int64
	first := insertOne(t, s, t0, newInvite(tenantA, email, t0)) // the writers start by meeting it
	var (
		wg    sync.WaitGroup
		ready sync.WaitGroup
		mu    sync.Mutex
		sent  = 1
		start = make(chan struct{})
	)
	count := func() {
		mu.Lock()
		defer mu.Unlock()
		sent++
	}
	for w := range writers {
		ready.Add(1)
		wg.Go(func() {
			// A read first, so a pooled store has its connections open
			// when the writers start together.
			get(t, s, tenantA, first.ID)
			ready.Done()
			<-start
			for n := range rounds {
				batch := addresses(tenantA, fmt.Sprintf("w%d-%d-", w, n), t0, others)
				batch = append(batch, newInvite(tenantA, email, t0))
				res, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: batch, Quota: r.Quota})
				if err != nil {
					t.Errorf("Insert: %v", err)
					return
				}
				last := res[len(res)-1]
				id := last.Invite.ID
				switch {
				case id != uuid.Nil:
					count()
				case last.Existing != uuid.Nil:
					id = last.Existing
				default:
					continue
				}
				if resend {
					at := t0.Add(time.Duration(tick.Add(1)) * time.Microsecond)
					svc, err := r.service(s, at, nil)
					if err != nil {
						t.Error(err)
						return
					}
					_, err = svc.Resend(t.Context(), as(tenantA), id)
					if err == nil {
						count()
					} else if !errors.Is(err, invites.ErrQuotaExceeded) && !errors.Is(err, invites.ErrNotPending) && !errors.Is(err, invites.ErrResendTooSoon) {
						t.Errorf("Resend: %v", err)
					}
					if w%3 != 0 {
						continue // the invite stays pending for the others' resends
					}
				}
				if _, err := cancelIn(t.Context(), s, tenantA, id, t0); err != nil && !errors.As(err, new(*invites.RuleError)) {
					t.Errorf("Cancel: %v", err)
				}
			}
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	if sent != limit {
		t.Fatalf("%d writers sending to one address under a limit of %d: %d sends went through", writers, limit, sent)
	}
	all, _, err := s.List(t.Context(), invites.ListParams{TenantID: tenantA, Now: t0, Limit: 100, Where: invites.Filter{Email: emailIs(email)}})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, inv := range all {
		evs, err := s.History(t.Context(), invites.HistoryParams{TenantID: tenantA, ID: inv.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == invites.EventCreated || e.Type == invites.EventResent {
				stored++
			}
		}
	}
	if stored != limit {
		t.Fatalf("the store holds %d sends to the address under a limit of %d", stored, limit)
	}
	if got := insertQ(t, s, t0, r.Quota, newInvite(tenantA, "other-"+email, t0)); got != "s" {
		t.Fatalf("another address after the race = %q, want s", got)
	}
}
