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
			got, err := s.Lookup(t.Context(), invites.LookupParams{Digest: p.digest})
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
		_, err := s.Lookup(ctx, invites.LookupParams{Digest: d})
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
	got, err := accept(t.Context(), s, p.digest, "user-1", p.now, h.hook)
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
	got, err := accept(t.Context(), s, p.digest, "user-1", p.now, nil)
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
	_, err := accept(ctx, s, p.digest, "user-1", p.now, h.hook)
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
	got, err := accept(ctx, s, p.digest, "user-2", later, okHook)
	if err != nil {
		t.Fatalf("Accept after a failed hook: %v", err)
	}
	if got.Status != invites.StatusAccepted || got.AcceptedByUserID != "user-2" || !sameTime(got.StatusUpdatedAt, later) {
		t.Fatalf("Accept after a failed hook: Status %s, AcceptedByUserID %q, StatusUpdatedAt %s",
			got.Status, got.AcceptedByUserID, got.StatusUpdatedAt)
	}
}

// An invite is live until, not at, its ExpiresAt: at it the store
// refuses a Live change with the invite still stored pending, which the
// Service answers ErrExpired.
func testAcceptExpiryBoundary(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	a := prepare(t, s, "a@x.com", stPending)
	b := prepare(t, s, "b@x.com", stPending)

	var h hookRecorder
	at := rule.at(t, s, a.inv.ExpiresAt)
	_, err := at.Accept(ctx, tokenOf(a.digest), invites.Acceptor{UserID: "u"})
	wantIs(t, "Accept at exactly ExpiresAt", err, invites.ErrExpired)
	_, err = accept(ctx, s, a.digest, "u", a.inv.ExpiresAt, h.hook)
	wantRefused(t, "Change at exactly ExpiresAt", err, invites.StatusPending)
	if len(h.calls) != 0 {
		t.Fatalf("Accept of an expired invite called its hook")
	}
	_, err = at.Decline(ctx, tokenOf(a.digest))
	wantIs(t, "Decline at exactly ExpiresAt", err, invites.ErrExpired)
	checkInvite(t, "Get after a refused Accept and Decline", get(t, s, tenantA, a.inv.ID), a.inv)

	just := b.inv.ExpiresAt.Add(-time.Microsecond)
	if _, err := rule.at(t, s, just).Accept(ctx, tokenOf(b.digest), invites.Acceptor{UserID: "u"}); err != nil {
		t.Fatalf("Accept a microsecond before ExpiresAt: %v", err)
	}
}

func testDeclineSuccess(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	p := prepare(t, s, "dec@x.com", stPending)
	got, err := decline(t.Context(), s, p.digest, p.now)
	if err != nil {
		t.Fatalf("Decline: %v", err)
	}
	want := p.inv
	want.Status, want.StatusUpdatedAt, want.UpdatedAt = invites.StatusDeclined, p.now, p.now
	checkInvite(t, "Decline result", got, want)
	checkInvite(t, "Get after Decline", get(t, s, tenantA, want.ID), want)
	insertOne(t, s, p.now, newInvite(tenantA, "dec@x.com", p.now))
}

// Accept and Decline of an invite no longer pending are refused: an
// expired one (stored pending past ExpiresAt, or stored expired) with
// ErrExpired, the others with their status. The Service tells them apart
// by the invite the store's *RuleError carries.
func testAcceptDeclineByStatus(t *testing.T, newStore func(*testing.T) invites.Store) {
	ops := []struct {
		name string
		do   func(ctx context.Context, svc *invites.Service, digest []byte) (invites.Invite, error)
	}{
		{"Accept", func(ctx context.Context, svc *invites.Service, d []byte) (invites.Invite, error) {
			return svc.Accept(ctx, tokenOf(d), invites.Acceptor{UserID: "late-user"})
		}},
		{"Decline", func(ctx context.Context, svc *invites.Service, d []byte) (invites.Invite, error) {
			return svc.Decline(ctx, tokenOf(d))
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
				calls := 0
				svc, err := rule.service(s, p.now, func(c *invites.Config) {
					c.OnAccept = func(context.Context, invites.Invite) error { calls++; return nil }
				})
				if err != nil {
					t.Fatal(err)
				}
				_, err = op.do(t.Context(), svc, p.digest)
				what := op.name + " of a " + st + " invite"
				if readAs(st) == invites.StatusExpired {
					wantIs(t, what, err, invites.ErrExpired)
				} else {
					wantNotPending(t, what, err, readAs(st))
				}
				if calls != 0 {
					t.Fatalf("%s called the hook", what)
				}
				checkInvite(t, "Get after a refused "+op.name, get(t, s, tenantA, p.inv.ID), p.inv)
			})
		}
	}
}

// A digest no token has is ErrInvalidToken; a Change given no digest, no
// tenant and no id finds nothing either.
func testAcceptDeclineUnknown(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	p := prepare(t, s, "a@x.com", stPending)
	insertOne(t, s, t0, newInvite(tenantA, "no-token-yet@x.com", t0))
	for name, d := range map[string][]byte{"unknown": newDigest(t), "nil": nil, "empty": {}} {
		var h hookRecorder
		_, err := accept(ctx, s, d, "u", p.now, h.hook)
		found := func(what string) {
			t.Helper()
			if name == "unknown" {
				wantIs(t, what, err, invites.ErrInvalidToken)
			} else if !errors.Is(err, invites.ErrInvalidToken) && !errors.Is(err, invites.ErrNotFound) {
				t.Fatalf("%s: got error %v, want ErrInvalidToken or ErrNotFound", what, err)
			}
		}
		found("Accept of a " + name + " digest")
		if len(h.calls) != 0 {
			t.Fatalf("Accept of a %s digest called the hook", name)
		}
		_, err = decline(ctx, s, d, p.now)
		found("Decline of a " + name + " digest")
	}
	checkInvite(t, "Get after refused Accepts", get(t, s, tenantA, p.inv.ID), p.inv)
}
