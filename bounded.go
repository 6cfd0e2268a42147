package invites

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// errStoreTimeout is the cause of a store call stopped by
// Config.StoreTimeout, told apart from the caller's own deadline or cancel.
var errStoreTimeout = errors.New("invites: store timeout")

// bounded is the Store as the Service calls it: every method but List
// (which Config.ListTimeout bounds, see Service.List) runs within
// Config.StoreTimeout of its call, so no caller, the worker least of all,
// waits on a connection that will never answer. It lives in the Service,
// not in each store, so every store gets it.
type bounded struct {
	Store
	d time.Duration
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

func boundCall[P, R any](b bounded, ctx context.Context, p P, f func(context.Context, P) (R, error)) (R, error) {
	cctx, cancel := b.bound(ctx)
	defer cancel()
	r, err := f(cctx, p)
	return r, b.unavailable(ctx, cctx, err)
}

func (b bounded) Insert(ctx context.Context, p InsertParams) ([]InsertResult, error) {
	return boundCall(b, ctx, p, b.Store.Insert)
}

func (b bounded) Get(ctx context.Context, p GetParams) (Invite, error) {
	return boundCall(b, ctx, p, b.Store.Get)
}

func (b bounded) Lookup(ctx context.Context, p LookupParams) (Invite, error) {
	return boundCall(b, ctx, p, b.Store.Lookup)
}

// Change's bound covers the host's code it runs (Decide, Hook).
func (b bounded) Change(ctx context.Context, p ChangeParams) (Invite, error) {
	return boundCall(b, ctx, p, b.Store.Change)
}

func (b bounded) ExpireDue(ctx context.Context, p ExpireParams) (int, error) {
	return boundCall(b, ctx, p, b.Store.ExpireDue)
}

func (b bounded) ClaimDeliveries(ctx context.Context, p ClaimParams) ([]Claim, error) {
	return boundCall(b, ctx, p, b.Store.ClaimDeliveries)
}

func (b bounded) RenewDeliveries(ctx context.Context, p RenewParams) ([]uuid.UUID, error) {
	return boundCall(b, ctx, p, b.Store.RenewDeliveries)
}

func (b bounded) Bounce(ctx context.Context, p BounceParams) (Invite, bool, error) {
	cctx, cancel := b.bound(ctx)
	defer cancel()
	inv, first, err := b.Store.Bounce(cctx, p)
	return inv, first, b.unavailable(ctx, cctx, err)
}

func (b bounded) CompleteDeliveries(ctx context.Context, p CompleteParams) error {
	_, err := boundCall(b, ctx, p, func(ctx context.Context, p CompleteParams) (struct{}, error) {
		return struct{}{}, b.Store.CompleteDeliveries(ctx, p)
	})
	return err
}

func (b bounded) History(ctx context.Context, p HistoryParams) ([]Event, error) {
	return boundCall(b, ctx, p, b.Store.History)
}

func (b bounded) ClaimEvents(ctx context.Context, p ClaimEventsParams) ([]Event, error) {
	return boundCall(b, ctx, p, b.Store.ClaimEvents)
}

func (b bounded) CompleteEvent(ctx context.Context, p CompleteEventParams) error {
	_, err := boundCall(b, ctx, p, func(ctx context.Context, p CompleteEventParams) (struct{}, error) {
		return struct{}{}, b.Store.CompleteEvent(ctx, p)
	})
	return err
}

func (b bounded) Stats(ctx context.Context, p StatsParams) (Stats, error) {
	return boundCall(b, ctx, p, b.Store.Stats)
}

func (b bounded) Prune(ctx context.Context, p PruneParams) (PruneResult, error) {
	return boundCall(b, ctx, p, b.Store.Prune)
}

func (b bounded) Forget(ctx context.Context, p ForgetParams) ([]uuid.UUID, error) {
	return boundCall(b, ctx, p, b.Store.Forget)
}
