package invites

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// DeliverPending, the delivery engine, and the backoff of its retries
// (which DispatchEvents shares). The pass itself is in pass.go, what the
// passes share while the store is away in settle.go.
//
// Run wakes on a send (or every PollInterval) and makes a pass: it claims
// due deliveries a batch at a time, their tokens minted in the claim's own
// commit; DeliveryWorkers senders take them off a queue, and one recorder
// writes their outcomes in groups, as many as have finished, in a commit
// that need not wait for its flush. The next claim goes out while half a
// batch still waits, so the senders never run dry waiting for the slowest
// email of a batch. A pass holds at most two of the store's connections at
// once: the claimer's, which also renews the leases of what is in flight,
// and the recorder's.

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
