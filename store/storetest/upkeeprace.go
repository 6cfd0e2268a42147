package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var upkeepRaceCases = []testCase{
	{"Race/ForgetVsAccept", testRaceForgetVsAccept},
	{"Race/Bounce", testRaceBounce},
	{"Race/BounceVsOutcome", testRaceBounceVsOutcome},
	{"Race/PruneVsResend", testRacePruneVsResend},
}

// Forget racing Accept of one invite: either the accept commits and the
// erasure then takes the accepted invite, or the accept finds no invite.
// Never an invite, or an event of it but the forgotten one, left behind.
func testRaceForgetVsAccept(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	u := needUpkeep(t, s)
	ctx := t.Context()
	const n = 40
	invs, digests := mintedBatch(t, s, n, "fa")
	handleAll(t, s, t0)
	now := t0.Add(time.Hour)
	accepts, forgets := make([]error, n), make([]error, n)
	acceptedAs := make([]invites.Invite, n)
	erased := make([][]uuid.UUID, n)
	var fns []func()
	for i, inv := range invs {
		fns = append(fns,
			func() { acceptedAs[i], accepts[i] = accept(ctx, s, digests[inv.ID], "u", now, yieldHook) },
			func() {
				erased[i], forgets[i] = u.Forget(ctx, invites.ForgetParams{Now: now, TenantID: tenantA, Email: invites.NormalizeEmail(inv.Email), ActorID: "dpo"})
			})
	}
	race(fns...)
	for i, inv := range invs {
		switch {
		case forgets[i] != nil:
			t.Fatalf("invite %d: Forget: %v", i, forgets[i])
		case len(erased[i]) != 1 || erased[i][0] != inv.ID:
			t.Fatalf("invite %d: Forget erased %v, want [%s] whether or not the accept won", i, erased[i], inv.ID)
		case accepts[i] == nil && acceptedAs[i].Status != invites.StatusAccepted:
			t.Fatalf("invite %d: Accept succeeded with the invite %s", i, acceptedAs[i].Status)
		case accepts[i] != nil && !errors.Is(accepts[i], invites.ErrInvalidToken) && !errors.Is(accepts[i], invites.ErrNotFound):
			t.Fatalf("invite %d: Accept lost to Forget with %v, want ErrInvalidToken or ErrNotFound", i, accepts[i])
		}
		wantGone(t, s, tenantA, inv.ID, digests[inv.ID])
	}
	told := map[uuid.UUID]int{}
	for es := claimEvents(t, s, now, 100); len(es) > 0; es = claimEvents(t, s, now, 100) {
		for _, e := range es {
			if e.Type != invites.EventForgotten {
				t.Fatalf("after Forget, ClaimEvents gave a %s event of invite %s", e.Type, e.InviteID)
			}
			told[e.InviteID]++
			completeEvent(t, s, e, time.Time{})
		}
	}
	for _, inv := range invs {
		if told[inv.ID] != 1 {
			t.Fatalf("invite %s: %d forgotten events, want 1", inv.ID, told[inv.ID])
		}
	}
}

// Reports of one bounce racing: exactly one records it.
func testRaceBounce(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	const n, racers = 20, 4
	batch := make([]invites.Invite, n)
	for i := range batch {
		batch[i] = newInvite(tenantA, fmt.Sprintf("b%03d@x.com", i), t0)
	}
	invs := insertOK(t, s, t0, batch...)
	cs := claim(t, s, t0, n, lease)
	if len(cs) != len(invs) {
		t.Fatalf("claimed %d of %d", len(cs), len(invs))
	}
	for _, c := range cs {
		complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
	}
	now := t0.Add(time.Hour)
	oks := make([][racers]bool, len(cs))
	errs := make([][racers]error, len(cs))
	var fns []func()
	for i, c := range cs {
		for r := range racers {
			fns = append(fns, func() {
				_, oks[i][r], errs[i][r] = s.Bounce(ctx, invites.BounceParams{Now: now, DeliveryID: c.ID, Reason: fmt.Sprintf("bounce %d", r)})
			})
		}
	}
	race(fns...)
	for i, c := range cs {
		wins := 0
		for r := range racers {
			if errs[i][r] != nil {
				t.Fatalf("delivery %s: Bounce: %v", c.ID, errs[i][r])
			}
			if oks[i][r] {
				wins++
			}
		}
		bounced := 0
		for _, e := range historyOf(t, s, c.Invite) {
			if e.Type == invites.EventBounced {
				bounced++
			}
		}
		if wins != 1 || bounced != 1 {
			t.Fatalf("delivery %s: %d of %d racing Bounces answered true and %d bounced events were written, want 1 and 1", c.ID, wins, racers, bounced)
		}
	}
}

// A bounce of a delivery's first attempt racing the outcome of its retry
// (attempt 2), each started first on half the invites: the two take
// effect in one order. Either the outcome commits first and the bounce
// then fails the delivery, or the bounce ends the claim and the outcome
// changes nothing; so the invite always ends with the bounce's failure
// and reason, its history has the outcome's event (a final one) only
// before the bounced event, and the delivery is not claimed again. Many
// rounds of a few pairs, so a store whose outcome reads the delivery
// from before a bounce it then waits for loses some of them.
func testRaceBounceVsOutcome(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	const rounds, n = 25, 6
	// The outcomes raced, each with the event it writes when it wins.
	outcomes := []struct {
		o  invites.DeliveryOutcome
		ev invites.EventType
	}{
		{invites.DeliveryOutcome{Status: invites.DeliverySent}, invites.EventSent},
		{invites.DeliveryOutcome{Status: invites.DeliveryFailed, Error: "550 rejected"}, invites.EventDeliveryFailed},
		{invites.DeliveryOutcome{Status: invites.DeliveryQueued, Error: "421 later"}, ""}, // a retry writes none
	}
	now := t0
	for round := range rounds {
		now = now.Add(time.Hour)
		insertOK(t, s, now, addresses(tenantA, fmt.Sprintf("bo%d-", round), now, n)...)
		for _, c := range claim(t, s, now, n, lease) {
			complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: now, Error: "421 busy", At: now})
		}
		cs := claim(t, s, now, n, lease)
		if len(cs) != n {
			t.Fatalf("round %d: claimed %d retries of %d", round, len(cs), n)
		}
		reason := fmt.Sprintf("hard bounce: round %d", round)
		bounced := make([]invites.Invite, n)
		oks := make([]bool, n)
		bounceErrs, outcomeErrs := make([]error, n), make([]error, n)
		var fns []func()
		for i, c := range cs {
			o := outcomes[i%len(outcomes)].o
			o.Delivery, o.At, o.RetryAt = c.Delivery, now, now
			b := func() {
				bounced[i], oks[i], bounceErrs[i] = s.Bounce(ctx, invites.BounceParams{Now: now, DeliveryID: c.ID, Reason: reason})
			}
			w := func() {
				outcomeErrs[i] = s.CompleteDeliveries(ctx, invites.CompleteParams{Outcomes: []invites.DeliveryOutcome{o}})
			}
			if i%2 == 0 {
				fns = append(fns, b, w)
			} else {
				fns = append(fns, w, b)
			}
		}
		race(fns...)
		for i, c := range cs {
			o := outcomes[i%len(outcomes)]
			st := o.o.Status
			if err := errors.Join(bounceErrs[i], outcomeErrs[i]); err != nil {
				t.Fatalf("round %d, %s outcome racing a bounce: %v", round, st, err)
			}
			if !oks[i] || bounced[i].DeliveryStatus != invites.DeliveryFailed || bounced[i].DeliveryError != reason {
				t.Fatalf("round %d: Bounce racing a %s outcome = %s %q, %t; want failed %q, true",
					round, st, bounced[i].DeliveryStatus, bounced[i].DeliveryError, oks[i], reason)
			}
			got := get(t, s, tenantA, c.InviteID)
			es := types(historyOf(t, s, got))
			want := []invites.EventType{invites.EventCreated, invites.EventBounced}
			if o.ev != "" && len(es) == 3 {
				want = []invites.EventType{invites.EventCreated, o.ev, invites.EventBounced} // the outcome won
			}
			if got.DeliveryStatus != invites.DeliveryFailed || got.DeliveryError != reason || !slices.Equal(es, want) {
				t.Fatalf("round %d: after a bounce racing a %s outcome the invite is %s %q with events %v; want failed %q with %v",
					round, st, got.DeliveryStatus, got.DeliveryError, es, reason, want)
			}
		}
		claimNone(t, s, now.Add(time.Hour), "a bounced delivery is not claimed again, whatever outcome raced the bounce")
	}
}

// Prune racing a Resend of an expired invite: either the resend wins and
// the invite is pending and kept, or the prune wins and the resend finds
// no invite. Never half of either.
func testRacePruneVsResend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	u := needUpkeep(t, s)
	ctx := t.Context()
	const n, pruners = 40, 4
	invs := insertOK(t, s, t0, addresses(tenantA, "pr", t0, n, func(i *invites.Invite) { i.ExpiresAt = t0.Add(time.Hour) })...)
	if got, err := s.ExpireDue(ctx, invites.ExpireParams{Now: t0.Add(2 * time.Hour), Limit: 2 * n}); err != nil || got != n {
		t.Fatalf("ExpireDue = %d, %v; want all %d", got, err, n)
	}
	now := t0.Add(3 * time.Hour)
	svc := rule.at(t, s, now)
	resends := make([]error, n)
	pruneErrs := make([]error, pruners)
	var fns []func()
	for i, inv := range invs {
		fns = append(fns, func() { _, resends[i] = svc.Resend(ctx, as(tenantA), inv.ID) })
	}
	for p := range pruners {
		fns = append(fns, func() {
			for {
				r, err := u.Prune(ctx, invites.PruneParams{InvitesBefore: now, Limit: 3})
				if err != nil || r.Invites == 0 {
					pruneErrs[p] = err
					return
				}
			}
		})
	}
	race(fns...)
	if err := errors.Join(pruneErrs...); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	won := 0
	for i, inv := range invs {
		switch {
		case resends[i] == nil:
			won++
			if got := get(t, s, tenantA, inv.ID); got.Status != invites.StatusPending || got.SendCount != 2 {
				t.Fatalf("invite %d: the Resend won but the invite is %s with SendCount %d", i, got.Status, got.SendCount)
			}
			history(t, s, tenantA, inv.ID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventExpired, "", inv.ExpiresAt},
				ev{invites.EventResent, as(tenantA).UserID, now})
		case errors.Is(resends[i], invites.ErrNotFound):
			wantGone(t, s, tenantA, inv.ID)
		default:
			t.Fatalf("invite %d: Resend racing Prune: %v, want success or ErrNotFound", i, resends[i])
		}
	}
	prune(t, s, invites.PruneParams{InvitesBefore: now, Limit: 2 * n}, invites.PruneResult{})
	cs := claim(t, s, now, 2*n, lease)
	for _, c := range cs {
		if c.Kind != invites.KindReminder {
			t.Fatalf("claimed %+v, want only the resends' reminders", c.Delivery)
		}
	}
	if len(cs) != won {
		t.Fatalf("claimed %d deliveries after %d resends won", len(cs), won)
	}
}
