package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Change's Decide: the Service's rules (Config.Authorize first), asked
// under the change's lock on the invite as stored.
var decideCases = []testCase{
	{"Decide/AuthorizeRefusesFirst", testAuthorizeRefusesFirst},
	{"Decide/RefusalChangesNothing", testDecideRefusalChangesNothing},
	{"Decide/SeesTheStoredInvite", testDecideSeesStoredInvite},
	{"Decide/NotFoundBeforeDecide", testNotFoundBeforeDecide},
	{"Race/DecideHoldsForTheWrite", testRaceDecideHoldsForWrite},
}

var errNo = errors.New("storetest: the host says no")

// guarded are the Service's three guarded writes of tenantA's invite id.
func guarded(svc *invites.Service, id uuid.UUID) map[string]func(context.Context) (invites.Invite, error) {
	name := "Guarded"
	return map[string]func(context.Context) (invites.Invite, error){
		"Update": func(ctx context.Context) (invites.Invite, error) {
			return svc.Update(ctx, as(tenantA), id, invites.Update{FirstName: &name, Roles: []string{"owner"}})
		},
		"Cancel": func(ctx context.Context) (invites.Invite, error) { return svc.Cancel(ctx, as(tenantA), id) },
		"Resend": func(ctx context.Context) (invites.Invite, error) { return svc.Resend(ctx, as(tenantA), id) },
	}
}

// A refusing Config.Authorize wins over every other refusal (here: resend
// too soon, too many resends, over quota; update and cancel of a final
// invite), its error comes back as it is, and nothing changes.
func testAuthorizeRefusesFirst(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, final := range []bool{false, true} {
		s := newStore(t)
		inv := insertOne(t, s, t0, newInvite(tenantA, "guard@x.com", t0, func(i *invites.Invite) { i.SendCount = 2 }))
		if final {
			if _, err := cancelIn(t.Context(), s, tenantA, inv.ID, t0); err != nil {
				t.Fatal(err)
			}
		}
		before := get(t, s, tenantA, inv.ID)
		events := []ev{{invites.EventCreated, inv.CreatedByUserID, t0}}
		if final {
			events = append(events, ev{invites.EventCanceled, as(tenantA).UserID, t0})
		}
		strict := rules{Cooldown: time.Hour, Max: 1, TTL: ttl, Quota: invites.Quota{MaxSendsPerHour: 1, MaxSendsPerAddressPerDay: 1}}
		svc, err := strict.service(s, t0.Add(time.Second), func(c *invites.Config) {
			c.Authorize = func(context.Context, invites.Actor, invites.Op, *invites.Invite) error {
				return fmt.Errorf("wrapped: %w", errNo)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for op, write := range guarded(svc, inv.ID) {
			if _, err := write(t.Context()); !errors.Is(err, errNo) {
				t.Errorf("%s (final %t) with a refusing Authorize: %v, want its error", op, final, err)
			}
		}
		checkInvite(t, "after the refused writes", get(t, s, tenantA, inv.ID), before)
		history(t, s, tenantA, inv.ID, events...)
	}
}

// An error of Decide comes back as it is, whatever Decide was shown and
// Count asked for, and nothing changes: no field, no event, no token.
func testDecideRefusalChangesNothing(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, st := range []string{stPending, stCanceled, stExpired} {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			p := prepare(t, s, "no@x.com", st)
			before := get(t, s, tenantA, p.inv.ID)
			events := histOf(t, s, p.inv.ID)
			all := invites.Quota{MaxPending: 100, MaxSendsPerHour: 100, MaxSendsPerAddressPerDay: 100}
			for _, count := range []invites.Quota{{}, all} {
				_, err := s.Change(t.Context(), invites.ChangeParams{LedgerKey: ledgerKey, Now: p.now, TenantID: tenantA, ID: p.inv.ID,
					ActorID: as(tenantA).UserID, Count: count,
					Decide: func(context.Context, invites.Facts) (invites.Edit, error) {
						return invites.Edit{}, fmt.Errorf("wrapped: %w", errNo)
					},
					Hook: func(context.Context, invites.Invite) error { t.Error("Hook called after Decide refused"); return nil }})
				if !errors.Is(err, errNo) {
					t.Fatalf("Change whose Decide refused (Count %+v): %v, want Decide's error", count, err)
				}
			}
			checkInvite(t, "Get after a refused Decide", get(t, s, tenantA, p.inv.ID), before)
			history(t, s, tenantA, p.inv.ID, events...)
			if _, err := s.Lookup(t.Context(), invites.LookupParams{Digest: p.digest}); err != nil {
				t.Fatalf("a refused Decide killed the token: %v", err)
			}
		})
	}
}

// histOf is the history of tenantA's invite id as ev values.
func histOf(t *testing.T, s invites.Store, id uuid.UUID) []ev {
	t.Helper()
	es, err := s.History(t.Context(), invites.HistoryParams{TenantID: tenantA, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return evsOf(es)
}

func evsOf(es []invites.Event) []ev {
	out := make([]ev, len(es))
	for i, e := range es {
		out[i] = ev{e.Type, e.ActorID, e.At}
	}
	return out
}

// Decide is shown the invite as stored (not as the Service reads it: one
// past its expiry is still pending), once, whether or not Count asks for
// counts; so is a Hook after a refused From not asked.
func testDecideSeesStoredInvite(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "seen@x.com", t0, func(i *invites.Invite) {
		i.Roles = []string{"admin", "member"}
		i.ExpiresAt = t0.Add(time.Minute)
	}))
	now := t0.Add(time.Hour) // past ExpiresAt
	for _, count := range []invites.Quota{{}, {MaxPending: 1, MaxSendsPerHour: 1, MaxSendsPerAddressPerDay: 1}} {
		var seen []invites.Invite
		_, err := s.Change(t.Context(), invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: inv.ID, ActorID: "someone", Count: count,
			Decide: func(_ context.Context, f invites.Facts) (invites.Edit, error) {
				seen = append(seen, f.Invite)
				return invites.Edit{}, errNo
			}})
		wantIs(t, "Change whose Decide refused", err, errNo)
		if len(seen) != 1 {
			t.Fatalf("Change (Count %+v) asked its Decide %d times, want once", count, len(seen))
		}
		checkInvite(t, "Decide saw", seen[0], inv)
	}
}

// An invite of another tenant, or none, is ErrNotFound and an unknown
// digest ErrInvalidToken, and neither Decide nor Hook is asked.
func testNotFoundBeforeDecide(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantB, "other@x.com", t0))
	mint(t, s, t0, inv.ID)
	before := get(t, s, tenantB, inv.ID)
	asked := false
	decide := func(context.Context, invites.Facts) (invites.Edit, error) { asked = true; return renewEdit(t0), nil }
	hook := func(context.Context, invites.Invite) error { asked = true; return nil }
	for _, p := range []invites.ChangeParams{
		{TenantID: tenantA, ID: inv.ID, Decide: decide, Hook: hook},
		{TenantID: tenantA, ID: uuid.Must(uuid.NewV7()), Decide: decide, Hook: hook},
		{TenantID: tenantA, ID: inv.ID, From: []invites.Status{invites.StatusPending}, Hook: hook,
			Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}},
		{TenantID: tenantA, ID: inv.ID, Count: invites.Quota{MaxPending: 1, MaxSendsPerHour: 1, MaxSendsPerAddressPerDay: 1}, Decide: decide},
	} {
		p.Now, p.ActorID, p.LedgerKey = t0.Add(time.Hour), as(tenantA).UserID, ledgerKey
		_, err := s.Change(t.Context(), p)
		wantIs(t, "Change of another tenant's or no invite", err, invites.ErrNotFound)
	}
	// An empty digest, from a TokenIssuer that made one, names no token
	// either: it is not read as the key of no tenant's invite.
	for _, p := range []invites.ChangeParams{
		{Digest: newDigest(t), Decide: decide, Hook: hook},
		{Digest: newDigest(t), From: []invites.Status{invites.StatusPending}, Live: true, Hook: hook,
			Edit: invites.Edit{Status: invites.StatusDeclined, Event: invites.EventDeclined}},
		{Digest: []byte{}, Decide: decide, Hook: hook},
		{Digest: []byte{}, From: []invites.Status{invites.StatusPending}, Live: true, Hook: hook,
			Edit: invites.Edit{Status: invites.StatusDeclined, Event: invites.EventDeclined}},
	} {
		p.Now = t0.Add(time.Hour)
		_, err := s.Change(t.Context(), p)
		wantIs(t, "Change of an unknown digest", err, invites.ErrInvalidToken)
	}
	if asked {
		t.Error("a Decide or Hook was asked about an invite not found")
	}
	checkInvite(t, "the other tenant's invite", get(t, s, tenantB, inv.ID), before)
}

// What Decide read holds for the write: while renewals whose Decide
// refuses an invite granting "admin" race updates that switch its roles
// between "admin" and "member", every renewal that succeeds renewed the
// roles its Decide saw, never roles changed in between.
func testRaceDecideHoldsForWrite(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "race-guard@x.com", t0))
	now := t0.Add(time.Hour)
	const rounds = 24
	var (
		mu     sync.Mutex
		failed []string
	)
	renewed := make([]invites.Invite, rounds)
	seen := make([][]string, rounds)
	errs := make([]error, rounds)
	var fns []func()
	for i := range rounds {
		roles := []string{"member"}
		if i%2 == 0 {
			roles = []string{"admin"}
		}
		fns = append(fns,
			func() {
				if _, err := update(ctx, s, tenantA, inv.ID, now, invites.Update{Roles: roles}); err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
				}
			},
			func() {
				renewed[i], errs[i] = s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenantA, ID: inv.ID, ActorID: as(tenantA).UserID,
					Decide: func(ctx context.Context, f invites.Facts) (invites.Edit, error) {
						seen[i] = slices.Clone(f.Invite.Roles)
						if slices.Contains(f.Invite.Roles, "admin") {
							return invites.Edit{}, errNo
						}
						_ = yieldHook(ctx, f.Invite) // let an update try to slip in
						return renewEdit(now), nil
					}})
			})
	}
	race(fns...)
	if len(failed) > 0 {
		t.Fatalf("updates failed: %v", failed)
	}
	ok := 0
	for i := range rounds {
		switch {
		case errors.Is(errs[i], errNo):
			if !slices.Contains(seen[i], "admin") {
				t.Errorf("renewal %d refused without seeing admin: %v", i, seen[i])
			}
		case errs[i] != nil:
			t.Errorf("renewal %d: %v", i, errs[i])
		default:
			ok++
			if !slices.Equal(renewed[i].Roles, seen[i]) || slices.Contains(renewed[i].Roles, "admin") {
				t.Errorf("renewal %d renewed roles %v, its Decide saw %v", i, renewed[i].Roles, seen[i])
			}
		}
	}
	t.Logf("%d of %d renewals went through", ok, rounds)
}
