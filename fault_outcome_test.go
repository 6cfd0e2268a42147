package invites_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// onceEach fails the test unless every invite of mail's sends got exactly
// one email, and there are n of them.
func onceEach(t *testing.T, mail *mailertest.Mailer, n int) {
	t.Helper()
	got := sentPer(mail)
	if len(got) != n {
		t.Errorf("%d invites got an email, want %d", len(got), n)
	}
	for id, k := range got {
		if k != 1 {
			t.Errorf("invite %s got %d emails, want exactly 1", id, k)
		}
	}
}

// The database goes away just after a batch was sent, for longer than
// the lease and than the recorder once tried (12 tries, about 8 s): the
// worker keeps the outcomes and renews their leases until the database is
// back, so no email goes twice, and the rest of the outbox goes out within
// seconds of its return.
func TestDeliveryOutcomesOutliveOutage(t *testing.T) {
	f := newFaultDB(t)
	const outage = 10 * time.Second
	mail := &hookMailer{Mailer: mailertest.New()}
	svc := faultService(t, f.via, mail, func(c *invites.Config) {
		c.DeliveryLease = 3 * time.Second
		c.SendTimeout = time.Second
		c.PollInterval = 200 * time.Millisecond
		c.DeliveryWorkers = 2
		c.DeliveryBatch = 10
	})
	const n = 30
	ids := queue(t, svc, n)
	restored := cutAtFifth(f, mail, outage)
	run(t, svc)
	var back time.Time
	select {
	case back = <-restored:
	case <-time.After(outage + 10*time.Second):
		t.Fatal("the database never came back: the cut never happened")
	}
	if !awaitAll(mail.Mailer, ids, back.Add(5*time.Second)) {
		t.Fatalf("5s after the database came back, %d of %d invites have an email", len(sentPer(mail.Mailer)), n)
	}
	time.Sleep(4 * time.Second) // past the lease: a duplicate has its chance to show
	onceEach(t, mail.Mailer, n)
}

// lostClaimReply is a Store whose first claim commits and then answers
// ErrUnavailable, as when the connection drops with the COMMIT's reply on
// the way; its claims then fail for down, as the database is away.
type lostClaimReply struct {
	invites.Store
	down time.Duration

	mu    sync.Mutex
	lost  bool
	until time.Time // claims fail until then
}

func (s *lostClaimReply) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	s.mu.Lock()
	first, until := !s.lost, s.until
	s.lost = true
	s.mu.Unlock()
	if time.Now().Before(until) {
		return nil, invites.ErrUnavailable
	}
	if !first {
		return s.Store.ClaimDeliveries(ctx, p)
	}
	if _, err := s.Store.ClaimDeliveries(ctx, p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.until = time.Now().Add(s.down)
	s.mu.Unlock()
	return nil, invites.ErrUnavailable
}

// back returns when the store answers claims again.
func (s *lostClaimReply) back() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.until
}

// A claim that committed but whose reply was lost does not hold its
// emails for the lease (a minute here): they go out within a second or
// two of the store answering again, each once.
func TestDeliveryAmbiguousClaimResolved(t *testing.T) {
	stores := map[string]func(t *testing.T) invites.Store{
		"memstore": func(*testing.T) invites.Store { return memstore.New() },
		"postgres": func(t *testing.T) invites.Store {
			db := testdb.Postgres(t)
			if err := bunstore.Migrate(t.Context(), db); err != nil {
				t.Fatal(err)
			}
			return bunstore.New(db)
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			store := &lostClaimReply{Store: newStore(t), down: 500 * time.Millisecond}
			mail := mailertest.New()
			svc, err := invites.New(store, mail, invites.Config{
				Tokens:        token.Issuer{},
				AcceptURL:     func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
				Logger:        slog.New(slog.DiscardHandler),
				DeliveryLease: time.Minute,
				PollInterval:  200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			const n = 20
			ids := queue(t, svc, n)
			run(t, svc)
			deadline := time.Now().Add(5 * time.Second)
			for store.back().IsZero() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			back := store.back()
			if back.IsZero() {
				t.Fatal("no claim was made")
			}
			if !awaitAll(mail, ids, back.Add(2*time.Second)) {
				t.Fatalf("2s after the store answered again, %d of %d invites have an email (lease %v)",
					len(sentPer(mail)), n, time.Minute)
			}
			time.Sleep(500 * time.Millisecond)
			onceEach(t, mail, n)
		})
	}
}

// refusing is a Store whose writes of outcomes and leases fail, with an
// error that is not ErrUnavailable (a read-only database's own words),
// until the time it is given.
type refusing struct {
	invites.Store
	mu    sync.Mutex
	until time.Time
}

var errReadOnly = errors.New("cannot execute UPDATE in a read-only transaction")

func (s *refusing) refuses() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.until)
}

func (s *refusing) CompleteDeliveries(ctx context.Context, p invites.CompleteParams) error {
	if s.refuses() {
		return errReadOnly
	}
	return s.Store.CompleteDeliveries(ctx, p)
}

func (s *refusing) RenewDeliveries(ctx context.Context, p invites.RenewParams) ([]uuid.UUID, error) {
	if s.refuses() {
		return nil, errReadOnly
	}
	return s.Store.RenewDeliveries(ctx, p)
}

// Outcomes refused for longer than the recorder once tried (12 tries,
// about 8 s), but within the lease, are recorded once the store takes
// writes again, rather than given up on and sent again after the lease.
func TestDeliveryOutcomesOutliveRefusals(t *testing.T) {
	store := &refusing{Store: memstore.New()}
	mail := mailertest.New()
	svc, err := invites.New(store, mail, invites.Config{
		Tokens:        token.Issuer{},
		AcceptURL:     func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Logger:        slog.New(slog.DiscardHandler),
		DeliveryLease: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := queue(t, svc, 3)
	const window = 9 * time.Second
	store.mu.Lock()
	store.until = time.Now().Add(window)
	store.mu.Unlock()
	if n, err := svc.DeliverPending(t.Context()); n != 3 || err != nil {
		t.Fatalf("DeliverPending = %d, %v; want the 3 emails sent (it returns once their outcomes are recorded)", n, err)
	}
	for _, id := range ids {
		inv, err := svc.Get(t.Context(), admin, id)
		if err != nil || inv.DeliveryStatus != invites.DeliverySent {
			t.Fatalf("invite %s after the refusals: DeliveryStatus %s, %v; want sent", id, inv.DeliveryStatus, err)
		}
	}
	onceEach(t, mail, 3)
}

// refusingOutcomes is a Store that renews leases but refuses every
// outcome: no outage, a fault that will not pass.
type refusingOutcomes struct{ invites.Store }

func (refusingOutcomes) CompleteDeliveries(context.Context, invites.CompleteParams) error {
	return errors.New("outcome refused")
}

// Outcomes the store refuses while it renews their leases are given up
// on after a dozen tries (their emails go again after the lease), so a
// fault that never passes cannot hold the worker.
func TestDeliveryRefusedOutcomesGivenUp(t *testing.T) {
	mail := mailertest.New()
	svc, err := invites.New(refusingOutcomes{memstore.New()}, mail, invites.Config{
		Tokens:        token.Issuer{},
		AcceptURL:     func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Logger:        slog.New(slog.DiscardHandler),
		DeliveryLease: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	queue(t, svc, 2)
	done := make(chan int, 1)
	go func() { n, _ := svc.DeliverPending(t.Context()); done <- n }()
	select {
	case n := <-done:
		if n != 2 {
			t.Fatalf("DeliverPending sent %d, want 2", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("DeliverPending still retries outcomes the store refuses while it renews their leases")
	}
}
