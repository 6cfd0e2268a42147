package memstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Change implements invites.Store. While Decide or Hook runs the invite is
// busy: other writers to it wait, as behind a SQL row lock, and reads and
// the rest of the store go on. A Decide or Hook that writes to the same
// invite through this store deadlocks, as it would against a database.
func (s *Store) Change(ctx context.Context, p invites.ChangeParams) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	let, err := s.takeKey(ctx, p.Idempotency, p.Now)
	if err != nil {
		return invites.Invite{}, err
	}
	defer let()
	var r *record
	err = s.waitIdle(ctx, func() []uuid.UUID {
		if r = s.target(p); r == nil {
			return nil
		}
		return []uuid.UUID{r.inv.ID}
	})
	switch {
	case err != nil:
		return invites.Invite{}, err
	case r == nil && p.Digest != nil:
		return invites.Invite{}, invites.ErrInvalidToken
	case r == nil:
		return invites.Invite{}, invites.ErrNotFound
	}
	id := r.inv.ID
	s.busy[id] = struct{}{}
	defer s.release(id) // runs before the Unlock above, even on panic
	if p.LedgerKey == nil && (p.Count.MaxSendsPerAddressPerDay > 0 || p.Count.MaxSendsPerAddressPerDayAllTenants > 0) {
		return invites.Invite{}, errNoLedgerKey
	}
	if p.Decide == nil && (!slices.Contains(p.From, r.inv.Status) || p.Live && !p.Now.Before(r.inv.ExpiresAt)) {
		return invites.Invite{}, &invites.RuleError{Invite: clone(r.inv)}
	}
	e, holder, err := s.settle(ctx, r, p)
	if err != nil {
		return invites.Invite{}, err
	}
	if e.Renew && e.LinkDigest != nil && !s.freeDigest(e.LinkDigest) {
		return invites.Invite{}, errors.New("memstore: token digest empty or already in use")
	}
	out := edited(clone(r.inv), e, p.Now)
	if p.Hook != nil {
		if err := s.callHook(ctx, p.Hook, clone(out)); err != nil {
			return invites.Invite{}, err
		}
	}
	var answer []byte
	if p.Idempotency != nil {
		if answer, err = p.Answer(clone(out)); err != nil {
			return invites.Invite{}, err
		}
	}
	// Nothing wrote r while it was busy, so out is still r plus the change.
	if holder != nil {
		s.expire(holder, p.Now)
	}
	if err := s.commit(r, out, e, p); err != nil {
		return invites.Invite{}, err
	}
	s.keepKey(p.Idempotency, answer)
	return clone(out), nil
}

// target returns the invite p names, or nil.
func (s *Store) target(p invites.ChangeParams) *record {
	if p.Digest != nil {
		return s.byDigest(p.Digest)
	}
	r, _ := s.find(p.TenantID, p.ID)
	return r
}

// settle returns the edit of p on r and, for a renewal, the other
// pending invite of r's address that must give way: s.mu is let go while
// p.Decide runs and while that invite is busy, so it decides again until
// the counts it decided on are still the counts (r itself cannot change:
// it is busy).
func (s *Store) settle(ctx context.Context, r *record, p invites.ChangeParams) (invites.Edit, *record, error) {
	for {
		e, f := p.Edit, s.facts(r, p)
		if p.Decide != nil {
			var err error
			s.mu.Unlock()
			func() {
				defer s.mu.Lock()
				e, err = p.Decide(ctx, f)
			}()
			if err != nil {
				return e, nil, err
			}
		}
		var holder *record
		if e.Renew && p.LedgerKey == nil {
			return e, nil, errNoLedgerKey
		}
		if e.Renew {
			var err error
			if holder, err = s.otherHolder(ctx, r, p.Now); err != nil {
				return e, nil, err
			}
		}
		if now := s.facts(r, p); p.Decide == nil || now.AddressSends == f.AddressSends && now.AllTenantSends == f.AllTenantSends && now.UserSends == f.UserSends && now.TenantPending == f.TenantPending && now.Suppressed == f.Suppressed {
			return e, holder, nil
		}
		if err := ctx.Err(); err != nil {
			return e, nil, err
		}
	}
}

// facts reads what p.Decide decides on: r as stored and the counts p asks.
func (s *Store) facts(r *record, p invites.ChangeParams) invites.Facts {
	f := invites.Facts{Invite: clone(r.inv)}
	if p.Count.MaxSendsPerAddressPerDay > 0 || p.Count.MaxSendsPerAddressPerDayAllTenants > 0 {
		f.AddressSends, f.AllTenantSends = s.addressSends(r.inv.TenantID, string(p.LedgerKey(r.inv.EmailNorm())), p.Now)
	}
	if p.Count.MaxSendsPerHour > 0 {
		f.UserSends = s.userSends(r.inv.TenantID, p.ActorID, p.Now)
	}
	if p.Count.MaxPending > 0 {
		f.TenantPending = s.tenantPending(r.inv.TenantID, p.Now)
	}
	if p.SuppressionKey != nil {
		f.Suppressed = s.suppressed(r.inv.TenantID, p.SuppressionKey(r.inv.EmailNorm()))
	}
	return f
}

// otherHolder returns the other pending invite of r's address, which a
// renewal of r makes give way as Insert would, or ErrAlreadyInvited while
// it is live. It waits while that invite is busy.
func (s *Store) otherHolder(ctx context.Context, r *record, now time.Time) (*record, error) {
	var h *record
	err := s.waitIdle(ctx, func() []uuid.UUID {
		if h = s.holder(r.inv.TenantID, r.inv.Email); h == nil || h == r {
			h = nil
			return nil
		}
		return []uuid.UUID{h.inv.ID}
	})
	switch {
	case err != nil:
		return nil, err
	case h != nil && now.Before(h.inv.ExpiresAt):
		return nil, invites.ErrAlreadyInvited
	}
	return h, nil
}

// edited returns inv with e applied at now.
func edited(inv invites.Invite, e invites.Edit, now time.Time) invites.Invite {
	if e.Renew {
		inv.Status, inv.StatusUpdatedAt = invites.StatusPending, now
		inv.SendCount++
		inv.LastSentAt, inv.ExpiresAt = now, e.ExpiresAt
		inv.DeliveryStatus, inv.DeliveryError = invites.DeliveryQueued, ""
		if e.LinkDigest != nil {
			inv.DeliveryStatus = invites.DeliveryHost
		}
	}
	if e.Status != "" && e.Status != inv.Status {
		inv.Status, inv.StatusUpdatedAt = e.Status, now
	}
	if e.AcceptedByUserID != "" {
		inv.AcceptedByUserID = e.AcceptedByUserID
	}
	f := e.Fields
	for _, x := range []struct{ to, v *string }{{&inv.FirstName, f.FirstName}, {&inv.LastName, f.LastName}, {&inv.Locale, f.Locale}} {
		if x.v != nil {
			*x.to = *x.v
		}
	}
	switch {
	case f.Data == nil:
	case bytes.Equal(bytes.TrimSpace(f.Data), []byte("null")):
		inv.Data = nil
	default:
		inv.Data = bytes.Clone(f.Data)
	}
	if f.Roles != nil {
		inv.Roles = append([]string{}, f.Roles...)
	}
	inv.UpdatedAt = now
	return inv
}

// commit stores out, r as e changed it, with what e does beside: the
// address's pending slot, a renewal's tokens and reminder, the event.
func (s *Store) commit(r *record, out invites.Invite, e invites.Edit, p invites.ChangeParams) error {
	var did uuid.UUID
	if e.Renew {
		var err error
		if did, err = uuid.NewV7(); err != nil {
			return err
		}
	}
	if out.Status != invites.StatusPending {
		s.freeKey(r)
	}
	r.inv = clone(out)
	if e.Renew {
		// The digests stay indexed until a renewal: Lookup still shows
		// an ended link's invite.
		for _, d := range r.digests {
			delete(s.digests, string(d))
		}
		r.digests = nil
		r.fixed = e.FixedExpiry
		s.pending[pendingKey(r.inv.TenantID, r.inv.Email)] = r.inv.ID
		if e.LinkDigest != nil {
			s.link(r, e.LinkDigest)
		} else {
			s.queue(r, did, invites.KindReminder, p.Now, e.Trace)
		}
		s.record(r.inv.TenantID, p.ActorID, string(p.LedgerKey(r.inv.EmailNorm())), p.Now)
	}
	if e.Event != "" {
		s.emit(r, e.Event, p.ActorID, p.Now)
	}
	return nil
}
