package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Change's mechanics, as the Service relies on them whatever its rules.
var changeCases = []testCase{
	{"Change/Counts", testChangeCounts},
	{"Change/Edit", testChangeEdit},
	{"Change/RuleError", testChangeRuleError},
	{"Change/Hook", testChangeHook},
	{"Change/Renew", testChangeRenew},
	{"Change/RenewExpiresStale", testChangeRenewExpiresStale},
}

// decideFacts runs a Change of tenantA's invite id at now by actor whose
// Decide records its Facts and refuses, and returns the Facts.
func decideFacts(t *testing.T, s invites.Store, id uuid.UUID, now time.Time, actor string, count invites.Quota) invites.Facts {
	t.Helper()
	var got []invites.Facts
	_, err := s.Change(t.Context(), invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: id, ActorID: actor, Count: count,
		Decide: func(_ context.Context, f invites.Facts) (invites.Edit, error) {
			got = append(got, f)
			return invites.Edit{}, errNo
		}})
	wantIs(t, "Change whose Decide refused", err, errNo)
	if len(got) != 1 {
		t.Fatalf("Change asked its Decide %d times, want once", len(got))
	}
	return got[0]
}

// Decide gets the counts Count asks for, each alone or all together: the
// sends (creates and resends, not cancels) to the address in the tenant
// in the 24 hours up to Now, those by the actor in the tenant in the hour
// up to Now (both windows open at their start), and the tenant's invites
// pending and live at Now.
func testChangeCounts(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	admin := as(tenantA).UserID
	by := func(user string, exp time.Time) func(*invites.Invite) {
		return func(i *invites.Invite) {
			i.CreatedByUserID = user
			if !exp.IsZero() {
				i.ExpiresAt = exp
			}
		}
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// The address: a send exactly 24 hours before Now (out), one 23 hours
	// before (in, under another spelling), then the invite counted on,
	// created two hours before Now and resent by admin half an hour before.
	k1 := insertOne(t, s, at(-24*time.Hour), newInvite(tenantA, "kim@x.com", at(-24*time.Hour), by("ann", time.Time{})))
	if _, err := cancelIn(ctx, s, tenantA, k1.ID, at(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	k2 := insertOne(t, s, at(-23*time.Hour), newInvite(tenantA, "Kim@X.com", at(-23*time.Hour), by("bob", time.Time{})))
	if _, err := cancelIn(ctx, s, tenantA, k2.ID, at(-23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	k3 := insertOne(t, s, at(-2*time.Hour), newInvite(tenantA, "kim@x.com", at(-2*time.Hour), by("ann", time.Time{})))
	if _, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: at(-30 * time.Minute), TenantID: tenantA, ID: k3.ID, ActorID: admin,
		Decide: func(context.Context, invites.Facts) (invites.Edit, error) {
			return renewEdit(at(-30 * time.Minute)), nil
		}}); err != nil {
		t.Fatalf("renewal of the invite counted on: %v", err)
	}
	// Admin's sends: one exactly an hour before Now (out), one ten
	// minutes before (in), one in another tenant (out); the address in
	// another tenant (out); a pending invite whose ExpiresAt is Now (not
	// live).
	insertOne(t, s, at(-time.Hour), newInvite(tenantA, "o1@x.com", at(-time.Hour), by(admin, time.Time{})))
	insertOne(t, s, at(-10*time.Minute), newInvite(tenantA, "o2@x.com", at(-10*time.Minute), by(admin, time.Time{})))
	insertOne(t, s, at(-5*time.Minute), newInvite(tenantB, "o3@x.com", at(-5*time.Minute), by(admin, time.Time{})))
	insertOne(t, s, at(-5*time.Minute), newInvite(tenantB, "kim@x.com", at(-5*time.Minute), by("ann", time.Time{})))
	insertOne(t, s, at(-3*time.Hour), newInvite(tenantA, "x1@x.com", at(-3*time.Hour), by("ann", t0)))

	want := invites.Facts{Invite: get(t, s, tenantA, k3.ID), AddressSends: 3, UserSends: 2, TenantPending: 3}
	all := invites.Quota{MaxPending: 100, MaxSendsPerHour: 100, MaxSendsPerAddressPerDay: 100}
	f := decideFacts(t, s, k3.ID, t0, admin, all)
	checkInvite(t, "Facts.Invite", f.Invite, want.Invite)
	if f.AddressSends != want.AddressSends || f.UserSends != want.UserSends || f.TenantPending != want.TenantPending {
		t.Fatalf("Facts with every count asked: AddressSends %d, UserSends %d, TenantPending %d; want %d, %d, %d",
			f.AddressSends, f.UserSends, f.TenantPending, want.AddressSends, want.UserSends, want.TenantPending)
	}
	for _, c := range []struct {
		name  string
		count invites.Quota
		got   func(invites.Facts) int
		want  int
	}{
		{"AddressSends", invites.Quota{MaxSendsPerAddressPerDay: 1}, func(f invites.Facts) int { return f.AddressSends }, want.AddressSends},
		{"UserSends", invites.Quota{MaxSendsPerHour: 1}, func(f invites.Facts) int { return f.UserSends }, want.UserSends},
		{"TenantPending", invites.Quota{MaxPending: 1}, func(f invites.Facts) int { return f.TenantPending }, want.TenantPending},
	} {
		if got := c.got(decideFacts(t, s, k3.ID, t0, admin, c.count)); got != c.want {
			t.Fatalf("Facts.%s asked alone = %d, want %d", c.name, got, c.want)
		}
	}
	// Another actor has no sends; the counts do not depend on the invite.
	if f := decideFacts(t, s, k3.ID, t0, "nobody", all); f.UserSends != 0 {
		t.Fatalf("Facts.UserSends of an actor who sent nothing = %d", f.UserSends)
	}
}

// An Edit writes what it sets: the status (and then StatusUpdatedAt), the
// acceptor, the fields, UpdatedAt always, and its event by ActorID; an
// Edit that keeps the status keeps StatusUpdatedAt, and one without an
// event writes none. From applies it the same.
func testChangeEdit(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "edit@x.com", t0, func(i *invites.Invite) { i.Data = json.RawMessage(`{"a":1}`) }))
	steps := []struct {
		name   string
		p      invites.ChangeParams
		change func(*invites.Invite, time.Time)
		event  *ev
	}{
		{"status, acceptor, fields and event", invites.ChangeParams{LedgerKey: ledgerKey, ActorID: "actor-1"},
			func(i *invites.Invite, now time.Time) {
				i.Status, i.StatusUpdatedAt, i.AcceptedByUserID = invites.StatusAccepted, now, "user-9"
				i.FirstName, i.Roles, i.Data = "Neo", []string{"x"}, nil
			}, &ev{invites.EventAccepted, "actor-1", t0.Add(time.Hour)}},
		{"fields only, no event", invites.ChangeParams{LedgerKey: ledgerKey, ActorID: "actor-2"},
			func(i *invites.Invite, _ time.Time) { i.LastName = "Z" }, nil},
		{"by From", invites.ChangeParams{LedgerKey: ledgerKey, ActorID: "actor-3", From: []invites.Status{invites.StatusAccepted},
			Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}},
			func(i *invites.Invite, now time.Time) { i.Status, i.StatusUpdatedAt = invites.StatusCanceled, now },
			&ev{invites.EventCanceled, "actor-3", t0.Add(3 * time.Hour)}},
	}
	edits := []invites.Edit{
		{Status: invites.StatusAccepted, AcceptedByUserID: "user-9", Event: invites.EventAccepted,
			Fields: invites.Update{FirstName: strp("Neo"), Roles: []string{"x"}, Data: json.RawMessage(`null`)}},
		{Fields: invites.Update{LastName: strp("Z")}},
	}
	want := inv
	events := histOf(t, s, inv.ID)
	for k, st := range steps {
		now := t0.Add(time.Duration(k+1) * time.Hour)
		p := st.p
		p.Now, p.TenantID, p.ID = now, tenantA, inv.ID
		if k < len(edits) {
			e := edits[k]
			p.Decide = func(context.Context, invites.Facts) (invites.Edit, error) { return e, nil }
		}
		got, err := s.Change(t.Context(), p)
		if err != nil {
			t.Fatalf("Change %s: %v", st.name, err)
		}
		st.change(&want, now)
		want.UpdatedAt = now
		checkInvite(t, "Change "+st.name+" result", got, want)
		checkInvite(t, "Get after Change "+st.name, get(t, s, tenantA, inv.ID), want)
		if st.event != nil {
			events = append(events, *st.event)
		}
		history(t, s, tenantA, inv.ID, events...)
	}
}

// A From or Live that does not hold changes nothing and answers a
// *RuleError with the invite as stored: still pending when merely past
// ExpiresAt, expired when stored so. Neither Hook nor event follows.
func testChangeRuleError(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	soon := insertOne(t, s, t0, newInvite(tenantA, "soon@x.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) }))
	digests := mintAll(t, s, t0)
	soon = get(t, s, tenantA, soon.ID)
	stored := prepare(t, s, "stored@x.com", stExpiredStored)
	declined := prepare(t, s, "no@x.com", stDeclined)
	hook := func(context.Context, invites.Invite) error { t.Error("Hook called on a refused change"); return nil }
	cancelEdit := invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}
	for _, c := range []struct {
		name string
		p    invites.ChangeParams
		want invites.Invite
	}{
		{"From not holding", invites.ChangeParams{LedgerKey: ledgerKey, Now: t0.Add(time.Minute), TenantID: tenantA, ID: soon.ID,
			From: []invites.Status{invites.StatusAccepted, invites.StatusDeclined}, Edit: cancelEdit}, soon},
		{"Live at ExpiresAt", invites.ChangeParams{LedgerKey: ledgerKey, Now: soon.ExpiresAt, Digest: digests[soon.ID],
			From: []invites.Status{invites.StatusPending}, Live: true, Edit: cancelEdit}, soon},
		{"stored expired", invites.ChangeParams{LedgerKey: ledgerKey, Now: stored.now, Digest: stored.digest,
			From: []invites.Status{invites.StatusPending}, Live: true, Edit: cancelEdit}, stored.inv},
		{"declined, by digest", invites.ChangeParams{LedgerKey: ledgerKey, Now: declined.now, Digest: declined.digest,
			From: []invites.Status{invites.StatusPending}, Live: true, Edit: cancelEdit}, declined.inv},
	} {
		events := histOf(t, s, c.want.ID)
		c.p.ActorID, c.p.Hook = "actor", hook
		_, err := s.Change(ctx, c.p)
		var re *invites.RuleError
		if !errors.As(err, &re) {
			t.Fatalf("Change, %s: %v, want *RuleError", c.name, err)
		}
		checkInvite(t, "RuleError.Invite, "+c.name, re.Invite, c.want)
		checkInvite(t, "Get after "+c.name, get(t, s, tenantA, c.want.ID), c.want)
		history(t, s, tenantA, c.want.ID, events...)
	}
	// A microsecond before ExpiresAt the invite is live.
	if _, err := accept(ctx, s, digests[soon.ID], "u", soon.ExpiresAt.Add(-time.Microsecond), nil); err != nil {
		t.Fatalf("Live change a microsecond before ExpiresAt: %v", err)
	}
}

// A Hook sees the invite as changed, before the change commits; its error
// comes back as it is and undoes the whole change, a renewal's new
// delivery and forgotten tokens included.
func testChangeHook(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	p := prepare(t, s, "hook@x.com", stPending)
	now := p.now
	var seen []invites.Invite
	got, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: p.inv.ID, ActorID: "actor",
		Decide: func(context.Context, invites.Facts) (invites.Edit, error) {
			return invites.Edit{Fields: invites.Update{FirstName: strp("Hooked")}}, nil
		},
		Hook: func(_ context.Context, inv invites.Invite) error { seen = append(seen, inv); return nil }})
	if err != nil || len(seen) != 1 {
		t.Fatalf("Change with a Hook: %v, Hook called %d times; want once", err, len(seen))
	}
	checkInvite(t, "the invite the Hook saw", seen[0], got)
	if seen[0].FirstName != "Hooked" || !sameTime(seen[0].UpdatedAt, now) {
		t.Fatalf("the Hook saw FirstName %q, UpdatedAt %s; want the change", seen[0].FirstName, seen[0].UpdatedAt)
	}

	before := get(t, s, tenantA, p.inv.ID)
	events := histOf(t, s, p.inv.ID)
	later := now.Add(time.Hour)
	for name, cp := range map[string]invites.ChangeParams{
		"renewal": {Decide: func(context.Context, invites.Facts) (invites.Edit, error) { return renewEdit(later), nil }},
		"cancel":  {From: []invites.Status{invites.StatusPending}, Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}},
	} {
		cp.Now, cp.TenantID, cp.ID, cp.ActorID, cp.LedgerKey = later, tenantA, p.inv.ID, "actor", ledgerKey
		var hooked invites.Invite
		cp.Hook = func(_ context.Context, inv invites.Invite) error {
			hooked = inv
			return fmt.Errorf("wrapped: %w", errNo)
		}
		_, err := s.Change(ctx, cp)
		wantIs(t, "Change ("+name+") whose Hook failed", err, errNo)
		if hooked.Status == before.Status && hooked.SendCount == before.SendCount {
			t.Fatalf("the Hook of the %s saw the invite unchanged", name)
		}
		checkInvite(t, "Get after a failed Hook ("+name+")", get(t, s, tenantA, p.inv.ID), before)
		history(t, s, tenantA, p.inv.ID, events...)
		if _, err := s.Lookup(ctx, invites.LookupParams{Digest: p.digest}); err != nil {
			t.Fatalf("a %s undone by its Hook forgot the token: %v", name, err)
		}
	}
	claimNone(t, s, later, "the renewal undone by its Hook queued no reminder")
}

// A renewal forgets every token, clears the delivery error, takes the
// Edit's ExpiresAt, and its reminder supersedes the delivery queued
// before it; a live pending invite of the address makes it
// ErrAlreadyInvited, changing nothing.
func testChangeRenew(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	a := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	d1 := claimOne(t, s, t0, time.Second, a.ID, 1)
	complete(t, s, d1.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: t0.Add(time.Second), Error: "421", At: t0})
	d2 := claimOne(t, s, t0.Add(time.Second), time.Second, a.ID, 2)
	complete(t, s, d2.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "550", At: t0.Add(time.Second)})
	b := insertOne(t, s, t0.Add(time.Minute), newInvite(tenantA, "b@x.com", t0.Add(time.Minute))) // its invitation still queued

	now := t0.Add(time.Hour)
	exp := now.Add(3 * time.Hour)
	for _, inv := range []invites.Invite{a, b} {
		before := get(t, s, tenantA, inv.ID)
		got, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: inv.ID, ActorID: "renewer",
			Decide: func(context.Context, invites.Facts) (invites.Edit, error) {
				return invites.Edit{Renew: true, ExpiresAt: exp, Event: invites.EventResent}, nil
			}})
		if err != nil {
			t.Fatalf("renewal of %s: %v", inv.Email, err)
		}
		want := before
		want.SendCount, want.LastSentAt, want.StatusUpdatedAt, want.UpdatedAt, want.ExpiresAt = before.SendCount+1, now, now, now, exp
		want.DeliveryStatus, want.DeliveryError = invites.DeliveryQueued, ""
		checkInvite(t, "renewal of "+inv.Email, got, want)
		checkInvite(t, "Get after the renewal of "+inv.Email, get(t, s, tenantA, inv.ID), want)
	}
	for i, d := range [][]byte{d1.digest, d2.digest} {
		_, err := s.Lookup(ctx, invites.LookupParams{Digest: d})
		wantIs(t, fmt.Sprintf("Lookup of token %d after the renewal", i+1), err, invites.ErrInvalidToken)
	}
	history(t, s, tenantA, a.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventDeliveryFailed, "", t0.Add(time.Second)},
		ev{invites.EventResent, "renewer", now})
	cs := claim(t, s, now, 100, lease)
	if len(cs) != 2 || cs[0].Kind != invites.KindReminder || cs[1].Kind != invites.KindReminder {
		t.Fatalf("claimed %+v after two renewals, want their two reminders only", cs)
	}

	// A canceled invite of an address that has a live one stays as it is.
	l := insertOne(t, s, t0, newInvite(tenantA, "lee@x.com", t0))
	if _, err := cancelIn(ctx, s, tenantA, l.ID, t0); err != nil {
		t.Fatal(err)
	}
	insertOne(t, s, t0, newInvite(tenantA, "LEE@x.com", t0))
	l = get(t, s, tenantA, l.ID)
	events := histOf(t, s, l.ID)
	_, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: l.ID, ActorID: "renewer",
		Decide: func(context.Context, invites.Facts) (invites.Edit, error) { return renewEdit(now), nil }})
	wantIs(t, "renewal of an address with a live pending invite", err, invites.ErrAlreadyInvited)
	checkInvite(t, "Get after a renewal refused", get(t, s, tenantA, l.ID), l)
	history(t, s, tenantA, l.ID, events...)
}

// A renewal first marks expired a pending invite of the same address past
// its ExpiresAt, dated then, as Insert does.
func testChangeRenewExpiresStale(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	r := insertOne(t, s, t0, newInvite(tenantA, "kim@x.com", t0))
	if _, err := cancelIn(t.Context(), s, tenantA, r.ID, t0); err != nil {
		t.Fatal(err)
	}
	stale := insertOne(t, s, t0, newInvite(tenantA, "Kim@x.com", t0, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) }))
	now := t0.Add(2 * time.Hour)
	got, err := s.Change(t.Context(), invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: r.ID, ActorID: "renewer",
		Decide: func(context.Context, invites.Facts) (invites.Edit, error) { return renewEdit(now), nil }})
	if err != nil || got.Status != invites.StatusPending {
		t.Fatalf("renewal beside a stale invite of the address: status %s, %v; want pending", got.Status, err)
	}
	want := stale
	want.Status, want.StatusUpdatedAt = invites.StatusExpired, stale.ExpiresAt
	g := get(t, s, tenantA, stale.ID)
	want.UpdatedAt = g.UpdatedAt // when a store marks it is its own
	checkInvite(t, "the stale invite after the renewal", g, want)
	history(t, s, tenantA, stale.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventExpired, "", stale.ExpiresAt})
}
