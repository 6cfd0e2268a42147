package invites

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// bounded: every call the Service makes to its Store, cut off at
// Config.StoreTimeout.

// errStoreTimeout is the cause of a store call stopped by
// Config.StoreTimeout, told apart from the caller's own deadline or cancel.
var errStoreTimeout = errors.New("invites: store timeout")

// bounded is the Store as the Service calls it: every method but List
// (which Config.ListTimeout bounds, see Service.List) runs within
// Config.StoreTimeout of its call, so no caller, the worker least of all,
// waits on a connection that will never answer. It lives in the Service,
// not in each store, so every store gets it. It names its Store rather
// than embedding it, so a method added to the contract cannot pass
// through unbounded: it fails to compile until it is written here.
type bounded struct {
	s Store
	d time.Duration
}

var _ Store = bounded{}

// boundedUpkeep is bounded over a store that is also an UpkeepStore, so
// the optional capability shows through the bound exactly when the store
// has it, and is bounded as the rest.
type boundedUpkeep struct {
	bounded
	u UpkeepStore
}

var _ UpkeepStore = boundedUpkeep{}

// bound returns s as the Service calls it, each call within d, with the
// optional capabilities s has (bounded_links.go for LinkStore).
func bound(s Store, d time.Duration) Store {
	b := bounded{s, d}
	u, upkeep := s.(UpkeepStore)
	l, links := s.(LinkStore)
	switch {
	case upkeep && links:
		return boundedUpkeepLinks{boundedUpkeep{b, u}, boundLinks{b, l}}
	case links:
		return boundedLinks{b, boundLinks{b, l}}
	case upkeep:
		return boundedUpkeep{b, u}
	}
	return b
}

// bound returns ctx ending StoreTimeout from now, or at the caller's own
// deadline when that comes first.
func (b bounded) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, b.d, errStoreTimeout)
}

// unavailable turns the failure of a call the bound stopped into an error
// wrapping ErrUnavailable, keeping the store's error in the chain; a call
// the caller's own context ended keeps its error as it is.
func (b bounded) unavailable(caller, call context.Context, err error) error {
	if err == nil || caller.Err() != nil || errors.Is(err, ErrUnavailable) ||
		!errors.Is(context.Cause(call), errStoreTimeout) {
		return err
	}
	return fmt.Errorf("%w: the store did not answer within %s: %w", ErrUnavailable, b.d, err)
}

// abandonGrace is how long past its bound a call may take to return on
// its own (a driver ends a statement its context stopped within
// milliseconds) before the caller is answered without it.
const abandonGrace = 250 * time.Millisecond

// boundCall calls f within the bound. A store that does not heed its
// context (SQLite waiting out busy_timeout on a file another process has
// locked, a driver that blocks) is left to finish alone abandonGrace
// past the bound, and the caller answered ErrUnavailable: as with a
// network lost mid-commit, the write may still land, which the error
// never denies. A panic in f (the host's Decide or Hook) is raised again
// in the caller's goroutine.
func boundCall[P, R any](b bounded, ctx context.Context, p P, f func(context.Context, P) (R, error)) (R, error) {
	cctx, cancel := b.bound(ctx)
	type result struct {
		r     R
		err   error
		panic any
	}
	returned := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if res.panic = recover(); res.panic != nil {
				returned <- res
			}
		}()
		res.r, res.err = f(cctx, p)
		returned <- res
	}()
	answer := func(res result) (R, error) {
		cancel()
		if res.panic != nil {
			panic(res.panic)
		}
		return res.r, b.unavailable(ctx, cctx, res.err)
	}
	select {
	case res := <-returned:
		return answer(res)
	case <-cctx.Done():
	}
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case res := <-returned:
		return answer(res)
	case <-grace.C:
	}
	cancel()
	var zero R
	if ctx.Err() != nil {
		return zero, context.Cause(ctx)
	}
	return zero, fmt.Errorf("%w: the store did not answer within %s and was left to finish alone", ErrUnavailable, b.d)
}

func (b bounded) Insert(ctx context.Context, p InsertParams) ([]InsertResult, error) {
	return boundCall(b, ctx, p, b.s.Insert)
}

// List is bounded by Config.ListTimeout in Service.List, and on the
// server where the store can (see InviteStore.List).
func (b bounded) List(ctx context.Context, p ListParams) ([]Invite, int, error) {
	return b.s.List(ctx, p)
}

func (b bounded) ReleaseClaim(ctx context.Context, p ReleaseParams) (int, error) {
	return boundCall(b, ctx, p, b.s.ReleaseClaim)
}

func (b bounded) LedgerSecret(ctx context.Context) ([]byte, error) {
	return boundCall(b, ctx, struct{}{}, func(ctx context.Context, _ struct{}) ([]byte, error) {
		return b.s.LedgerSecret(ctx)
	})
}

func (b bounded) Get(ctx context.Context, p GetParams) (Invite, error) {
	return boundCall(b, ctx, p, b.s.Get)
}

func (b bounded) Lookup(ctx context.Context, p LookupParams) (Invite, error) {
	return boundCall(b, ctx, p, b.s.Lookup)
}

// Change's bound covers the host's code it runs (Decide, Hook).
func (b bounded) Change(ctx context.Context, p ChangeParams) (Invite, error) {
	return boundCall(b, ctx, p, b.s.Change)
}

func (b bounded) ExpireDue(ctx context.Context, p ExpireParams) (int, error) {
	return boundCall(b, ctx, p, b.s.ExpireDue)
}

func (b bounded) ClaimDeliveries(ctx context.Context, p ClaimParams) ([]Claim, error) {
	return boundCall(b, ctx, p, b.s.ClaimDeliveries)
}

func (b bounded) RenewDeliveries(ctx context.Context, p RenewParams) ([]uuid.UUID, error) {
	return boundCall(b, ctx, p, b.s.RenewDeliveries)
}

func (b bounded) Bounce(ctx context.Context, p BounceParams) (Invite, bool, error) {
	return boundOnce(b, ctx, p, b.s.Bounce)
}

// boundOnce is boundCall for a write answering an invite and whether it
// changed it.
func boundOnce[P any](b bounded, ctx context.Context, p P, f func(context.Context, P) (Invite, bool, error)) (Invite, bool, error) {
	type once struct {
		inv   Invite
		first bool
	}
	r, err := boundCall(b, ctx, p, func(ctx context.Context, p P) (once, error) {
		inv, first, err := f(ctx, p)
		return once{inv, first}, err
	})
	return r.inv, r.first, err
}

func (b bounded) Suppress(ctx context.Context, p SuppressParams) (Invite, bool, error) {
	return boundOnce(b, ctx, p, b.s.Suppress)
}

func (b bounded) Unsuppress(ctx context.Context, p UnsuppressParams) error {
	_, err := boundCall(b, ctx, p, func(ctx context.Context, p UnsuppressParams) (struct{}, error) {
		return struct{}{}, b.s.Unsuppress(ctx, p)
	})
	return err
}

func (b bounded) CompleteDeliveries(ctx context.Context, p CompleteParams) error {
	_, err := boundCall(b, ctx, p, func(ctx context.Context, p CompleteParams) (struct{}, error) {
		return struct{}{}, b.s.CompleteDeliveries(ctx, p)
	})
	return err
}

func (b bounded) History(ctx context.Context, p HistoryParams) ([]Event, error) {
	return boundCall(b, ctx, p, b.s.History)
}

func (b bounded) ClaimEvents(ctx context.Context, p ClaimEventsParams) ([]Event, error) {
	return boundCall(b, ctx, p, b.s.ClaimEvents)
}

func (b bounded) CompleteEvent(ctx context.Context, p CompleteEventParams) error {
	_, err := boundCall(b, ctx, p, func(ctx context.Context, p CompleteEventParams) (struct{}, error) {
		return struct{}{}, b.s.CompleteEvent(ctx, p)
	})
	return err
}

func (b bounded) Stats(ctx context.Context, p StatsParams) (Stats, error) {
	return boundCall(b, ctx, p, b.s.Stats)
}

func (b boundedUpkeep) Prune(ctx context.Context, p PruneParams) (PruneResult, error) {
	return boundCall(b.bounded, ctx, p, b.u.Prune)
}

func (b boundedUpkeep) Forget(ctx context.Context, p ForgetParams) ([]uuid.UUID, error) {
	return boundCall(b.bounded, ctx, p, b.u.Forget)
}
