package invites

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The delivery engine. Run wakes on a send (or every PollInterval) and
// makes a pass: it claims due deliveries a batch at a time, their tokens
// minted in the claim's own commit; DeliveryWorkers senders take them off
// a queue, and one recorder writes their outcomes in groups, as many as
// have finished, in a commit that need not wait for its flush. The next
// claim goes out while half a batch still waits, so the senders never run
// dry waiting for the slowest email of a batch. A pass holds at most two
// of the store's connections at once: the claimer's, which also renews
// the leases of what is in flight, and the recorder's.

// wakeDelay is how long Run lets further sends join a pass it was woken
// for, so a burst of single sends is claimed as one batch.
const wakeDelay = 5 * time.Millisecond

// Run delivers queued email, marks invites expired, deletes what
// Config.Retention and EventRetention keep no longer (on an UpkeepStore;
// see Prune), and hands events to
// Config.OnEvent until ctx ends, then returns nil. It wakes at once when
// this process queues a delivery and every PollInterval for those queued by
// others or due for retry; after a failed pass it tries again within a
// second, not a whole PollInterval, so the outbox goes on within a second
// or two of the store's return. A pass longer than Config.PassTimeout is
// stopped and Run starts anew (see Stats' WorkerStalled). Several Runs, in
// one process or
// many, share the work: the Store hands each delivery and event to one of
// them.
func (s *Service) Run(ctx context.Context) error {
	defer s.worker.start(s.cfg.Now())()
	t := time.NewTimer(0)
	defer t.Stop()
	var retry time.Duration
	for {
		tick := false
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			tick = true
		case <-s.wake:
			select {
			case <-ctx.Done():
			case <-time.After(wakeDelay):
			}
			select { // the wakes of the delay are this pass's
			case <-s.wake:
			default:
			}
		}
		err := s.health.report(ctx, s.cfg.Logger, s.watch(ctx, tick))
		next := s.cfg.PollInterval
		if err != nil && ctx.Err() == nil {
			retry = min(max(2*retry, 100*time.Millisecond), time.Second, s.cfg.PollInterval)
			next = retry
		} else {
			retry = 0
		}
		t.Reset(next)
	}
}

// health logs a worker's failures: an outage of the store once, when it
// starts and when it ends, any other failure each time.
type health struct{ down atomic.Bool }

// passErrors are the failures of one pass of Run.
type passErrors struct{ delivery, expiry, prune, event error }

// report logs the failures of one pass and returns them joined. A pass
// with any part unavailable counts as the store being away; only a pass
// without failures counts as its return.
func (h *health) report(ctx context.Context, log *slog.Logger, e passErrors) error {
	err := errors.Join(e.delivery, e.expiry, e.prune, e.event)
	switch {
	case ctx.Err() != nil:
	case err == nil:
		if h.down.CompareAndSwap(true, false) {
			log.InfoContext(ctx, "invites: the store is back; the worker goes on")
		}
	case errors.Is(err, ErrUnavailable):
		if h.down.CompareAndSwap(false, true) {
			log.ErrorContext(ctx, "invites: the store is unavailable; the worker retries until it is back", "err", err)
		}
	default:
		for what, err := range map[string]error{"delivery": e.delivery, "expiry": e.expiry, "prune": e.prune, "event": e.event} {
			if err != nil {
				log.ErrorContext(ctx, "invites: "+what+" pass failed", "err", err)
			}
		}
	}
	return err
}

// DeliverPending makes one pass over the outbox: it claims due deliveries
// batch by batch until none is left, sends each, and records the outcomes.
// It returns how many emails went out. A failed send is not an error here:
// it is recorded on the delivery and retried later.
func (s *Service) DeliverPending(ctx context.Context) (int, error) {
	p := &pass{
		s:       s,
		ctx:     ctx,
		jobs:    make(chan job, 2*s.cfg.DeliveryBatch),
		results: make(chan DeliveryOutcome, 2*s.cfg.DeliveryBatch),
		changed: make(chan struct{}, 1),
		flying:  map[uuid.UUID]*flight{},
	}
	return p.run()
}

// backoff returns the wait after attempt failed: RetryBase doubling per
// attempt up to RetryMax, drawn from its upper half so workers do not
// retry in step.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempt && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}
