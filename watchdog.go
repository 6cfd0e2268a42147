package invites

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// errPassOverran is the cause of a pass of Run stopped by
// Config.PassTimeout.
var errPassOverran = errors.New("invites: the pass ran past Config.PassTimeout; Run starts anew")

// worker is what Stats tells of Run in this process.
type worker struct {
	running atomic.Int32 // Runs going
	last    atomic.Int64 // UnixNano when a pass last returned, or a Run started
}

// start records a Run starting at now and returns what records its end.
func (w *worker) start(now time.Time) (stop func()) {
	w.last.Store(now.UnixNano())
	w.running.Add(1)
	return func() { w.running.Add(-1) }
}

// read fills st's fields of the worker at now, a pass being stale past
// stale.
func (w *worker) read(st *Stats, now time.Time, stale time.Duration) {
	if w.running.Load() == 0 {
		return
	}
	st.LastPassAt = time.Unix(0, w.last.Load())
	st.WorkerStalled = now.Sub(st.LastPassAt) > stale
}

// watch makes one pass of Run (DeliverPending; ExpireDue and, on an
// UpkeepStore, Prune on a tick; DispatchEvents) within Config.PassTimeout. Every step of a pass
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
	done := make(chan passErrors, 1)
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
		done <- errs
	}()
	returned := func(errs passErrors) passErrors {
		s.worker.last.Store(s.cfg.Now().UnixNano())
		return errs
	}
	select {
	case errs := <-done:
		return returned(errs)
	case <-pctx.Done():
	}
	if ctx.Err() != nil { // Run is stopping: the pass winds down, as ever
		return returned(<-done)
	}
	grace := time.NewTimer(min(s.cfg.PassTimeout, 4*s.cfg.StoreTimeout))
	defer grace.Stop()
	select {
	case <-done:
		returned(passErrors{})
		return passErrors{delivery: errPassOverran}
	case <-grace.C:
		return passErrors{delivery: errors.Join(errPassOverran,
			errors.New("invites: the pass did not stop; it is left behind"))}
	case <-ctx.Done():
		return passErrors{}
	}
}
