package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var concurrencyCases = []testCase{
	{"Race/AcceptVsCancel", testRaceAcceptVsCancel},
	{"Race/TwoAccepts", testRaceTwoAccepts},
	{"Race/AcceptDeclineCancel", testRaceAcceptDeclineCancel},
	{"Race/CancelDuringAcceptHook", testRaceCancelDuringHook},
	{"Race/CancelDuringFailingAcceptHook", testRaceCancelDuringFailingHook},
	{"Race/InsertSameAddress", testRaceInsertSameAddress},
	{"Race/Resend", testRaceResend},
	{"Race/AcceptVsResend", testRaceAcceptVsResend},
	{"Race/ClaimDeliveries", testRaceClaimDeliveries},
}

// race runs each fn in its own goroutine, all released at once by a start
// barrier, and waits for them.
func race(fns ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() {
			<-start
			fn()
		})
	}
	close(start)
	wg.Wait()
}

// yieldHook gives other goroutines a chance inside the accept window.
func yieldHook(context.Context, invites.Invite) error {
	runtime.Gosched()
	return nil
}

// mintedBatch inserts n pending invites of tenantA at t0 and mints them.
func mintedBatch(t *testing.T, s invites.Store, n int, prefix string) ([]invites.Invite, map[uuid.UUID][]byte) {
	t.Helper()
	batch := make([]invites.Invite, n)
	for i := range batch {
		batch[i] = newInvite(tenantA, fmt.Sprintf("%s%03d@x.com", prefix, i), t0)
	}
	invs := insertOK(t, s, t0, batch...)
	digests := mintAll(t, s, t0)
	for _, inv := range invs {
		if digests[inv.ID] == nil {
			t.Fatalf("invite %s got no token", inv.ID)
		}
	}
	return invs, digests
}

// racer is one contender on an invite: the call it makes to win, the
// status the invite ends in when it does, and what the call answered.
type racer struct {
	name   string
	wins   invites.Status
	userID string
	run    func() (invites.Invite, error)
	err    error
	inv    invites.Invite
}

// checkOneWinner checks that exactly one racer won, every loser got a
// *RuleError showing the invite as the winner left it, and the stored
// invite agrees.
func checkOneWinner(t *testing.T, s invites.Store, id uuid.UUID, rs []*racer) {
	t.Helper()
	var winner *racer
	for _, r := range rs {
		if r.err == nil {
			if winner != nil {
				t.Errorf("invite %s: both %s and %s won", id, winner.name, r.name)
				return
			}
			winner = r
		}
	}
	if winner == nil {
		var errs []string
		for _, r := range rs {
			errs = append(errs, fmt.Sprintf("%s: %v", r.name, r.err))
		}
		t.Errorf("invite %s: no racer won (%s)", id, strings.Join(errs, "; "))
		return
	}
	for _, r := range rs {
		if r != winner {
			if msg := ruleMismatch(r.err, winner.wins); msg != "" {
				t.Errorf("invite %s: %s lost to %s: %s", id, r.name, winner.name, msg)
			}
		}
	}
	got, err := s.Get(t.Context(), invites.GetParams{TenantID: tenantA, ID: id})
	if err != nil {
		t.Errorf("Get(%s): %v", id, err)
		return
	}
	if got.Status != winner.wins || got.AcceptedByUserID != winner.userID {
		t.Errorf("invite %s: stored Status %s, AcceptedByUserID %q; want %s, %q as %s won",
			id, got.Status, got.AcceptedByUserID, winner.wins, winner.userID, winner.name)
	}
	if winner.inv.Status != winner.wins || winner.inv.AcceptedByUserID != winner.userID {
		t.Errorf("invite %s: %s returned Status %s, AcceptedByUserID %q", id, winner.name, winner.inv.Status, winner.inv.AcceptedByUserID)
	}
}

// raceEach inserts and mints n invites, runs the racers mk makes for every
// invite, all invites at once, and checks one winner per invite.
func raceEach(t *testing.T, s invites.Store, n int, mk func(inv invites.Invite, digest []byte) []*racer) {
	invs, digests := mintedBatch(t, s, n, "race")
	perInvite := make([][]*racer, len(invs))
	var fns []func()
	for i, inv := range invs {
		perInvite[i] = mk(inv, digests[inv.ID])
		for _, r := range perInvite[i] {
			fns = append(fns, func() { r.inv, r.err = r.run() })
		}
	}
	race(fns...)
	for i, inv := range invs {
		checkOneWinner(t, s, inv.ID, perInvite[i])
	}
}

// contenders makes the racers on one invite at now.
type contenders struct {
	t   *testing.T
	s   invites.Store
	now time.Time
}

func (c contenders) accept(digest []byte, user string) *racer {
	return &racer{name: "Accept by " + user, wins: invites.StatusAccepted, userID: user,
		run: func() (invites.Invite, error) { return accept(c.t.Context(), c.s, digest, user, c.now, yieldHook) }}
}

func (c contenders) decline(digest []byte) *racer {
	return &racer{name: "Decline", wins: invites.StatusDeclined,
		run: func() (invites.Invite, error) { return decline(c.t.Context(), c.s, digest, c.now) }}
}

func (c contenders) cancel(id uuid.UUID) *racer {
	return &racer{name: "Cancel", wins: invites.StatusCanceled,
		run: func() (invites.Invite, error) { return cancelIn(c.t.Context(), c.s, tenantA, id, c.now) }}
}

func testRaceAcceptVsCancel(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	c := contenders{t, s, t0.Add(time.Hour)}
	raceEach(t, s, 200, func(inv invites.Invite, d []byte) []*racer {
		return []*racer{c.accept(d, "user-"+inv.Email), c.cancel(inv.ID)}
	})
}

func testRaceTwoAccepts(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	c := contenders{t, s, t0.Add(time.Hour)}
	raceEach(t, s, 50, func(_ invites.Invite, d []byte) []*racer {
		return []*racer{c.accept(d, "alice"), c.accept(d, "bob")}
	})
}

func testRaceAcceptDeclineCancel(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	c := contenders{t, s, t0.Add(time.Hour)}
	raceEach(t, s, 100, func(inv invites.Invite, d []byte) []*racer {
		return []*racer{c.accept(d, "alice"), c.decline(d), c.cancel(inv.ID), c.accept(d, "bob")}
	})
}

// blockingHook holds Accept inside its hook until released, then answers err.
type blockingHook struct {
	entered, release chan struct{}
	once             sync.Once // a store may call the hook again on a retry
	err              error
}

func newBlockingHook(err error) *blockingHook {
	return &blockingHook{entered: make(chan struct{}), release: make(chan struct{}), err: err}
}

func (h *blockingHook) hook(context.Context, invites.Invite) error {
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return h.err
}

// cancelDuringHook starts Accept with h, and once its hook runs, a Cancel;
// it lets the hook go on after giving Cancel time to act or block.
func cancelDuringHook(t *testing.T, s invites.Store, h *blockingHook) (id uuid.UUID, acc, can *racer) {
	t.Helper()
	p := prepare(t, s, "hook@x.com", stPending)
	ctx, now := t.Context(), p.now
	acc = &racer{name: "Accept", wins: invites.StatusAccepted, userID: "alice"}
	can = &racer{name: "Cancel", wins: invites.StatusCanceled}
	var wg sync.WaitGroup
	wg.Go(func() { acc.inv, acc.err = accept(ctx, s, p.digest, "alice", now, h.hook) })
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		close(h.release)
		wg.Wait()
		t.Fatalf("Accept did not call its hook: %v", acc.err)
	}
	cancelDone := make(chan struct{})
	wg.Go(func() {
		defer close(cancelDone)
		can.inv, can.err = cancelIn(ctx, s, tenantA, p.inv.ID, now)
	})
	select { // a store with row locks blocks Cancel until Accept ends
	case <-cancelDone:
	case <-time.After(50 * time.Millisecond):
	}
	close(h.release)
	wg.Wait()
	return p.inv.ID, acc, can
}

func testRaceCancelDuringHook(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	h := newBlockingHook(nil)
	id, accept, cancel := cancelDuringHook(t, s, h)
	checkOneWinner(t, s, id, []*racer{accept, cancel})
}

func testRaceCancelDuringFailingHook(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	hostErr := errors.New("host refused")
	h := newBlockingHook(hostErr)
	id, accept, cancel := cancelDuringHook(t, s, h)
	// Whichever went first, Accept fails and Cancel wins.
	if cancel.err != nil {
		t.Fatalf("Cancel beside an Accept whose hook failed: %v", cancel.err)
	}
	if !errors.Is(accept.err, hostErr) && ruleMismatch(accept.err, invites.StatusCanceled) != "" {
		t.Fatalf("Accept whose hook failed: %v, want the hook's error or *RuleError{canceled}", accept.err)
	}
	if got := get(t, s, tenantA, id); got.Status != invites.StatusCanceled || got.AcceptedByUserID != "" {
		t.Fatalf("stored Status %s, AcceptedByUserID %q; want canceled, none", got.Status, got.AcceptedByUserID)
	}
}

// Ten addresses, each raced by 50 Inserts of one invite in varied case and
// spacing, beside 50 Inserts of distinct addresses: one stored per address.
func testRaceInsertSameAddress(t *testing.T, newStore func(*testing.T) invites.Store) {
	s, ctx := newStore(t), t.Context()
	const addrs, n = 10, 50
	variants := []string{"same%d@x.com", " Same%d@X.com", "SAME%d@x.com ", "same%d@X.COM", "\tsame%d@x.com"}
	type try struct {
		inv invites.Invite
		res []invites.InsertResult
		err error
	}
	same := make([][]*try, addrs)
	var other []*try
	var fns []func()
	for a := range addrs {
		for i := range n {
			tr := &try{inv: newInvite(tenantA, fmt.Sprintf(variants[i%len(variants)], a), t0)}
			same[a] = append(same[a], tr)
			fns = append(fns, func() {
				tr.res, tr.err = s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: []invites.Invite{tr.inv}})
			})
		}
	}
	for i := range n {
		tr := &try{inv: newInvite(tenantA, fmt.Sprintf("other%02d@x.com", i), t0)}
		other = append(other, tr)
		fns = append(fns, func() {
			tr.res, tr.err = s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: []invites.Invite{tr.inv}})
		})
	}
	race(fns...)
	check := func(tr *try) bool { // reports whether tr was stored
		t.Helper()
		if tr.err != nil || len(tr.res) != 1 {
			t.Fatalf("Insert of %q: %d results, error %v; want one result", tr.inv.Email, len(tr.res), tr.err)
		}
		return tr.res[0].Existing == uuid.Nil
	}
	for _, tr := range other {
		if !check(tr) {
			t.Errorf("Insert of %s (a distinct address) was blocked by %s", tr.inv.Email, tr.res[0].Existing)
		}
	}
	for a, trs := range same {
		var stored []uuid.UUID
		for _, tr := range trs {
			if check(tr) {
				stored = append(stored, tr.inv.ID)
			}
		}
		if len(stored) != 1 {
			t.Fatalf("%d parallel Inserts of same%d@x.com stored %d invites, want 1", n, a, len(stored))
		}
		for _, tr := range trs {
			if e := tr.res[0].Existing; e != uuid.Nil && e != stored[0] {
				t.Errorf("Insert of %q: Existing = %s, want the stored invite %s", tr.inv.Email, e, stored[0])
			}
		}
		got, total, err := s.List(ctx, invites.ListParams{TenantID: tenantA, Now: t0,
			Where: invites.Filter{Status: invites.StatusFilter{EqualTo: invites.StatusPending}, Email: emailIs(fmt.Sprintf("same%d@x.com", a))},
			Order: invites.Order{Field: invites.OrderCreatedAt}, Limit: 100})
		if err != nil || total != 1 || len(got) != 1 || got[0].ID != stored[0] {
			t.Fatalf("List of pending invites of same%d@x.com: %d invites, total %d, error %v; want only %s", a, len(got), total, err, stored[0])
		}
	}
	if ds := claim(t, s, t0, 1000, lease); len(ds) != addrs+n {
		t.Fatalf("claimed %d deliveries after %d stored invites, want one each", len(ds), addrs+n)
	}
}

func testRaceResend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s, ctx := newStore(t), t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "re@x.com", t0))
	r := rules{Cooldown: time.Minute, Max: 5, TTL: ttl}
	const racers = 20
	for round := 1; round <= r.Max+3; round++ {
		svc := r.at(t, s, t0.Add(time.Duration(round)*r.Cooldown))
		errs := make([]error, racers)
		fns := make([]func(), racers)
		for i := range fns {
			fns[i] = func() { _, errs[i] = svc.Resend(ctx, as(tenantA), inv.ID) }
		}
		race(fns...)
		wins := 0
		for _, err := range errs {
			var soon *invites.ResendTooSoonError
			switch {
			case err == nil:
				wins++
			// Once the Max-th resend is in, too many is checked first.
			case round >= r.Max && errors.Is(err, invites.ErrTooManyResends):
			case round < r.Max && errors.As(err, &soon) && soon.RetryAfter == r.Cooldown:
			default:
				t.Errorf("round %d: Resend: %v; want success, or ResendTooSoon{%s} before the Max-th resend and ErrTooManyResends from then on", round, err, r.Cooldown)
			}
		}
		if want := min(1, max(0, r.Max-round+1)); wins != want {
			t.Fatalf("round %d: %d of %d parallel Resends succeeded, want %d", round, wins, racers, want)
		}
	}
	if got := get(t, s, tenantA, inv.ID); got.SendCount != 1+r.Max {
		t.Fatalf("SendCount = %d after racing resends, want %d", got.SendCount, 1+r.Max)
	}
}

func testRaceClaimDeliveries(t *testing.T, newStore func(*testing.T) invites.Store) {
	s, ctx := newStore(t), t.Context()
	const n, workers = 200, 4
	batch := make([]invites.Invite, n)
	for i := range batch {
		batch[i] = newInvite(tenantA, fmt.Sprintf("w%03d@x.com", i), t0)
	}
	insertOK(t, s, t0, batch...)
	claimed := make([][]invites.Claim, workers)
	errs := make([]error, workers)
	fns := make([]func(), workers)
	for w := range fns {
		fns[w] = func() {
			for {
				digests := make([][]byte, 10)
				for i := range digests {
					digests[i] = newDigest(t)
				}
				ds, err := s.ClaimDeliveries(ctx, invites.ClaimParams{Now: t0, Limit: 10, Lease: time.Hour, Digests: digests, ExpiresAt: t0.Add(ttl)})
				if err != nil || len(ds) == 0 {
					errs[w] = err
					return
				}
				if len(ds) > 10 {
					errs[w] = fmt.Errorf("claimed %d deliveries with limit 10", len(ds))
					return
				}
				claimed[w] = append(claimed[w], ds...)
				if len(claimed[w]) > n {
					errs[w] = fmt.Errorf("worker %d claimed %d deliveries of %d queued: leased ones were handed out again", w, len(claimed[w]), n)
					return
				}
			}
		}
	}
	race(fns...)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	byID := map[uuid.UUID]int{}
	invitesSeen := map[uuid.UUID]bool{}
	for w, ds := range claimed {
		for _, d := range ds {
			if prev, dup := byID[d.ID]; dup {
				t.Fatalf("delivery %s was handed to worker %d and worker %d within its lease", d.ID, prev, w)
			}
			if d.Attempt != 1 {
				t.Fatalf("delivery %s: Attempt %d, want 1", d.ID, d.Attempt)
			}
			byID[d.ID] = w
			invitesSeen[d.InviteID] = true
		}
	}
	if len(byID) != n || len(invitesSeen) != n {
		t.Fatalf("%d workers claimed %d deliveries of %d invites, want all %d exactly once", workers, len(byID), len(invitesSeen), n)
	}
}

// Accept by a token (the latest, or one of an earlier attempt) racing a
// Resend that forgets every token: either the accept wins and the resend
// finds the invite accepted, or the resend wins and the token is unknown.
// Never both.
func testRaceAcceptVsResend(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	const n = 40
	batch := make([]invites.Invite, n)
	for i := range batch {
		batch[i] = newInvite(tenantA, fmt.Sprintf("rr%03d@x.com", i), t0)
	}
	invs := insertOK(t, s, t0, batch...)
	// Two attempts of each invitation: a token each.
	tokens := map[uuid.UUID][][]byte{}
	for attempt := 1; attempt <= 2; attempt++ {
		at := t0.Add(time.Duration(attempt) * time.Second)
		ds := claim(t, s, at, 1000, time.Second)
		if len(ds) != n {
			t.Fatalf("attempt %d: claimed %d deliveries, want %d", attempt, len(ds), n)
		}
		for _, d := range ds {
			tokens[d.InviteID] = append(tokens[d.InviteID], d.digest)
			complete(t, s, d.Delivery, invites.DeliveryOutcome{Status: invites.DeliveryQueued, RetryAt: at, Error: "421"})
		}
	}
	now := t0.Add(2 * time.Minute)
	svc := rule.at(t, s, now)
	accepts := make([]error, n)
	resends := make([]error, n)
	var fns []func()
	for i, inv := range invs {
		digest := tokens[inv.ID][i%2] // half by the first attempt's token
		fns = append(fns,
			func() { _, accepts[i] = accept(ctx, s, digest, "u", now, yieldHook) },
			func() { _, resends[i] = svc.Resend(ctx, as(tenantA), inv.ID) })
	}
	race(fns...)
	for i, inv := range invs {
		got := get(t, s, tenantA, inv.ID)
		switch {
		case accepts[i] == nil && resends[i] == nil:
			t.Errorf("invite %d: both the Accept and the Resend succeeded", i)
		case accepts[i] == nil:
			if msg := notPendingMismatch(resends[i], invites.StatusAccepted); msg != "" {
				t.Errorf("invite %d: Resend lost to Accept: %s", i, msg)
			}
			if got.Status != invites.StatusAccepted {
				t.Errorf("invite %d: Accept won but the invite is %s", i, got.Status)
			}
		case resends[i] == nil:
			if !errors.Is(accepts[i], invites.ErrInvalidToken) {
				t.Errorf("invite %d: Accept lost to Resend with %v, want ErrInvalidToken", i, accepts[i])
			}
			if got.Status != invites.StatusPending || got.SendCount != 2 {
				t.Errorf("invite %d: Resend won but the invite is %s with SendCount %d", i, got.Status, got.SendCount)
			}
		default:
			t.Errorf("invite %d: neither won: Accept %v, Resend %v", i, accepts[i], resends[i])
		}
	}
}
