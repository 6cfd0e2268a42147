package invites

import (
	"context"
	"time"
)

// DispatchEvents: the committed events handed to Config.OnEvent, each
// claimed by one worker and retried after the delivery backoff.

// DispatchEvents makes one pass over the events not yet handled, calling
// Config.OnEvent for each in order per invite, and returns how many it
// handled. An event whose handler fails is retried after the delivery
// backoff; the ones after it of the same invite wait for it. Without
// OnEvent it does nothing and the events wait.
func (s *Service) DispatchEvents(ctx context.Context) (int, error) {
	if s.cfg.OnEvent == nil {
		return 0, nil
	}
	handled := 0
	for ctx.Err() == nil {
		batch, err := s.store.ClaimEvents(ctx, ClaimEventsParams{Now: s.cfg.Now(), Limit: s.cfg.EventBatch, Lease: s.cfg.EventLease})
		if err != nil {
			return handled, err
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if s.dispatch(ctx, e) {
				handled++
			}
		}
	}
	return handled, nil
}

// dispatch hands e to OnEvent and records the outcome, handing e back at
// once if the worker stops.
func (s *Service) dispatch(ctx context.Context, e Event) bool {
	log := s.cfg.Logger.With("event", e.ID, "invite", e.InviteID, "type", e.Type, "attempt", e.Attempt)
	var retryAt time.Time
	err := ctx.Err()
	if err == nil {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.EventTimeout)
		err = s.cfg.OnEvent(hctx, e.forHost())
		cancel()
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		retryAt = s.cfg.Now()
	default:
		retryAt = s.cfg.Now().Add(s.backoff(e.Attempt))
		log.WarnContext(ctx, "invites: event handler failed; will retry", "err", err, "retryAt", retryAt)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if cerr := s.store.CompleteEvent(rctx, CompleteEventParams{Event: e, RetryAt: retryAt}); cerr != nil {
		log.WarnContext(ctx, "invites: recording the event outcome failed", "err", cerr)
		return false
	}
	return err == nil
}
