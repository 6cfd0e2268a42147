package invites

import "context"

// Upkeep, the steps Run makes on each PollInterval besides the deliveries
// (ExpireDue, Prune), and Stats, the outbox's health and the readiness
// check.

// pruneBatch is how many invites, and how many events, one Prune step
// deletes: small enough that a step holds its locks for milliseconds
// beside the sends, and a pass of Run stops after pruneSteps of them so
// it never falls far behind its deliveries; the next pass goes on.
const (
	pruneBatch = 200
	pruneSteps = 50
)

// Stats reads the health of the outbox and of the events' handling, and
// of Run in this process (LastPassAt, WorkerStalled). It fails, with the
// store's error, when the store cannot be reached, so it serves as a
// readiness check too.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	now := s.cfg.Now()
	st, err := s.store.Stats(ctx, StatsParams{Now: now})
	if err != nil {
		return st, err
	}
	s.worker.fillStats(&st, now, 2*s.cfg.PassTimeout)
	return st, nil
}

// Prune deletes what Config.Retention and EventRetention keep no longer,
// the idempotency keys past Config.IdempotencyTTL, and the send ledger's
// rows older than the longest quota window (MinRetention), in small
// batches, and returns how much it deleted. Run calls it at each
// PollInterval. On a store that is no UpkeepStore it answers an error
// wrapping ErrUnsupported, and Run does not call it.
func (s *Service) Prune(ctx context.Context) (PruneResult, error) {
	var total PruneResult
	u, err := s.upkeep("Prune")
	if err != nil {
		return total, err
	}
	now := s.cfg.Now()
	p := PruneParams{Limit: pruneBatch, KeysBefore: now, SendsBefore: now.Add(-MinRetention)}
	if s.cfg.Retention > 0 {
		p.InvitesBefore = now.Add(-s.cfg.Retention)
	}
	if s.cfg.EventRetention > 0 {
		p.EventsBefore = now.Add(-s.cfg.EventRetention)
	}
	for range pruneSteps {
		if ctx.Err() != nil {
			break
		}
		r, err := u.Prune(ctx, p)
		total.Invites += r.Invites
		total.Events += r.Events
		total.Keys += r.Keys
		total.Sends += r.Sends
		if err != nil {
			return total, err
		}
		if r.Invites < p.Limit && r.Events < p.Limit && r.Keys < p.Limit && r.Sends < p.Limit {
			break
		}
	}
	return total, nil
}

// expireBatch is how many invites one ExpireDue step marks.
const expireBatch = 500

// ExpireDue marks every pending invite past its expiry as expired, so its
// EventExpired is written (and told to OnEvent) even if nobody touches the
// invite again. Run calls it; it returns how many it marked.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := s.store.ExpireDue(ctx, ExpireParams{Now: s.cfg.Now(), Limit: expireBatch})
		total += n
		if n > 0 {
			s.cfg.Observer.Events(ctx, EventExpired, n)
		}
		if err != nil || n < expireBatch {
			return total, err
		}
	}
	return total, nil
}
