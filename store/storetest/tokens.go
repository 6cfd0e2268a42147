package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/invitekit/invites"
)

var tokenCases = []testCase{
	{"Lookup/AnyStatus", testLookupAnyStatus},
	{"Lookup/Unknown", testLookupUnknown},
	{"Accept/Success", testAcceptSuccess},
	{"Accept/NilHook", testAcceptNilHook},
	{"Accept/HookError", testAcceptHookError},
	{"Accept/ExpiryBoundary", testAcceptExpiryBoundary},
	{"Decline/Success", testDeclineSuccess},
	{"AcceptDecline/ByStatus", testAcceptDeclineByStatus},
	{"AcceptDecline/Unknown", testAcceptDeclineUnknown},
}

func testLookupAnyStatus(t *testing.T, newStore func(*testing.T) invites.Store) {
	for _, st := range allStates {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			p := prepare(t, s, "look@x.com", st)
			got, err := s.Lookup(t.Context(), p.digest)
			if err != nil {
				t.Fatalf("Lookup of a %s invite: %v", st, err)
			}
			checkInvite(t, "Lookup", got, p.inv)
		})
	}
}

func testLookupUnknown(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	// One invite with a token, one still without (its delivery not yet run).
	a := insertOne(t, s, t0, newInvite(tenantA, "a@x.com", t0))
	mint(t, s, t0, a.ID)
	insertOne(t, s, t0, newInvite(tenantA, "b@x.com", t0))
	for name, d := range map[string][]byte{"unknown": newDigest(t), "nil": nil, "empty": {}} {
		_, err := s.Lookup(ctx, d)
		wantIs(t, "Lookup of a "+name+" digest", err, invites.ErrInvalidToken)
	}
}

// hookRecorder is an Accept hook that records what it saw and answers err.
type hookRecorder struct {
	calls []invites.Invite
	err   error
}

func (h *hookRecorder) hook(_ context.Context, inv invites.Invite) error {
	h.calls = append(h.calls, inv)
	return h.err
}

func testAcceptSuccess(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "acc@x.com", stPending)
	var h hookRecorder
	got, err := s.Accept(t.Context(), p.digest, "user-1", p.now, h.hook)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	want := p.inv
	want.Status, want.AcceptedByUserID = invites.StatusAccepted, "user-1"
	want.StatusUpdatedAt, want.UpdatedAt = p.now, p.now
	checkInvite(t, "Accept result", got, want)
	checkInvite(t, "Get after Accept", get(t, s, tenantA, want.ID), want)
	if len(h.calls) != 1 {
		t.Fatalf("Accept called its hook %d times, want once", len(h.calls))
	}
	if hk := h.calls[0]; hk.ID != want.ID || hk.Status != invites.StatusAccepted || hk.AcceptedByUserID != "user-1" {
		t.Fatalf("the hook saw invite %s with Status %s, AcceptedByUserID %q; want %s, accepted, user-1",
			hk.ID, hk.Status, hk.AcceptedByUserID, want.ID)
	}
	// Final: the address is free for a new invite.
	insertOne(t, s, p.now, newInvite(tenantA, "ACC@x.com", p.now))
}

// The Service passes Config.OnAccept, nil unless the host set one.
func testAcceptNilHook(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "nil@x.com", stPending)
	got, err := s.Accept(t.Context(), p.digest, "user-1", p.now, nil)
	if err != nil {
		t.Fatalf("Accept with a nil hook: %v", err)
	}
	if got.Status != invites.StatusAccepted || got.AcceptedByUserID != "user-1" {
		t.Fatalf("Accept with a nil hook: Status %s, AcceptedByUserID %q", got.Status, got.AcceptedByUserID)
	}
}

func testAcceptHookError(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	p := prepare(t, s, "hook@x.com", stPending)
	hostErr := errors.New("host refused the user")
	h := hookRecorder{err: fmt.Errorf("wrapped: %w", hostErr)}
	_, err := s.Accept(ctx, p.digest, "user-1", p.now, h.hook)
	wantIs(t, "Accept whose hook failed", err, hostErr)
	if len(h.calls) != 1 {
		t.Fatalf("Accept called its hook %d times, want once", len(h.calls))
	}
	checkInvite(t, "Get after a failed hook", get(t, s, tenantA, p.inv.ID), p.inv)
	res := insert(t, s, p.now, newInvite(tenantA, "hook@x.com", p.now))
	if res[0].Existing != p.inv.ID {
		t.Fatalf("after a failed hook, Insert of the same address: Existing = %s, want %s (still pending)", res[0].Existing, p.inv.ID)
	}

	later := p.now.Add(time.Minute)
	got, err := s.Accept(ctx, p.digest, "user-2", later, okHook)
	if err != nil {
		t.Fatalf("Accept after a failed hook: %v", err)
	}
	if got.Status != invites.StatusAccepted || got.AcceptedByUserID != "user-2" || !sameTime(got.StatusUpdatedAt, later) {
		t.Fatalf("Accept after a failed hook: Status %s, AcceptedByUserID %q, StatusUpdatedAt %s",
			got.Status, got.AcceptedByUserID, got.StatusUpdatedAt)
	}
}

func testAcceptExpiryBoundary(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	a := prepare(t, s, "a@x.com", stPending)
	b := prepare(t, s, "b@x.com", stPending)

	var h hookRecorder
	_, err := s.Accept(ctx, a.digest, "u", a.inv.ExpiresAt, h.hook)
	wantIs(t, "Accept at exactly ExpiresAt", err, invites.ErrExpired)
	if len(h.calls) != 0 {
		t.Fatalf("Accept of an expired invite called its hook")
	}
	_, err = s.Decline(ctx, a.digest, a.inv.ExpiresAt)
	wantIs(t, "Decline at exactly ExpiresAt", err, invites.ErrExpired)
	if got := get(t, s, tenantA, a.inv.ID); got.AcceptedByUserID != "" || got.StatusAt(a.inv.ExpiresAt) != invites.StatusExpired {
		t.Fatalf("after a refused Accept: reads as %s, AcceptedByUserID %q; want expired", got.StatusAt(a.inv.ExpiresAt), got.AcceptedByUserID)
	}

	just := b.inv.ExpiresAt.Add(-time.Microsecond)
	if _, err := s.Accept(ctx, b.digest, "u", just, okHook); err != nil {
		t.Fatalf("Accept a microsecond before ExpiresAt: %v", err)
	}
}

func testDeclineSuccess(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "dec@x.com", stPending)
	got, err := s.Decline(t.Context(), p.digest, p.now)
	if err != nil {
		t.Fatalf("Decline: %v", err)
	}
	want := p.inv
	want.Status, want.StatusUpdatedAt, want.UpdatedAt = invites.StatusDeclined, p.now, p.now
	checkInvite(t, "Decline result", got, want)
	checkInvite(t, "Get after Decline", get(t, s, tenantA, want.ID), want)
	insertOne(t, s, p.now, newInvite(tenantA, "dec@x.com", p.now))
}

func testAcceptDeclineByStatus(t *testing.T, newStore func(*testing.T) invites.Store) {
	ops := []struct {
		name string
		do   func(ctx context.Context, s invites.Store, digest []byte, now time.Time, h *hookRecorder) (invites.Invite, error)
	}{
		{"Accept", func(ctx context.Context, s invites.Store, d []byte, now time.Time, h *hookRecorder) (invites.Invite, error) {
			return s.Accept(ctx, d, "late-user", now, h.hook)
		}},
		{"Decline", func(ctx context.Context, s invites.Store, d []byte, now time.Time, _ *hookRecorder) (invites.Invite, error) {
			return s.Decline(ctx, d, now)
		}},
	}
	for _, op := range ops {
		for _, st := range allStates {
			if st == stPending {
				continue
			}
			t.Run(op.name+"/"+st, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				p := prepare(t, s, "final@x.com", st)
				var h hookRecorder
				_, err := op.do(t.Context(), s, p.digest, p.now, &h)
				what := op.name + " of a " + st + " invite"
				if readAs(st) == invites.StatusExpired {
					wantIs(t, what, err, invites.ErrExpired)
				} else {
					wantNotPending(t, what, err, readAs(st))
				}
				if len(h.calls) != 0 {
					t.Fatalf("%s called the hook", what)
				}
				got := get(t, s, tenantA, p.inv.ID)
				if got.StatusAt(p.now) != readAs(st) || got.AcceptedByUserID != p.inv.AcceptedByUserID {
					t.Fatalf("after a refused %s: reads as %s, AcceptedByUserID %q; want %s, %q",
						op.name, got.StatusAt(p.now), got.AcceptedByUserID, readAs(st), p.inv.AcceptedByUserID)
				}
			})
		}
	}
}

func testAcceptDeclineUnknown(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	p := prepare(t, s, "a@x.com", stPending)
	insertOne(t, s, t0, newInvite(tenantA, "no-token-yet@x.com", t0))
	for name, d := range map[string][]byte{"unknown": newDigest(t), "nil": nil, "empty": {}} {
		var h hookRecorder
		_, err := s.Accept(ctx, d, "u", p.now, h.hook)
		wantIs(t, "Accept of a "+name+" digest", err, invites.ErrInvalidToken)
		if len(h.calls) != 0 {
			t.Fatalf("Accept of a %s digest called the hook", name)
		}
		_, err = s.Decline(ctx, d, p.now)
		wantIs(t, "Decline of a "+name+" digest", err, invites.ErrInvalidToken)
	}
	checkInvite(t, "Get after refused Accepts", get(t, s, tenantA, p.inv.ID), p.inv)
}
