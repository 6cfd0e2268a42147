package invites

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Run, the background worker, and its health: its loop (Run), the watchdog
// that bounds each pass (watch), the outage it logs once (health), and what
// Stats tells of it (worker). A pass itself is DeliverPending (deliver.go),
// ExpireDue and Prune (upkeep.go) and DispatchEvents (events.go).

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
// one process or many, share the work: the Store hands each delivery and
// event to one of them.
func (s *Service) Run(ctx context.Context) error {
	s.worker.start(s.cfg.Now())
	defer s.worker.stop()
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

// errPassOverran is the cause of a pass of Run stopped by
// Config.PassTimeout.
var errPassOverran = errors.New("invites: the pass ran past Config.PassTimeout; Run starts anew")

// watch makes one pass of Run (DeliverPending; ExpireDue and, on an
// UpkeepStore, Prune on a
// tick; DispatchEvents) within Config.PassTimeout. Every step of a pass
// is bounded (the store's calls by StoreTimeout, a send by SendTimeout,
// OnEvent by EventTimeout), so a pass that runs past it is either a
// backlog too long for one pass or a step of the host's that ignores its
// context. Either way the pass is stopped as a stopping worker stops (its
// claims handed back; an email in flight may go twice, as after a crash)
// and Run starts anew; a pass that has not returned within a grace after
// that is left behind, its leases running out, so Run never stops for
// good.
func (s *Service) watch(ctx context.Context, tick bool) passErrors {
	pctx, cancel := context.WithTimeoutCause(ctx, s.cfg.PassTimeout, errPassOverran)
	finished := make(chan passErrors, 1)
	go func() {
		defer cancel()
		var errs passErrors
		_, errs.delivery = s.DeliverPending(pctx)
		if tick {
			_, errs.expiry = s.ExpireDue(pctx)
			if _, ok := s.store.(UpkeepStore); ok { // else there is nothing Run can prune
				_, errs.prune = s.Prune(pctx)
			}
		}
		_, errs.event = s.DispatchEvents(pctx)
		finished <- errs
	}()
	returned := func(errs passErrors) passErrors {
		s.worker.last.Store(s.cfg.Now().UnixNano())
		return errs
	}
	select {
	case errs := <-finished:
		return returned(errs)
	case <-pctx.Done():
	}
	// The pass cancels pctx as it returns, so pctx may be done with the
	// pass over: only PassTimeout's cause is an overrun. Run stopping
	// winds the pass down, as ever.
	if ctx.Err() != nil || context.Cause(pctx) != errPassOverran {
		return returned(<-finished)
	}
	grace := time.NewTimer(min(s.cfg.PassTimeout, 4*s.cfg.StoreTimeout))
	defer grace.Stop()
	select {
	case <-finished:
		returned(passErrors{})
		return passErrors{delivery: errPassOverran}
	case <-grace.C:
		return passErrors{delivery: errors.Join(errPassOverran,
			errors.New("invites: the pass did not stop; it is left behind"))}
	case <-ctx.Done():
		return passErrors{}
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

// worker is what Stats tells of Run in this process.
type worker struct {
	running atomic.Int32 // Runs going
	last    atomic.Int64 // UnixNano when a pass last returned, or a Run started
}

// start records a Run starting at now; stop, its end.
func (w *worker) start(now time.Time) {
	w.last.Store(now.UnixNano())
	w.running.Add(1)
}

// stop counts a Run that returned.
func (w *worker) stop() { w.running.Add(-1) }

// fillStats fills st's fields of the worker at now, a pass being stale past
// stale.
func (w *worker) fillStats(st *Stats, now time.Time, stale time.Duration) {
	if w.running.Load() == 0 {
		return
	}
	st.LastPassAt = time.Unix(0, w.last.Load())
	st.WorkerStalled = now.Sub(st.LastPassAt) > stale
}
