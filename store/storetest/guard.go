package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The guard of Update, Cancel and Resend: the Service's authorization,
// asked under the write's lock before any other refusal.
var guardCases = []testCase{
	{"Guard/RefusesFirst", testGuardRefusesFirst},
	{"Guard/SeesTheStoredInvite", testGuardSeesStoredInvite},
	{"Guard/NotFoundBeforeGuard", testGuardNotFoundFirst},
	{"Race/GuardHoldsForTheWrite", testRaceGuardHoldsForWrite},
}

var errNo = errors.New("storetest: the guard says no")

func refuse(context.Context, invites.Invite) error { return errNo }

// guarded are the three guarded writes of one invite of tenantA at now.
func guarded(s invites.Store, id uuid.UUID, now time.Time, r invites.ResendRule, g invites.Guard) map[string]func(context.Context) (invites.Invite, error) {
	name := "Guarded"
	return map[string]func(context.Context) (invites.Invite, error){
		"Update": func(ctx context.Context) (invites.Invite, error) {
			return s.Update(ctx, tenantA, id, now, invites.Update{FirstName: &name, Roles: []string{"owner"}}, g)
		},
		"Cancel": func(ctx context.Context) (invites.Invite, error) { return s.Cancel(ctx, as(tenantA), id, now, g) },
		"Resend": func(ctx context.Context) (invites.Invite, error) {
			return s.Resend(ctx, as(tenantA), id, now, r, g)
		},
	}
}

// A refusing guard wins over every other refusal (here: resend too soon,
// too many resends, over quota; update and cancel of a final invite), its
// error comes back as it is, and nothing changes.
func testGuardRefusesFirst(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, final := range []bool{false, true} {
		s := newStore(t)
		inv := insertOne(t, s, t0, newInvite(tenantA, "guard@x.com", t0))
		if final {
			if _, err := s.Cancel(t.Context(), as(tenantA), inv.ID, t0, nil); err != nil {
				t.Fatal(err)
			}
		}
		before := get(t, s, tenantA, inv.ID)
		events := []ev{{invites.EventCreated, inv.CreatedByUserID, t0}}
		if final {
			events = append(events, ev{invites.EventCanceled, as(tenantA).UserID, t0})
		}
		strict := invites.ResendRule{Cooldown: time.Hour, Max: 0, TTL: ttl, Quota: invites.Quota{MaxSendsPerHour: 1}}
		for op, write := range guarded(s, inv.ID, t0.Add(time.Second), strict, refuse) {
			if _, err := write(t.Context()); !errors.Is(err, errNo) {
				t.Errorf("%s (final %t) with a refusing guard: %v, want the guard's error", op, final, err)
			}
		}
		checkInvite(t, "after the refused writes", get(t, s, tenantA, inv.ID), before)
		history(t, s, tenantA, inv.ID, events...)
	}
}

// The guard is shown the invite as stored, of the caller's tenant only.
func testGuardSeesStoredInvite(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "seen@x.com", t0, func(i *invites.Invite) {
		i.Roles = []string{"admin", "member"}
	}))
	var seen []invites.Invite
	look := func(_ context.Context, got invites.Invite) error {
		seen = append(seen, got)
		return errNo
	}
	for op, write := range guarded(s, inv.ID, t0.Add(time.Hour), invites.ResendRule{Max: 5, TTL: ttl}, look) {
		seen = nil
		_, _ = write(t.Context())
		if len(seen) != 1 {
			t.Fatalf("%s asked its guard %d times, want once", op, len(seen))
		}
		checkInvite(t, op+"'s guard saw", seen[0], get(t, s, tenantA, inv.ID))
	}
}

// An invite of another tenant is ErrNotFound, and its guard is not asked.
func testGuardNotFoundFirst(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantB, "other@x.com", t0))
	asked := false
	g := func(context.Context, invites.Invite) error { asked = true; return nil }
	for _, id := range []uuid.UUID{inv.ID, uuid.Must(uuid.NewV7())} {
		for op, write := range guarded(s, id, t0.Add(time.Hour), rule, g) {
			if _, err := write(t.Context()); !errors.Is(err, invites.ErrNotFound) {
				t.Errorf("%s of another tenant's or no invite: %v, want ErrNotFound", op, err)
			}
		}
	}
	if asked {
		t.Error("a guard was asked about an invite of another tenant")
	}
}

// The guard's answer holds for the write: while resends whose guard
// refuses an invite granting "admin" race updates that switch its roles
// between "admin" and "member", every resend that succeeds renewed the
// roles its guard saw, never roles changed in between.
func testRaceGuardHoldsForWrite(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "race-guard@x.com", t0))
	now := t0.Add(time.Hour)
	r := invites.ResendRule{Max: 1 << 20, TTL: ttl}
	const rounds = 24
	var (
		mu     sync.Mutex
		failed []string
	)
	resends := make([]invites.Invite, rounds)
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
				if _, err := s.Update(ctx, tenantA, inv.ID, now, invites.Update{Roles: roles}, nil); err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
				}
			},
			func() {
				resends[i], errs[i] = s.Resend(ctx, as(tenantA), inv.ID, now, r, func(_ context.Context, got invites.Invite) error {
					seen[i] = slices.Clone(got.Roles)
					if slices.Contains(got.Roles, "admin") {
						return errNo
					}
					yieldHook(ctx, got) // let an update try to slip in
					return nil
				})
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
				t.Errorf("resend %d refused without seeing admin: %v", i, seen[i])
			}
		case errs[i] != nil:
			t.Errorf("resend %d: %v", i, errs[i])
		default:
			ok++
			if !slices.Equal(resends[i].Roles, seen[i]) || slices.Contains(resends[i].Roles, "admin") {
				t.Errorf("resend %d renewed roles %v, its guard saw %v", i, resends[i].Roles, seen[i])
			}
		}
	}
	t.Logf("%d of %d resends went through", ok, rounds)
}
