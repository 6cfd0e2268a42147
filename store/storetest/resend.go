package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var resendCases = []testCase{
	{"Resend/Success", testResendSuccess},
	{"Resend/Expired", testResendExpired},
	{"Resend/ExpiredStored", testResendExpiredStored},
	{"Resend/Refusals", testResendRefusals},
	{"Resend/CooldownBoundary", testResendCooldownBoundary},
	{"Resend/Max", testResendMax},
	{"Resend/SupersedesQueued", testResendSupersedesQueued},
	{"Resend/SupersedesInFlight", testResendSupersedesInFlight},
	{"Resend/NotFound", testResendNotFound},
}

// resendOK resends tenantA's invite id through a Service at now under r
// and checks the renewed fields.
func resendOK(t *testing.T, s invites.Store, id uuid.UUID, now time.Time, r rules) invites.Invite {
	t.Helper()
	before := get(t, s, tenantA, id)
	got, err := resend(t, s, id, now, r)
	if err != nil {
		t.Fatalf("Resend at %s: %v", now, err)
	}
	want := before
	want.Status, want.SendCount = invites.StatusPending, before.SendCount+1
	want.LastSentAt, want.StatusUpdatedAt, want.UpdatedAt, want.ExpiresAt = now, now, now, now.Add(r.TTL)
	// The latest email is the queued reminder; its error is not specified.
	want.DeliveryStatus, want.DeliveryError = invites.DeliveryQueued, got.DeliveryError
	checkInvite(t, "Resend result", got, want)
	checkInvite(t, "Get after Resend", get(t, s, tenantA, id), want)
	return got
}

func testResendSuccess(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "re@x.com", t0))
	// Two attempts of the first email, each with its own token.
	var old [][]byte
	for attempt := 1; attempt <= 2; attempt++ {
		at := t0.Add(time.Duration(attempt) * time.Second)
		d := claimOne(t, s, at, time.Second, inv.ID, attempt)
		old = append(old, d.digest)
		complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: at.Add(time.Second), Error: "421"})
	}
	now := t0.Add(2 * time.Minute)
	resendOK(t, s, inv.ID, now, rule)

	for i, digest := range old {
		_, err := s.Lookup(ctx, invites.LookupParams{Digest: digest})
		wantIs(t, fmt.Sprintf("Lookup of token %d from before the Resend", i+1), err, invites.ErrInvalidToken)
		_, err = accept(ctx, s, digest, "u", now, okHook)
		wantIs(t, fmt.Sprintf("Accept of token %d from before the Resend", i+1), err, invites.ErrInvalidToken)
	}

	ds := claim(t, s, now, 100, lease)
	if len(ds) != 1 || ds[0].InviteID != inv.ID || ds[0].Kind != invites.KindReminder || ds[0].TenantID != tenantA {
		t.Fatalf("ClaimDeliveries after a Resend = %+v, want one %s delivery of invite %s", ds, invites.KindReminder, inv.ID)
	}
	digest := ds[0].digest
	if got, err := s.Lookup(ctx, invites.LookupParams{Digest: digest}); err != nil || got.ID != inv.ID {
		t.Fatalf("Lookup of the reminder's token: invite %s, error %v; want %s", got.ID, err, inv.ID)
	}
	if _, err := accept(ctx, s, digest, "u", now, okHook); err != nil {
		t.Fatalf("Accept with the reminder's token: %v", err)
	}
}

func testResendExpired(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "old@x.com", stExpired)
	got := resendOK(t, s, p.inv.ID, p.now, rule)
	if got.StatusAt(p.now) != invites.StatusPending {
		t.Fatalf("a resent expired invite reads as %s, want pending", got.StatusAt(p.now))
	}
	digest := mint(t, s, p.now, p.inv.ID)
	if _, err := accept(t.Context(), s, digest, "u", p.now, okHook); err != nil {
		t.Fatalf("Accept of a resent expired invite: %v", err)
	}
}

// An invite Insert marked expired can be resent only once the address has
// no other pending invite.
func testResendExpiredStored(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	p := prepare(t, s, "twice@x.com", stExpiredStored)
	_, err := resend(t, s, p.inv.ID, p.now, rule)
	wantIs(t, "Resend of an expired invite whose address has a new pending invite", err, invites.ErrAlreadyInvited)
	checkInvite(t, "Get after a refused Resend", get(t, s, tenantA, p.inv.ID), p.inv)

	newer := insert(t, s, p.now, newInvite(tenantA, "twice@x.com", p.now))[0].Existing
	if newer == uuid.Nil {
		t.Fatalf("the newer invite of the address is not pending")
	}
	if _, err := cancelIn(ctx, s, tenantA, newer, p.now); err != nil {
		t.Fatalf("Cancel of the newer invite: %v", err)
	}
	resendOK(t, s, p.inv.ID, p.now, rule)
	res := insert(t, s, p.now, newInvite(tenantA, "twice@x.com", p.now))
	if res[0].Existing != p.inv.ID {
		t.Fatalf("Insert after the old invite was resent: Existing = %s, want %s", res[0].Existing, p.inv.ID)
	}
}

// The Service's refusals of a Resend, in its order, on the facts the store
// gives its Decide; the store's ErrAlreadyInvited comes last, at the
// write. An invite made with SendCount 2 has had one resend, all that
// Max 1 allows.
func testResendRefusals(t *testing.T, newStore func(*testing.T) invites.Store) {
	never := 1000 * time.Hour // a cooldown that has not passed
	resent := func(i *invites.Invite) { i.SendCount = 2 }
	addr := invites.Quota{MaxSendsPerAddressPerDay: 1} // the address's latest invite was a send in the day
	cases := []struct {
		name    string
		state   string
		opts    []func(*invites.Invite)
		rule    rules
		want    error
		status  invites.Status // for NotPendingError
		waitFor time.Duration  // for ResendTooSoonError: RetryAfter
	}{
		{"accepted before too many and too soon", stAccepted, []func(*invites.Invite){resent}, rules{Cooldown: never, Max: 1, TTL: ttl, Quota: addr}, invites.ErrNotPending, invites.StatusAccepted, 0},
		{"declined", stDeclined, []func(*invites.Invite){resent}, rules{Cooldown: never, Max: 1, TTL: ttl}, invites.ErrNotPending, invites.StatusDeclined, 0},
		{"canceled", stCanceled, []func(*invites.Invite){resent}, rules{Cooldown: never, Max: 1, TTL: ttl}, invites.ErrNotPending, invites.StatusCanceled, 0},
		{"too many before too soon", stPending, []func(*invites.Invite){resent}, rules{Cooldown: never, Max: 1, TTL: ttl}, invites.ErrTooManyResends, "", 0},
		{"too many on expired", stExpired, []func(*invites.Invite){resent}, rules{Cooldown: time.Minute, Max: 1, TTL: ttl}, invites.ErrTooManyResends, "", 0},
		{"too soon", stPending, nil, rules{Cooldown: time.Hour + 90*time.Second, Max: 5, TTL: ttl}, invites.ErrResendTooSoon, "", 90 * time.Second},
		{"too soon before the quota", stPending, nil, rules{Cooldown: time.Hour + 90*time.Second, Max: 5, TTL: ttl, Quota: invites.Quota{MaxSendsPerAddressPerDay: 1}}, invites.ErrResendTooSoon, "", 90 * time.Second},
		{"too many before already invited", stExpiredStored, []func(*invites.Invite){resent}, rules{Cooldown: time.Minute, Max: 1, TTL: ttl}, invites.ErrTooManyResends, "", 0},
		{"too soon before already invited", stExpiredStored, nil, rules{Cooldown: ttl + 2*time.Hour, Max: 5, TTL: ttl}, invites.ErrResendTooSoon, "", time.Hour},
		{"quota before already invited", stExpiredStored, nil, rules{Cooldown: time.Minute, Max: 5, TTL: ttl, Quota: addr}, invites.ErrQuotaExceeded, "", 0},
		{"already invited", stExpiredStored, nil, rules{Cooldown: time.Minute, Max: 5, TTL: ttl, Quota: invites.Quota{MaxSendsPerAddressPerDay: 3}}, invites.ErrAlreadyInvited, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := t.Context()
			p := prepare(t, s, "refuse@x.com", c.state, c.opts...)
			_, err := resend(t, s, p.inv.ID, p.now, c.rule)
			what := "Resend of a " + c.state + " invite"
			switch c.want {
			case invites.ErrNotPending:
				wantNotPending(t, what, err, c.status)
			case invites.ErrResendTooSoon:
				var soon *invites.ResendTooSoonError
				if !errors.As(err, &soon) || !errors.Is(err, invites.ErrResendTooSoon) {
					t.Fatalf("%s: got error %v, want *ResendTooSoonError", what, err)
				}
				if soon.RetryAfter != c.waitFor {
					t.Fatalf("%s: RetryAfter = %s, want %s (LastSentAt+Cooldown-now)", what, soon.RetryAfter, c.waitFor)
				}
			default:
				wantIs(t, what, err, c.want)
			}
			checkInvite(t, "Get after a refused Resend", get(t, s, tenantA, p.inv.ID), p.inv)
			if _, err := s.Lookup(ctx, invites.LookupParams{Digest: p.digest}); err != nil {
				t.Fatalf("a refused Resend killed the token: Lookup: %v", err)
			}
		})
	}
}

func testResendCooldownBoundary(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "edge@x.com", stPending)
	_, err := resend(t, s, p.inv.ID, t0.Add(rule.Cooldown-time.Microsecond), rule)
	var soon *invites.ResendTooSoonError
	if !errors.As(err, &soon) || soon.RetryAfter != time.Microsecond {
		t.Fatalf("Resend a microsecond before the cooldown ends: got %v, want *ResendTooSoonError{1µs}", err)
	}
	resendOK(t, s, p.inv.ID, t0.Add(rule.Cooldown), rule) // LastSentAt+Cooldown not after now
}

func testResendMax(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "max@x.com", stPending)
	r := rules{Cooldown: time.Minute, Max: 2, TTL: ttl}
	resendOK(t, s, p.inv.ID, t0.Add(time.Minute), r)
	resendOK(t, s, p.inv.ID, t0.Add(2*time.Minute), r)
	_, err := resend(t, s, p.inv.ID, t0.Add(time.Hour), r)
	wantIs(t, "third Resend with Max 2", err, invites.ErrTooManyResends)
	if got := get(t, s, tenantA, p.inv.ID); got.SendCount != 3 {
		t.Fatalf("SendCount = %d after two resends, want 3", got.SendCount)
	}
}

// A Resend before the first delivery ran supersedes it: the claim drops
// the invitation and hands out the reminder.
func testResendSupersedesQueued(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "q@x.com", t0))
	now := t0.Add(rule.Cooldown)
	resendOK(t, s, inv.ID, now, rule)
	cs := claim(t, s, now, 100, lease)
	if len(cs) != 1 || cs[0].InviteID != inv.ID || cs[0].Kind != invites.KindReminder {
		t.Fatalf("claimed %+v after one Resend, want the reminder only", cs)
	}
	if cs := claim(t, s, now.Add(time.Hour), 100, lease); len(cs) != 1 || cs[0].Kind != invites.KindReminder {
		t.Fatalf("ClaimDeliveries after the lease = %+v; want only the reminder again (the invitation is dropped)", cs)
	}
}

// A Resend while the invitation is in a worker's hands: the old link dies,
// the worker's claim no longer holds, and its outcome changes nothing (it
// neither marks the reminder sent nor writes an event).
func testResendSupersedesInFlight(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "f@x.com", t0))
	first := claimOne(t, s, t0, time.Hour, inv.ID, 1)
	now := t0.Add(rule.Cooldown)
	resendOK(t, s, inv.ID, now, rule)
	_, err := s.Lookup(ctx, invites.LookupParams{Digest: first.digest})
	wantIs(t, "Lookup of the superseded invitation's token", err, invites.ErrInvalidToken)
	lost, err := s.RenewDeliveries(ctx, invites.RenewParams{Now: now, Lease: lease, Deliveries: []invites.Delivery{first.Delivery}})
	if err != nil || len(lost) != 1 || lost[0] != first.ID {
		t.Fatalf("RenewDeliveries of the superseded invitation = %v, %v; want it lost", lost, err)
	}
	events := histOf(t, s, inv.ID)
	complete(t, s, first.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: now})
	history(t, s, tenantA, inv.ID, events...)
	if got := get(t, s, tenantA, inv.ID); got.DeliveryStatus != invites.DeliveryQueued {
		t.Fatalf("DeliveryStatus = %s after the superseded invitation completed, want queued (the reminder has not gone out)", got.DeliveryStatus)
	}
	if _, ok := mintAll(t, s, now)[inv.ID]; !ok {
		t.Fatalf("the reminder was not claimable after the Resend")
	}
}

func testResendNotFound(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	now := t0.Add(time.Hour)
	_, err := rule.at(t, s, now).Resend(t.Context(), as(tenantB), inv.ID)
	wantIs(t, "Resend of another tenant's invite", err, invites.ErrNotFound)
	_, err = resend(t, s, uuid.Must(uuid.NewV7()), now, rule)
	wantIs(t, "Resend of a missing invite", err, invites.ErrNotFound)
	checkInvite(t, "Get after a refused Resend", get(t, s, tenantA, inv.ID), inv)
}
