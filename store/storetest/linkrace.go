package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/invitekit/invites"
)

// The promises of links that hold only under concurrency, with many
// goroutines really racing.

// 50 users joining at once through a link of 10 uses make exactly 10
// members: the use count never passes MaxUses, and each refusal says the
// link is used up.
func testLinkJoinRace(t *testing.T, newStore func(*testing.T) invites.Store) {
	// The host's code takes a while, as a query of its own would, so a
	// store that held no lock across it would let the joins interleave.
	e := newLinkEnv(t, newStore, func(c *invites.Config) {
		c.IsMember = func(context.Context, string, []string) ([]bool, error) {
			time.Sleep(time.Millisecond)
			return []bool{false}, nil
		}
		onJoin := c.OnJoin
		c.OnJoin = func(ctx context.Context, l invites.Link, j invites.Joiner) error {
			time.Sleep(time.Millisecond)
			return onJoin(ctx, l, j)
		}
	})
	c := e.create(tenantA, invites.LinkSpec{MaxUses: 10, TTL: time.Hour})
	joined := succeeded(t, "a racing join", invites.ErrLinkExhausted, raceN(50, func(i int) error {
		_, err := e.svc.JoinByLink(t.Context(), c.Token.Reveal(), invites.Joiner{UserID: fmt.Sprint("racer-", i), Email: fmt.Sprint("racer-", i, "@example.com"), EmailVerified: true})
		return err
	}))
	if joined != 10 || e.members.count() != 10 {
		t.Fatalf("%d joins succeeded and OnJoin made %d members, want 10 of each", joined, e.members.count())
	}
	l := e.link(tenantA, c.Link.ID)
	us, err := e.svc.LinkUses(t.Context(), as(tenantA), c.Link.ID)
	if err != nil || l.Uses != 10 || len(us) != 10 {
		t.Fatalf("after the race: Uses %d, %d uses recorded (%v), want 10", l.Uses, len(us), err)
	}
}

// 30 users joining at once through a link of 3 uses a minute make 3
// members: each join counts the uses of the joins it waited for, so the
// rate is never passed, and each refusal says so.
func testLinkJoinRateRace(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) { c.LinkUsesPerMinute = 3 })
	c := e.create(tenantA, invites.LinkSpec{MaxUses: 50, TTL: time.Hour})
	joined := succeeded(t, "a racing join", invites.ErrLinkRateLimited, raceN(30, func(i int) error {
		_, err := e.join(c, fmt.Sprint("racer-", i))
		return err
	}))
	if l := e.link(tenantA, c.Link.ID); joined != 3 || e.members.count() != 3 || l.Uses != 3 {
		t.Fatalf("%d joins succeeded, OnJoin made %d members and Uses is %d, want 3 of each", joined, e.members.count(), l.Uses)
	}
}

// One user joining many times at once joins once; every other attempt is
// ErrAlreadyJoined, as the store saw the first join's use when it
// decided, and uses up nothing.
func testLinkJoinSameUser(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	c := e.create(tenantA, invites.LinkSpec{MaxUses: 10, TTL: time.Hour})
	joined := succeeded(t, "a racing join by one user", invites.ErrAlreadyJoined, raceN(10, func(int) error {
		_, err := e.join(c, "same")
		return err
	}))
	if joined != 1 {
		t.Fatalf("%d joins by one user succeeded, want 1", joined)
	}
	e.uses(tenantA, c.Link.ID, "same")
}

// Creations racing in one tenant keep Config.MaxActiveLinks.
func testLinkCreateRace(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) { c.MaxActiveLinks = 3 })
	made := succeeded(t, "a racing create", invites.ErrQuotaExceeded, raceN(12, func(int) error {
		_, err := e.svc.CreateLink(t.Context(), as(tenantA), spec3)
		return err
	}))
	if n := len(e.list(tenantA, invites.LinkQuery{})); made != 3 || n != 3 {
		t.Fatalf("%d creates succeeded and %d links stored, want 3 of each", made, n)
	}
}

// raceN runs f(0..n-1) as race does, and returns their errors.
func raceN(n int, f func(i int) error) []error {
	errs := make([]error, n)
	fns := make([]func(), n)
	for i := range fns {
		fns[i] = func() { errs[i] = f(i) }
	}
	race(fns...)
	return errs
}

// succeeded counts the nil errs, failing the test on any that is not
// refused.
func succeeded(t *testing.T, what string, refused error, errs []error) int {
	t.Helper()
	n := 0
	for _, err := range errs {
		switch {
		case err == nil:
			n++
		case !errors.Is(err, refused):
			t.Fatalf("%s: %v, want none or %v", what, err, refused)
		}
	}
	return n
}
