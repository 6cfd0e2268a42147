package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// ledgerSecret keys the send ledger of the cases' writes to a store.
var ledgerSecret = []byte("storetest: the ledger's secret, 32+ bytes")

// ledgerKey is the ledger key of an address, as the Service gives it.
func ledgerKey(emailNorm string) []byte { return invites.LedgerKey(ledgerSecret, emailNorm) }

var ledgerCases = []testCase{
	{"Ledger/ForgetKeepsQuotas", testLedgerForgetKeepsQuotas},
	{"Ledger/Prune", testLedgerPrune},
	{"Ledger/Secret", testLedgerSecret},
	{"AddressLimit/AllTenants", testAddressLimitAllTenants},
	{"Race/AddressLimitAllTenants", testRaceAddressLimitAllTenants},
}

// Forget erases an address's invites but not its sends: the address limit
// and the inviter's hourly quota still count them, until they leave
// their window.
func testLedgerForgetKeepsQuotas(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	q := invites.Quota{MaxSendsPerAddressPerDay: 2, MaxSendsPerHour: 3}
	first := insertOne(t, s, t0, newInvite(tenantA, "kim@example.com", t0))
	cancel(t, s, first.ID, t0)
	at1 := t0.Add(time.Minute)
	if got := insertQ(t, s, at1, q, newInvite(tenantA, "kim@example.com", at1)); got != "s" {
		t.Fatalf("the second send to an address under a limit of 2 = %q, want s", got)
	}
	at2 := t0.Add(2 * time.Minute)
	if ids := forget(t, s, tenantA, "kim@example.com", at2); len(ids) != 2 {
		t.Fatalf("Forget erased %d invites, want 2", len(ids))
	}
	if got := insertQ(t, s, at2, q, newInvite(tenantA, "Kim@example.com", at2)); got != "a" {
		t.Fatalf("a send to an address at its limit, erased since = %q, want a (the ledger keeps its sends)", got)
	}
	if got := insertQ(t, s, at2, q, newInvite(tenantA, "lee@example.com", at2)); got != "s" {
		t.Fatalf("the inviter's third send in the hour under 3 = %q, want s", got)
	}
	forget(t, s, tenantA, "lee@example.com", at2)
	if got := insertQ(t, s, at2, q, newInvite(tenantA, "max@example.com", at2)); got != "q" {
		t.Fatalf("the inviter's fourth send in the hour, one of them erased = %q, want q", got)
	}
	later := t0.Add(24*time.Hour + 2*time.Minute) // the sends to kim are out of the window
	if got := insertQ(t, s, later, q, newInvite(tenantA, "kim@example.com", later)); got != "s" {
		t.Fatalf("a send to the erased address a day later = %q, want s", got)
	}
}

// Prune removes up to Limit sends before SendsBefore, and the quotas no
// longer count them; later ones stay.
func testLedgerPrune(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	u := needUpkeep(t, s)
	ctx := t.Context()
	old := insertOne(t, s, t0, newInvite(tenantA, "old@x.com", t0))
	for i := range 2 {
		insertOne(t, s, t0, newInvite(tenantB, fmt.Sprintf("b%d@x.com", i), t0))
	}
	at2 := t0.Add(2 * time.Hour)
	kept := insertOne(t, s, at2, newInvite(tenantA, "kept@x.com", at2))
	prune := func(limit int) int {
		t.Helper()
		r, err := u.Prune(ctx, invites.PruneParams{SendsBefore: t0.Add(time.Hour), Limit: limit})
		if err != nil || r.Invites != 0 || r.Events != 0 {
			t.Fatalf("Prune of sends = %+v, %v", r, err)
		}
		return r.Sends
	}
	if n := prune(2); n != 2 {
		t.Fatalf("Prune with Limit 2 deleted %d sends, want 2", n)
	}
	if n := prune(10); n != 1 {
		t.Fatalf("the next Prune deleted %d sends, want the 1 left before SendsBefore", n)
	}
	if n := prune(10); n != 0 {
		t.Fatalf("a third Prune deleted %d sends, want none", n)
	}
	cancel(t, s, old.ID, at2)
	cancel(t, s, kept.ID, at2)
	q := invites.Quota{MaxSendsPerAddressPerDay: 1}
	if got := insertQ(t, s, at2, q, newInvite(tenantA, "old@x.com", at2), newInvite(tenantA, "kept@x.com", at2)); got != "sa" {
		t.Fatalf("sends to a pruned and a kept address under a limit of 1 = %q, want sa", got)
	}
}

// The store's ledger secret is long, made once and the same for every
// caller; two Services of one store that use it agree on the keys.
func testLedgerSecret(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	a, err := s.LedgerSecret(t.Context())
	if err != nil || len(a) < invites.MinLedgerSecret {
		t.Fatalf("LedgerSecret = %d bytes, %v; want at least %d", len(a), err, invites.MinLedgerSecret)
	}
	b, err := s.LedgerSecret(t.Context())
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("LedgerSecret again = %x, %v; want %x", b, err, a)
	}
	svc := func() *invites.Service {
		t.Helper()
		r := rules{Cooldown: time.Minute, Max: 3, TTL: ttl, Quota: invites.Quota{MaxSendsPerAddressPerDay: 1}}
		svc, err := r.service(s, t0, func(c *invites.Config) { c.LedgerSecret = nil })
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	res, err := svc().Send(t.Context(), as(tenantA), []invites.NewInvite{{Email: "kim@example.com"}})
	if err != nil || len(res.Success) != 1 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	cancel(t, s, res.Success[0].ID, t0)
	res, err = svc().Send(t.Context(), as(tenantA), []invites.NewInvite{{Email: "kim@example.com"}})
	if err != nil || len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeAddressLimit {
		t.Fatalf("Send by another Service of the store over the address limit = %+v, %v; want %s", res, err, invites.CodeAddressLimit)
	}
}

// MaxSendsPerAddressPerDayAllTenants counts an address's sends from every
// tenant, a batch's too, and applies to Insert and to a resend (through
// Facts.AllTenantSends); the per-tenant limit goes on beside it.
func testAddressLimitAllTenants(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	const tenantC = "initech"
	q := invites.Quota{MaxSendsPerAddressPerDay: 5, MaxSendsPerAddressPerDayAllTenants: 2}
	a := insertOne(t, s, t0, newInvite(tenantA, "kim@example.com", t0))
	at1 := t0.Add(time.Minute)
	if got := insertQ(t, s, at1, q, newInvite(tenantB, "Kim@example.com", at1), newInvite(tenantC, "kim@example.com", at1),
		newInvite(tenantC, "lee@example.com", at1)); got != "sas" {
		t.Fatalf("sends from tenants B and C to an address tenant A sent to, under a limit of 2 = %q, want sas", got)
	}
	if got := insertQ(t, s, at1, q, newInvite(tenantA, "max@example.com", at1), newInvite(tenantB, "max@example.com", at1),
		newInvite(tenantC, "max@example.com", at1)); got != "ssa" {
		t.Fatalf("one batch sending to one address from three tenants under a limit of 2 = %q, want ssa", got)
	}
	if f := decideFacts(t, s, a.ID, at1, "inviter", q); f.AddressSends != 1 || f.AllTenantSends != 2 {
		t.Fatalf("Facts = %d sends of the tenant, %d of all tenants; want 1 and 2", f.AddressSends, f.AllTenantSends)
	}
	r := rules{Cooldown: time.Minute, Max: 3, TTL: ttl, Quota: q}
	_, err := resend(t, s, a.ID, t0.Add(2*time.Minute), r)
	wantIs(t, "Resend of an address at the limit across tenants", err, invites.ErrQuotaExceeded)
	off := invites.Quota{MaxSendsPerAddressPerDay: 5}
	if got := insertQ(t, s, at1, off, newInvite(tenantC, "kim@example.com", at1)); got != "s" {
		t.Fatalf("a send without the limit across tenants = %q, want s", got)
	}
	later := t0.Add(24*time.Hour + 2*time.Minute)
	if got := insertQ(t, s, later, q, newInvite(tenantC, "max@example.com", later)); got != "s" {
		t.Fatalf("a send a day later = %q, want s", got)
	}
}

// Writers of many tenants sending to one address at once never make more
// sends than the limit across tenants: half send and cancel, half resend
// an invite of their own, sent before the window.
func testRaceAddressLimitAllTenants(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	const (
		limit   = 5
		writers = 16
		rounds  = 4
		email   = "kim@example.com"
	)
	q := invites.Quota{MaxSendsPerAddressPerDayAllTenants: limit}
	r := rules{Cooldown: time.Nanosecond, Max: 1000, TTL: ttl, Quota: q}
	before := t0.Add(-24 * time.Hour) // out of the window at t0 and after
	mine := make([]uuid.UUID, writers)
	for w := 1; w < writers; w += 2 {
		mine[w] = insertOne(t, s, before, newInvite(fmt.Sprintf("t%d", w), email, before, func(i *invites.Invite) {
			i.ExpiresAt = t0.Add(ttl)
		})).ID
	}
	var (
		wg    sync.WaitGroup
		ready sync.WaitGroup
		sent  atomic.Int64
		tick  atomic.Int64
		start = make(chan struct{})
	)
	for w := range writers {
		tenant := fmt.Sprintf("t%d", w)
		ready.Add(1)
		wg.Go(func() {
			if _, err := s.Stats(t.Context(), invites.StatsParams{Now: t0}); err != nil { // opens a pooled store's connection
				t.Error(err)
			}
			ready.Done()
			<-start
			for n := range rounds {
				if w%2 == 1 {
					at := t0.Add(time.Duration(tick.Add(1)) * time.Microsecond)
					svc, err := r.service(s, at, nil)
					if err != nil {
						t.Error(err)
						return
					}
					_, err = svc.Resend(t.Context(), as(tenant), mine[w])
					if err == nil {
						sent.Add(1)
					} else if !errors.Is(err, invites.ErrQuotaExceeded) {
						t.Errorf("Resend: %v", err)
					}
					continue
				}
				batch := addresses(tenant, fmt.Sprintf("w%d-%d-", w, n), t0, 10)
				batch = append(batch, newInvite(tenant, email, t0))
				res, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: batch, Quota: q})
				if err != nil {
					t.Errorf("Insert: %v", err)
					return
				}
				if id := res[len(res)-1].Invite.ID; id != uuid.Nil {
					sent.Add(1)
					if _, err := cancelIn(t.Context(), s, tenant, id, t0); err != nil {
						t.Errorf("Cancel: %v", err)
					}
				}
			}
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	if n := sent.Load(); n != limit {
		t.Fatalf("%d writers of %d tenants sending to one address under a limit of %d across tenants: %d sends went through", writers, writers, limit, n)
	}
}
