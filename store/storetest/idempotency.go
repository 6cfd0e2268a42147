package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The cases of idempotency keys (invites.Idempotency): the record commits
// with the write it guards, a replay writes nothing, and racing writes of
// one key make one write.
var idempotencyCases = []testCase{
	{"Idempotency/InsertReplay", testKeyInsertReplay},
	{"Idempotency/Scoped", testKeyScoped},
	{"Idempotency/AnswerErrorKeepsNothing", testKeyAnswerError},
	{"Idempotency/Expired", testKeyExpired},
	{"Idempotency/ChangeReplay", testKeyChangeReplay},
	{"Idempotency/ForgetReplay", testKeyForgetReplay},
	{"Idempotency/Prune", testKeyPrune},
	{"Race/IdempotentInsert", testRaceKeyInsert},
	{"Race/IdempotentChange", testRaceKeyChange},
}

// key is an idempotency key of tenantA's admin with fingerprint fp, kept
// until a day after t0.
func key(k, fp string) *invites.Idempotency {
	return &invites.Idempotency{TenantID: tenantA, Scope: "user:admin", Key: k, Fingerprint: []byte(fp), ExpiresAt: t0.Add(24 * time.Hour)}
}

// keyedInsert inserts invs under k, keeping answer; it returns the results
// and the error.
func keyedInsert(t *testing.T, s invites.Store, now time.Time, k *invites.Idempotency, answer string, invs ...invites.Invite) ([]invites.InsertResult, error) {
	t.Helper()
	return s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: invs, Idempotency: k,
		Answer: func(rs []invites.InsertResult) ([]byte, error) {
			if len(rs) != len(invs) {
				return nil, fmt.Errorf("answer got %d results, want %d", len(rs), len(invs))
			}
			return []byte(answer), nil
		}})
}

// wantReplay fails the test unless err is a replay of answer.
func wantReplay(t *testing.T, what string, err error, answer string) {
	t.Helper()
	var re *invites.ReplayError
	if !errors.As(err, &re) || string(re.Answer) != answer {
		t.Fatalf("%s: got %v, want a replay of %q", what, err, answer)
	}
}

// wantNone fails the test unless tenant holds no invite id.
func wantNone(t *testing.T, s invites.Store, tenant string, id uuid.UUID) {
	t.Helper()
	_, err := s.Get(t.Context(), invites.GetParams{TenantID: tenant, ID: id})
	wantIs(t, "Get of an invite a replay must not store", err, invites.ErrNotFound)
}

func testKeyInsertReplay(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	first := newInvite(tenantA, "ann@example.com", t0)
	res, err := keyedInsert(t, s, t0, key("k1", "fp"), `{"first":1}`, first)
	if err != nil || res[0].Invite.ID != first.ID {
		t.Fatalf("first keyed Insert: %v, %+v", err, res)
	}
	// The retry carries new ids, as Send makes them afresh.
	again := newInvite(tenantA, "ann@example.com", t0.Add(time.Second))
	_, err = keyedInsert(t, s, t0.Add(time.Second), key("k1", "fp"), `{"second":1}`, again)
	wantReplay(t, "Insert with the key again", err, `{"first":1}`)
	wantNone(t, s, tenantA, again.ID)

	other := newInvite(tenantA, "bob@example.com", t0.Add(time.Second))
	_, err = keyedInsert(t, s, t0.Add(time.Second), key("k1", "another"), `{}`, other)
	wantIs(t, "Insert with the key and another fingerprint", err, invites.ErrIdempotencyMismatch)
	wantNone(t, s, tenantA, other.ID)

	// A key with no invites is kept too (a batch whose items all failed).
	if _, err := keyedInsert(t, s, t0, key("empty", "fp"), `{"none":1}`); err != nil {
		t.Fatalf("keyed Insert of no invites: %v", err)
	}
	_, err = keyedInsert(t, s, t0, key("empty", "fp"), `{}`)
	wantReplay(t, "empty Insert with the key again", err, `{"none":1}`)
	if evs := historyOf(t, s, first); len(evs) != 1 {
		t.Fatalf("the invite has %d events, want its one EventCreated", len(evs))
	}
}

func testKeyScoped(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	base := key("k", "fp")
	other := *base
	other.Scope = "user:other"
	tenant := *base
	tenant.TenantID = tenantB
	for i, k := range []*invites.Idempotency{base, &other, &tenant} {
		inv := newInvite(k.TenantID, fmt.Sprintf("u%d@example.com", i), t0)
		if _, err := keyedInsert(t, s, t0, k, fmt.Sprint(i), inv); err != nil {
			t.Fatalf("Insert under key %+v: %v, want the key free in its own scope", k, err)
		}
		get(t, s, k.TenantID, inv.ID)
	}
}

func testKeyAnswerError(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	boom := errors.New("boom")
	inv := newInvite(tenantA, "ann@example.com", t0)
	_, err := s.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: []invites.Invite{inv}, Idempotency: key("k", "fp"),
		Answer: func([]invites.InsertResult) ([]byte, error) { return nil, boom }})
	wantIs(t, "Insert whose Answer fails", err, boom)
	wantNone(t, s, tenantA, inv.ID)
	if _, err := keyedInsert(t, s, t0, key("k", "fp"), "ok", inv); err != nil {
		t.Fatalf("Insert after a failed one of the same key: %v, want it written", err)
	}
	get(t, s, tenantA, inv.ID)

	stored := insertOne(t, s, t0, newInvite(tenantA, "bob@example.com", t0))
	_, err = s.Change(t.Context(), invites.ChangeParams{LedgerKey: ledgerKey, Now: t0, TenantID: tenantA, ID: stored.ID, ActorID: "admin",
		From: []invites.Status{invites.StatusPending}, Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled},
		Idempotency: key("c", "fp"), Answer: func(invites.Invite) ([]byte, error) { return nil, boom }})
	wantIs(t, "Change whose Answer fails", err, boom)
	if got := get(t, s, tenantA, stored.ID); got.Status != invites.StatusPending {
		t.Fatalf("after a Change whose Answer failed the invite is %s, want pending", got.Status)
	}
}

func testKeyExpired(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	k := key("k", "fp")
	if _, err := keyedInsert(t, s, t0, k, "first", newInvite(tenantA, "ann@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	// At ExpiresAt the record is gone, whatever its fingerprint.
	later := k.ExpiresAt
	next := *k
	next.Fingerprint, next.ExpiresAt = []byte("new"), later.Add(24*time.Hour)
	inv := newInvite(tenantA, "bob@example.com", later)
	if _, err := keyedInsert(t, s, later, &next, "second", inv); err != nil {
		t.Fatalf("Insert with an expired key: %v, want it written", err)
	}
	get(t, s, tenantA, inv.ID)
	_, err := keyedInsert(t, s, later, &next, "third", newInvite(tenantA, "cy@example.com", later))
	wantReplay(t, "Insert with the renewed key", err, "second")
}

// cancelKeyed cancels id under k, keeping the invite's status as answer.
func cancelKeyed(t *testing.T, s invites.Store, id uuid.UUID, k *invites.Idempotency, hook func() error) (invites.Invite, error) {
	p := invites.ChangeParams{LedgerKey: ledgerKey, Now: t0, TenantID: tenantA, ID: id, ActorID: "admin",
		From: []invites.Status{invites.StatusPending}, Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled},
		Idempotency: k, Answer: func(inv invites.Invite) ([]byte, error) {
			return []byte(inv.ID.String() + " " + string(inv.Status)), nil
		}}
	if hook != nil {
		p.Hook = func(context.Context, invites.Invite) error { return hook() }
	}
	return s.Change(t.Context(), p)
}

func testKeyChangeReplay(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "ann@example.com", t0))
	if _, err := cancelKeyed(t, s, inv.ID, key("c", "fp"), nil); err != nil {
		t.Fatalf("keyed cancel: %v", err)
	}
	want := inv.ID.String() + " canceled"
	_, err := cancelKeyed(t, s, inv.ID, key("c", "fp"), nil)
	wantReplay(t, "cancel again with the key", err, want)
	_, err = cancelKeyed(t, s, inv.ID, key("c", "other"), nil)
	wantIs(t, "cancel with the key and another fingerprint", err, invites.ErrIdempotencyMismatch)
	_, err = cancelKeyed(t, s, inv.ID, key("c2", "fp"), nil)
	var re *invites.RuleError
	if !errors.As(err, &re) {
		t.Fatalf("cancel of a canceled invite with a new key: %v, want a *RuleError", err)
	}
	if evs := historyOf(t, s, inv); len(evs) != 2 {
		t.Fatalf("the invite has %d events, want created and one canceled", len(evs))
	}
}

func testKeyForgetReplay(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	u := needUpkeep(t, s)
	first := insertOne(t, s, t0, newInvite(tenantA, "ann@example.com", t0))
	forget := func(fp string) ([]uuid.UUID, error) {
		return u.Forget(t.Context(), invites.ForgetParams{Now: t0, TenantID: tenantA, Email: "ann@example.com", ActorID: "admin",
			Idempotency: key("f", fp), Answer: func(ids []uuid.UUID) ([]byte, error) { return []byte(fmt.Sprint(ids)), nil }})
	}
	if ids, err := forget("fp"); err != nil || len(ids) != 1 || ids[0] != first.ID {
		t.Fatalf("keyed Forget: %v, %v, want the invite's id", ids, err)
	}
	second := insertOne(t, s, t0, newInvite(tenantA, "ann@example.com", t0))
	_, err := forget("fp")
	wantReplay(t, "Forget again with the key", err, fmt.Sprint([]uuid.UUID{first.ID}))
	get(t, s, tenantA, second.ID)
	_, err = forget("other")
	wantIs(t, "Forget with the key and another fingerprint", err, invites.ErrIdempotencyMismatch)
	get(t, s, tenantA, second.ID)
}

func testKeyPrune(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	for i := range 3 {
		k := key(fmt.Sprint(i), "fp")
		k.ExpiresAt = t0.Add(time.Duration(i+1) * time.Hour)
		if _, err := keyedInsert(t, s, t0, k, "a", newInvite(tenantA, fmt.Sprintf("u%d@example.com", i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	// The first two expired before t0+2h30; Limit takes the first.
	cut := t0.Add(150 * time.Minute)
	prune(t, s, invites.PruneParams{KeysBefore: cut, Limit: 1}, invites.PruneResult{Keys: 1})
	prune(t, s, invites.PruneParams{KeysBefore: cut, Limit: 10}, invites.PruneResult{Keys: 1})
	prune(t, s, invites.PruneParams{KeysBefore: cut, Limit: 10}, invites.PruneResult{})
	k := key("2", "fp")
	k.ExpiresAt = t0.Add(3 * time.Hour)
	_, err := keyedInsert(t, s, t0, k, "b")
	wantReplay(t, "the live key after Prune", err, "a")
}

// racers is how many writes of one key race.
const racers = 16

func testRaceKeyInsert(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	var wrote atomic.Int32
	answers := make([]string, racers)
	fns := make([]func(), racers)
	for i := range fns {
		fns[i] = func() {
			// Each racer sends its own address, so without the key each
			// would be stored.
			inv := newInvite(tenantA, fmt.Sprintf("r%d@example.com", i), t0)
			_, err := keyedInsert(t, s, t0, key("k", "fp"), inv.ID.String(), inv)
			var re *invites.ReplayError
			switch {
			case err == nil:
				wrote.Add(1)
				answers[i] = inv.ID.String()
			case errors.As(err, &re):
				answers[i] = string(re.Answer)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}
	}
	race(fns...)
	if wrote.Load() != 1 {
		t.Fatalf("%d racers wrote under one key, want 1", wrote.Load())
	}
	id := uuid.MustParse(answers[0])
	for i, a := range answers {
		if a != answers[0] {
			t.Fatalf("racer %d got answer %q, racer 0 %q: want the one write's", i, a, answers[0])
		}
	}
	get(t, s, tenantA, id)
	if _, n, err := s.List(t.Context(), invites.ListParams{TenantID: tenantA, Now: t0, Limit: 100}); err != nil || n != 1 {
		t.Fatalf("List: %d invites (%v), want the one write's", n, err)
	}
}

func testRaceKeyChange(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "ann@example.com", t0))
	want := []byte(inv.ID.String() + " canceled")
	var hooks atomic.Int32
	fns := make([]func(), racers)
	for i := range fns {
		fns[i] = func() {
			_, err := cancelKeyed(t, s, inv.ID, key("k", "fp"), func() error { hooks.Add(1); return yieldHook(t.Context(), inv) })
			var re *invites.ReplayError
			if err != nil && (!errors.As(err, &re) || !bytes.Equal(re.Answer, want)) {
				t.Errorf("racer %d: %v, want the cancel or its replay", i, err)
			}
		}
	}
	race(fns...)
	if hooks.Load() != 1 {
		t.Fatalf("the hook ran %d times, want once: one write under the key", hooks.Load())
	}
	if evs := historyOf(t, s, inv); len(evs) != 2 {
		t.Fatalf("the invite has %d events, want created and one canceled", len(evs))
	}
}
