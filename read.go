package invites

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// The reads of one invite: Get, Lookup (a link's landing page), Check (may
// its token be accepted) and History (its events); and asSeenAt, an invite as
// its caller sees it now, expired once past ExpiresAt. List is in list.go.

// Get returns one invite of the actor's tenant, or ErrNotFound.
func (s *Service) Get(ctx context.Context, actor Actor, id uuid.UUID) (_ Invite, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameGet, TenantID: actor.TenantID, InviteID: id})
	defer func() { end(OpResult{Err: err}) }()
	if err := validActor(actor); err != nil {
		return Invite{}, err
	}
	inv, err := s.fromStore(s.store.Get(ctx, GetParams{TenantID: actor.TenantID, ID: id}))
	if err != nil {
		return Invite{}, err
	}
	if err := s.authorize(ctx, actor, OpGet, &inv); err != nil {
		return Invite{}, err
	}
	return inv, nil
}

// Lookup answers the landing page of a link: the invite of token in any
// status, or ErrInvalidToken.
func (s *Service) Lookup(ctx context.Context, token string) (inv Invite, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameLookup})
	defer func() { end(OpResult{Err: err, InviteID: inv.ID}) }()
	return s.lookup(ctx, token)
}

func (s *Service) lookup(ctx context.Context, token string) (Invite, error) {
	d, err := s.cfg.Tokens.Digest(token)
	if err != nil {
		return Invite{}, err
	}
	return s.fromStore(s.store.Lookup(ctx, LookupParams{Digest: d}))
}

// Check answers whether token can be accepted now, as ROQ's
// checkUserInviteToken, with the public view of its invite: the whole of
// it while the invite is pending, its status alone after. A malformed or
// unknown token is a TokenCheck with IsValid false and no Status, not an
// error.
func (s *Service) Check(ctx context.Context, token string) (_ TokenCheck, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameCheck})
	var inv Invite
	defer func() { end(OpResult{Err: err, InviteID: inv.ID}) }()
	inv, err = s.lookup(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return TokenCheck{}, nil
	}
	if err != nil {
		return TokenCheck{}, err
	}
	return publicView(inv, false), nil
}

// History returns the lifecycle events of one invite of the actor's
// tenant, oldest first, or ErrNotFound.
func (s *Service) History(ctx context.Context, actor Actor, id uuid.UUID) (evs []Event, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameHistory, TenantID: actor.TenantID, InviteID: id})
	defer func() { end(OpResult{Err: err, Count: len(evs)}) }()
	if err := validActor(actor); err != nil {
		return nil, err
	}
	if s.cfg.Authorize != nil {
		inv, err := s.fromStore(s.store.Get(ctx, GetParams{TenantID: actor.TenantID, ID: id}))
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, actor, OpHistory, &inv); err != nil {
			return nil, err
		}
	}
	return s.store.History(ctx, HistoryParams{TenantID: actor.TenantID, ID: id})
}

// asSeenAt is an invite as the caller sees it at now: expired once past ExpiresAt.
func (s *Service) asSeenAt(inv Invite, now time.Time) Invite {
	if st := inv.StatusAt(now); st != inv.Status {
		inv.Status, inv.StatusUpdatedAt = st, inv.ExpiresAt
	}
	return inv
}

// fromStore is a store's answer of one invite as the caller sees it now,
// or its error.
func (s *Service) fromStore(inv Invite, err error) (Invite, error) {
	if err != nil {
		return Invite{}, err
	}
	return s.asSeenAt(inv, s.cfg.Now()), nil
}
