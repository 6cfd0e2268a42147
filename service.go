package invites

import (
	"context"
	"errors"
	"fmt"
)

// The Service and what its methods share: New, the wake of Run, the
// Observer's hooks, and Config.Authorize and CanGrant. Each method's file
// is named after it: send.go, read.go (Get, Lookup, Check, History),
// list.go, change.go (Cancel, Resend, Update, Accept, Decline), forget.go,
// bounce.go, deliver.go (DeliverPending), events.go (DispatchEvents),
// upkeep.go (ExpireDue, Prune, Stats) and worker.go (Run).

// Service holds the lifecycle rules over any Store. It is safe for
// concurrent use; the Store makes each step atomic.
type Service struct {
	store  Store
	mailer Mailer
	cfg    Config
	// wake nudges Run when this process queues a delivery.
	wake chan struct{}
	// health remembers whether Run's last pass found the store away, so an
	// outage is logged once.
	health health
	// ledger keeps the send ledger's secret (see ledgerKey).
	ledger ledger
	// worker is what Stats tells of Run.
	worker worker
	// outbox is what the delivery passes share: claims to release, and
	// outcomes waiting for the store.
	outbox outbox
}

// New returns a Service on store that sends email through mailer. Every
// call the Service makes to store is bounded by Config.StoreTimeout (List
// by ListTimeout).
func New(store Store, mailer Mailer, cfg Config) (*Service, error) {
	if store == nil || mailer == nil {
		return nil, errors.New("invites: New needs a Store and a Mailer")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := canKeep(store, cfg); err != nil {
		return nil, err
	}
	s := &Service{store: bound(store, cfg.StoreTimeout), mailer: mailer, cfg: cfg, wake: make(chan struct{}, 1)}
	s.ledger.secret = cfg.LedgerSecret
	cfg.Observer.WatchStats(s.Stats)
	return s, nil
}

func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// committed tells the Observer of n events of type t that committed, and
// wakes Run to hand them to Config.OnEvent now rather than at the next
// poll.
func (s *Service) committed(ctx context.Context, t EventType, n int) {
	s.cfg.Observer.Events(ctx, t, n)
	if s.cfg.OnEvent != nil {
		s.notify()
	}
}

// trace is what the Observer keeps with the deliveries queued in ctx.
func (s *Service) trace(ctx context.Context) string {
	if t := s.cfg.Observer.Trace(ctx); len(t) <= MaxTraceBytes {
		return t
	}
	return ""
}

// authorize asks Config.Authorize whether actor may do op to inv.
func (s *Service) authorize(ctx context.Context, actor Actor, op Op, inv *Invite) error {
	if s.cfg.Authorize == nil {
		return nil
	}
	if err := s.cfg.Authorize(ctx, actor, op, inv); err != nil {
		return &ForbiddenError{Op: op, Err: err}
	}
	return nil
}

func (s *Service) grantable(actor Actor, roles []string) error {
	for _, r := range roles {
		if !s.cfg.CanGrant(actor, r) {
			return fmt.Errorf("%w: the actor may not grant the role %q", ErrForbiddenRole, r)
		}
	}
	return nil
}
