package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var quotaCases = []testCase{
	{"Quota/Pending", testQuotaPending},
	{"Quota/SendsPerHour", testQuotaSendsPerHour},
	{"Quota/Resend", testQuotaResend},
	{"Race/QuotaPending", testRaceQuotaPending},
	{"Race/QuotaSends", testRaceQuotaSends},
	{"Race/QuotaDuringDecide", testRaceQuotaDuringDecide},
}

// insertQ is Insert under q; it returns which items were stored, blocked
// by a pending invite, over the quota, or over the address limit, as "s",
// "b", "q" or "a".
func insertQ(t *testing.T, s invites.Store, now time.Time, q invites.Quota, invs ...invites.Invite) string {
	t.Helper()
	res, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: invs, Quota: q})
	if err != nil || len(res) != len(invs) {
		t.Fatalf("Insert(%d invites, %+v) = %d results, %v", len(invs), q, len(res), err)
	}
	out := ""
	for i, r := range res {
		none := r.Existing == uuid.Nil && r.Invite.ID == uuid.Nil
		switch {
		case none && r.OverQuota && !r.AddressLimited:
			out += "q"
		case none && r.AddressLimited && !r.OverQuota:
			out += "a"
		case r.Existing != uuid.Nil && r.Invite.ID == uuid.Nil && !r.OverQuota && !r.AddressLimited:
			out += "b"
		case r.Invite.ID == invs[i].ID && r.Existing == uuid.Nil && !r.OverQuota && !r.AddressLimited:
			out += "s"
		default:
			t.Fatalf("Insert result %d is none of stored, blocked, over quota, over the address limit: %+v", i, r)
		}
	}
	return out
}

func addresses(tenant, prefix string, now time.Time, n int, opts ...func(*invites.Invite)) []invites.Invite {
	out := make([]invites.Invite, n)
	for i := range out {
		out[i] = newInvite(tenant, fmt.Sprintf("%s%d@example.com", prefix, i), now, opts...)
	}
	return out
}

// MaxPending counts the tenant's invites pending at now: not those expired,
// ended, of another tenant, or blocked in the batch; the batch's first fit.
func testQuotaPending(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	q := invites.Quota{MaxPending: 4}
	stale := insertOne(t, s, t0, newInvite(tenantA, "stale@example.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Minute) }))
	gone := insertOne(t, s, t0, newInvite(tenantA, "gone@example.com", t0))
	if _, err := cancelIn(t.Context(), s, tenantA, gone.ID, t0); err != nil {
		t.Fatal(err)
	}
	insertOK(t, s, t0, addresses(tenantB, "b", t0, 5)...)
	held := insertOne(t, s, t0, newInvite(tenantA, "held@example.com", t0))
	now := t0.Add(time.Hour)
	batch := append([]invites.Invite{newInvite(tenantA, "held@example.com", now)}, addresses(tenantA, "a", now, 4)...)
	if got := insertQ(t, s, now, q, batch...); got != "bsssq" {
		t.Fatalf("Insert under MaxPending 4 with one pending = %q, want bsssq", got)
	}
	if got := insertQ(t, s, now, q, newInvite(tenantA, "stale@example.com", now)); got != "q" {
		t.Fatalf("a full tenant re-inviting an expired address = %q, want q", got)
	}
	if got := get(t, s, tenantA, stale.ID); got.StatusAt(now) != invites.StatusExpired {
		t.Fatalf("stale invite reads %s", got.StatusAt(now))
	}
	if _, err := cancelIn(t.Context(), s, tenantA, held.ID, now); err != nil {
		t.Fatal(err)
	}
	if got := insertQ(t, s, now, q, newInvite(tenantA, "stale@example.com", now), newInvite(tenantA, "x@example.com", now)); got != "sq" {
		t.Fatalf("after a cancel frees one place = %q, want sq", got)
	}
	if got := insertQ(t, s, now, invites.Quota{}, newInvite(tenantA, "free@example.com", now)); got != "s" {
		t.Fatalf("without a quota = %q, want s", got)
	}
}

// MaxSendsPerHour counts one user's creates and resends of the last hour.
func testQuotaSendsPerHour(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	q := invites.Quota{MaxSendsPerHour: 3}
	by := func(user string) func(*invites.Invite) { return func(i *invites.Invite) { i.CreatedByUserID = user } }
	if got := insertQ(t, s, t0, q, addresses(tenantA, "x", t0, 2, by("ann"))...); got != "ss" {
		t.Fatalf("two sends = %q", got)
	}
	now := t0.Add(30 * time.Minute)
	if got := insertQ(t, s, now, q, addresses(tenantA, "y", now, 3, by("ann"))...); got != "sqq" {
		t.Fatalf("three more within the hour = %q, want sqq", got)
	}
	if got := insertQ(t, s, now, q, addresses(tenantA, "z", now, 2, by("bob"))...); got != "ss" {
		t.Fatalf("another user = %q, want ss", got)
	}
	if got := insertQ(t, s, now, q, addresses(tenantB, "y", now, 2, by("ann"))...); got != "ss" {
		t.Fatalf("the same user id in another tenant = %q, want ss", got)
	}
	later := t0.Add(time.Hour) // the first two fall out of the window
	if got := insertQ(t, s, later, q, addresses(tenantA, "w", later, 3, by("ann"))...); got != "ssq" {
		t.Fatalf("an hour after the first sends = %q, want ssq", got)
	}
}

// Resend is a send: it counts against and is refused by MaxSendsPerHour;
// renewing an expired invite makes it pending again, so MaxPending applies.
func testQuotaResend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	r := rule
	r.Quota = invites.Quota{MaxSendsPerHour: 2}
	admin := func(i *invites.Invite) { i.CreatedByUserID = as(tenantA).UserID }
	a := insertOne(t, s, t0, newInvite(tenantA, "a@example.com", t0, admin))
	now := t0.Add(2 * time.Minute)
	if _, err := resend(t, s, a.ID, now, r); err != nil {
		t.Fatalf("Resend within the quota: %v", err)
	}
	now = now.Add(2 * time.Minute)
	_, err := resend(t, s, a.ID, now, r)
	wantIs(t, "Resend over MaxSendsPerHour", err, invites.ErrQuotaExceeded)
	if got := get(t, s, tenantA, a.ID); got.SendCount != 2 {
		t.Fatalf("a refused Resend changed SendCount to %d", got.SendCount)
	}
	if got := insertQ(t, s, now, r.Quota, newInvite(tenantA, "b@example.com", now, admin)); got != "q" {
		t.Fatalf("Insert after a send and a resend under MaxSendsPerHour 2 = %q, want q", got)
	}

	r.Quota = invites.Quota{MaxPending: 1}
	exp := insertOne(t, s, t0, newInvite(tenantB, "exp@example.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Minute) }))
	insertOne(t, s, now, newInvite(tenantB, "live@example.com", now))
	_, err = r.at(t, s, now).Resend(t.Context(), as(tenantB), exp.ID)
	wantIs(t, "Resend of an expired invite into a full tenant", err, invites.ErrQuotaExceeded)
	live := insertOne(t, s, t0, newInvite(tenantA+"-2", "p@example.com", t0))
	if _, err := r.at(t, s, now).Resend(t.Context(), as(tenantA+"-2"), live.ID); err != nil {
		t.Fatalf("Resend of the one pending invite of a full tenant: %v (it takes no new place)", err)
	}
}

// Many senders at once never store more than MaxPending.
func testRaceQuotaPending(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	q := invites.Quota{MaxPending: 7}
	const senders = 12
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored int
	)
	for i := range senders {
		wg.Go(func() {
			batch := addresses(tenantA, fmt.Sprintf("s%d-", i), t0, 2)
			res, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: batch, Quota: q})
			if err != nil {
				t.Errorf("Insert: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range res {
				if r.Invite.ID != uuid.Nil {
					stored++
				}
			}
		})
	}
	wg.Wait()
	if stored != q.MaxPending {
		t.Fatalf("%d senders of 2 under MaxPending %d stored %d", senders, q.MaxPending, stored)
	}
}

// Inserts and resends of one user at once never pass MaxSendsPerHour.
func testRaceQuotaSends(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	const limit = 5
	admin := as(tenantA)
	var olds []invites.Invite
	for i := range 6 {
		olds = append(olds, insertOne(t, s, t0.Add(-2*time.Hour), newInvite(tenantA, fmt.Sprintf("old%d@example.com", i), t0.Add(-2*time.Hour))))
	}
	r := rule
	r.Quota = invites.Quota{MaxSendsPerHour: limit}
	svc := r.at(t, s, t0)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent int
	)
	count := func(ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			sent++
		}
	}
	for i := range 6 {
		wg.Go(func() {
			res, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Quota: r.Quota, Invites: []invites.Invite{newInvite(tenantA, fmt.Sprintf("new%d@example.com", i), t0,
				func(i *invites.Invite) { i.CreatedByUserID = admin.UserID })}})
			if err != nil {
				t.Errorf("Insert: %v", err)
				return
			}
			count(res[0].Invite.ID != uuid.Nil)
		})
		wg.Go(func() {
			_, err := svc.Resend(t.Context(), admin, olds[i].ID)
			if err != nil && !errors.Is(err, invites.ErrQuotaExceeded) {
				t.Errorf("Resend: %v", err)
			}
			count(err == nil)
		})
	}
	wg.Wait()
	if sent != limit {
		t.Fatalf("12 sends at once by one user under MaxSendsPerHour %d: %d went through", limit, sent)
	}
}

// A send that lands while Decide runs counts before the change is written:
// the store holds the quota's locks across Decide (the Insert waits for the
// change) or asks Decide again on the new counts. Either way, of a renewal
// and an Insert that would each fill the quota, one goes through.
func testRaceQuotaDuringDecide(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, c := range []struct {
		name  string
		q     invites.Quota
		count func(invites.Facts) int
	}{
		{"UserSends", invites.Quota{MaxSendsPerHour: 2}, func(f invites.Facts) int { return f.UserSends }},
		{"TenantPending", invites.Quota{MaxPending: 2}, func(f invites.Facts) int { return f.TenantPending }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			by := func(i *invites.Invite) { i.CreatedByUserID = as(tenantA).UserID }
			// Sent before the hour and expired: neither a send nor pending
			// at now, until renewed.
			old := t0.Add(-2 * time.Hour)
			exp := insertOne(t, s, old, newInvite(tenantA, "exp@x.com", old, by, func(i *invites.Invite) { i.ExpiresAt = old.Add(time.Hour) }))
			insertOne(t, s, t0, newInvite(tenantA, "live@x.com", t0, by))
			now := t0.Add(time.Minute)

			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			changed := make(chan error, 1)
			go func() {
				_, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: exp.ID, ActorID: as(tenantA).UserID, Count: c.q,
					Decide: func(_ context.Context, f invites.Facts) (invites.Edit, error) {
						once.Do(func() { close(entered); <-release })
						if c.count(f) >= 2 {
							return invites.Edit{}, invites.ErrQuotaExceeded
						}
						return renewEdit(now), nil
					}})
				changed <- err
			}()
			<-entered
			type result struct {
				res []invites.InsertResult
				err error
			}
			inserted := make(chan result, 1)
			go func() {
				res, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: now, Quota: c.q, Invites: []invites.Invite{newInvite(tenantA, "new@x.com", now, by)}})
				inserted <- result{res, err}
			}()
			var ins *result
			select {
			case r := <-inserted:
				ins = &r
			case <-time.After(200 * time.Millisecond): // it waits for the change's locks
			}
			close(release)
			err := <-changed
			if ins == nil {
				r := <-inserted
				ins = &r
			}
			if ins.err != nil || len(ins.res) != 1 {
				t.Fatalf("Insert: %v, %v", ins.res, ins.err)
			}
			if err != nil && !errors.Is(err, invites.ErrQuotaExceeded) {
				t.Fatalf("renewal: %v", err)
			}
			stored := ins.res[0].Invite.ID != uuid.Nil
			if stored == (err == nil) {
				t.Fatalf("renewal (err %v) and Insert (stored %t) racing under %+v: want exactly one through", err, stored, c.q)
			}
		})
	}
}
