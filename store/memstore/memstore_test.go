package memstore

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/token"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// sent inserts an invite and runs its delivery up to the minted token, as
// the Service's worker would.
// ledgerKey keys the send ledger of the tests' writes, as a Service would.
func ledgerKey(n string) []byte { return invites.LedgerKey(make([]byte, invites.MinLedgerSecret), n) }

func sent(t *testing.T, s *Store) (invites.Invite, invites.Token, []byte) {
	t.Helper()
	ctx := context.Background()
	res, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: t0, Invites: []invites.Invite{{
		ID: uuid.Must(uuid.NewV7()), TenantID: "t1", Email: "Ann@Example.com",
		FirstName: "Ann", Roles: []string{"member"}, Data: []byte(`{"a":1}`), Status: invites.StatusPending,
		ExpiresAt: t0.Add(time.Hour), CreatedByUserID: "u1", SendCount: 1, LastSentAt: t0,
		CreatedAt: t0, UpdatedAt: t0, StatusUpdatedAt: t0, DeliveryStatus: invites.DeliveryQueued,
	}}})
	if err != nil || res[0].Existing != uuid.Nil {
		t.Fatalf("Insert = %+v, %v", res, err)
	}
	return mint(t, s, t0)
}

func mint(t *testing.T, s *Store, now time.Time) (invites.Invite, invites.Token, []byte) {
	t.Helper()
	tok, dig, err := token.Issuer{}.New()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimDeliveries(context.Background(), invites.ClaimParams{
		Now: now, Limit: 1, Lease: time.Minute, Digests: [][]byte{dig}, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil || len(cs) != 1 {
		t.Fatalf("ClaimDeliveries = %v, %v", cs, err)
	}
	inv := cs[0].Invite
	return inv, tok, dig
}

func TestDumpHoldsNoPlaintextToken(t *testing.T) {
	s := New()
	inv, tok1, dig1 := sent(t, s)
	now := t0.Add(2 * time.Minute)
	if _, err := s.Change(context.Background(), invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: "t1", ID: inv.ID,
		Edit: invites.Edit{Renew: true, ExpiresAt: now.Add(time.Hour), Event: invites.EventResent},
		From: []invites.Status{invites.StatusPending}}); err != nil {
		t.Fatal(err)
	}
	_, tok2, dig2 := mint(t, s, now)

	dump := s.Dump()
	for _, tok := range []invites.Token{tok1, tok2} {
		if strings.Contains(dump, tok.Reveal()) {
			t.Fatalf("dump holds a plaintext token:\n%s", dump)
		}
	}
	if !strings.Contains(dump, hex.EncodeToString(dig2)) {
		t.Errorf("dump lacks the current digest:\n%s", dump)
	}
	if strings.Contains(dump, hex.EncodeToString(dig1)) {
		t.Errorf("dump still holds the digest a resend forgot:\n%s", dump)
	}
	if !strings.Contains(dump, "Ann@Example.com") || !strings.Contains(dump, `{"a":1}`) {
		t.Errorf("dump does not render the invite:\n%s", dump)
	}
}

func TestReturnsCopies(t *testing.T) {
	s := New()
	inv, _, _ := sent(t, s)
	inv.Roles[0] = "admin"
	inv.Data[1] = 'X'
	got, err := s.Get(context.Background(), invites.GetParams{TenantID: "t1", ID: inv.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Roles[0] != "member" || string(got.Data) != `{"a":1}` {
		t.Fatalf("caller changed the stored invite: %+v", got)
	}
	if _, err := s.Get(context.Background(), invites.GetParams{TenantID: "t2", ID: inv.ID}); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Get from another tenant = %v, want ErrNotFound", err)
	}
}

// hookInFlight starts an Accept whose hook blocks until release is closed
// and returns what the hook then returns; it waits until the hook runs.
func hookInFlight(t *testing.T, s *Store, dig []byte, hookErr error) (release chan struct{}, done chan error) {
	t.Helper()
	entered := make(chan struct{})
	release = make(chan struct{})
	done = make(chan error, 1)
	go func() {
		_, err := accept(s, dig, func(_ context.Context, inv invites.Invite) error {
			if inv.Status != invites.StatusAccepted || inv.AcceptedByUserID != "u2" {
				t.Errorf("hook got %+v", inv)
			}
			close(entered)
			<-release
			return hookErr
		})
		done <- err
	}()
	<-entered
	return release, done
}

// cancelWaiting starts a Cancel and returns once it is blocked on the busy
// invite.
func cancelWaiting(t *testing.T, s *Store, ctx context.Context, id uuid.UUID) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		inv, err := cancel(ctx, s, id)
		if err == nil && inv.Status != invites.StatusCanceled {
			t.Errorf("Cancel returned %+v", inv)
		}
		done <- err
	}()
	for {
		s.mu.Lock()
		n := s.waiters
		s.mu.Unlock()
		if n == 1 {
			return done
		}
		select {
		case err := <-done:
			t.Fatalf("Cancel did not wait for the hook: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
}

func TestCancelWaitsForAcceptHook(t *testing.T) {
	s := New()
	inv, _, dig := sent(t, s)
	release, accepted := hookInFlight(t, s, dig, nil)
	canceled := cancelWaiting(t, s, context.Background(), inv.ID)

	// Reads do not wait, and see the invite as it was.
	if got, err := s.Lookup(context.Background(), invites.LookupParams{Digest: dig}); err != nil || got.Status != invites.StatusPending {
		t.Fatalf("Lookup during hook = %v, %v", got.Status, err)
	}
	close(release)
	if err := <-accepted; err != nil {
		t.Fatalf("Accept: %v", err)
	}
	var re *invites.RuleError
	if err := <-canceled; !errors.As(err, &re) || re.Invite.Status != invites.StatusAccepted {
		t.Fatalf("Cancel = %v, want a RuleError of the accepted invite", err)
	}
}

func TestCancelWinsAfterFailedHook(t *testing.T) {
	s := New()
	inv, _, dig := sent(t, s)
	hookErr := errors.New("host said no")
	release, accepted := hookInFlight(t, s, dig, hookErr)
	canceled := cancelWaiting(t, s, context.Background(), inv.ID)
	close(release)
	if err := <-accepted; err != hookErr {
		t.Fatalf("Accept = %v, want the hook's error unchanged", err)
	}
	if err := <-canceled; err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got, _ := s.Lookup(context.Background(), invites.LookupParams{Digest: dig}); got.Status != invites.StatusCanceled {
		t.Fatalf("Lookup after cancel = %v", got.Status)
	}
}

func TestWaitingWriterHonoursContext(t *testing.T) {
	s := New()
	inv, _, dig := sent(t, s)
	release, accepted := hookInFlight(t, s, dig, nil)
	ctx, cancel := context.WithCancel(context.Background())
	canceled := cancelWaiting(t, s, ctx, inv.ID)
	cancel()
	if err := <-canceled; !errors.Is(err, context.Canceled) {
		t.Fatalf("Cancel = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-accepted; err != nil {
		t.Fatalf("Accept: %v", err)
	}
}

func TestPanickingHookFreesInvite(t *testing.T) {
	s := New()
	inv, _, dig := sent(t, s)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("hook panic was swallowed")
			}
		}()
		_, _ = accept(s, dig, func(context.Context, invites.Invite) error {
			panic("boom")
		})
	}()
	got, err := cancel(context.Background(), s, inv.ID)
	if err != nil || got.Status != invites.StatusCanceled {
		t.Fatalf("Cancel after panic = %v, %v", got.Status, err)
	}
}

// accept is the Service's accept of dig by u2 at t0, with hook.
func accept(s *Store, dig []byte, hook func(context.Context, invites.Invite) error) (invites.Invite, error) {
	return s.Change(context.Background(), invites.ChangeParams{LedgerKey: ledgerKey, Now: t0, Digest: dig, ActorID: "u2",
		From: []invites.Status{invites.StatusPending}, Live: true, Hook: hook,
		Edit: invites.Edit{Status: invites.StatusAccepted, AcceptedByUserID: "u2", Event: invites.EventAccepted}})
}

// cancel is the Service's cancel of id by u1 of t1 at t0.
func cancel(ctx context.Context, s *Store, id uuid.UUID) (invites.Invite, error) {
	return s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: t0, TenantID: "t1", ID: id, ActorID: "u1",
		From: []invites.Status{invites.StatusPending, invites.StatusExpired},
		Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}})
}
