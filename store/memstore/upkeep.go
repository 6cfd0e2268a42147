package memstore

import (
	"context"
	"slices"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Stats implements invites.Store.
func (s *Store) Stats(_ context.Context, p invites.StatsParams) (invites.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st invites.Stats
	for id := range s.active {
		d := s.deliveries[id]
		st.Queued++
		if d.failed {
			st.Failing++
		}
		if d.nextAttempt.After(p.Now) || d.leaseUntil.After(p.Now) {
			continue
		}
		st.Due++
		st.OldestDueAge = max(st.OldestDueAge, p.Now.Sub(d.nextAttempt))
	}
	for _, q := range s.unhandled {
		st.UnhandledEvents += len(q)
	}
	for _, byTenant := range s.suppressions {
		st.Suppressions += len(byTenant)
	}
	return st, nil
}

// Prune implements invites.UpkeepStore. An invite whose Accept hook runs is
// passed over, as SKIP LOCKED does in SQL; the next Prune takes it.
func (s *Store) Prune(_ context.Context, p invites.PruneParams) (invites.PruneResult, error) {
	var res invites.PruneResult
	if p.Limit <= 0 {
		return res, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.InvitesBefore.IsZero() {
		var old []*record
		for _, r := range s.invites {
			if _, busy := s.busy[r.inv.ID]; !busy && r.inv.Status != invites.StatusPending && r.inv.StatusUpdatedAt.Before(p.InvitesBefore) {
				old = append(old, r)
			}
		}
		slices.SortFunc(old, func(a, b *record) int { return a.inv.StatusUpdatedAt.Compare(b.inv.StatusUpdatedAt) })
		old = old[:min(p.Limit, len(old))]
		s.remove(old)
		res.Invites = len(old)
	}
	if !p.EventsBefore.IsZero() {
		gone := map[*event]bool{}
		for _, ev := range s.events {
			if len(gone) == p.Limit {
				break
			}
			if ev.handled && ev.e.At.Before(p.EventsBefore) {
				gone[ev] = true
			}
		}
		if len(gone) > 0 {
			drop := func(ev *event) bool { return gone[ev] }
			s.events = slices.DeleteFunc(s.events, drop)
			for id, h := range s.history {
				s.history[id] = slices.DeleteFunc(h, drop)
			}
		}
		res.Events = len(gone)
	}
	if !p.KeysBefore.IsZero() {
		res.Keys = s.pruneKeys(p.KeysBefore, p.Limit)
	}
	if !p.SendsBefore.IsZero() {
		res.Sends = s.pruneSends(p.SendsBefore, p.Limit)
	}
	return res, nil
}

// LedgerSecret implements invites.Store: made by New.
func (s *Store) LedgerSecret(context.Context) ([]byte, error) {
	return slices.Clone(s.secret), nil
}

// Forget implements invites.UpkeepStore. It waits for an invite whose Accept
// hook runs, as a SQL delete waits on the row lock, so an accept either
// commits before the erasure or finds the invite gone.
func (s *Store) Forget(ctx context.Context, p invites.ForgetParams) ([]uuid.UUID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	let, err := s.takeKey(ctx, p.Idempotency, p.Now)
	if err != nil {
		return nil, err
	}
	defer let()
	key := pendingKey(p.TenantID, p.Email)
	if err := s.waitIdle(ctx, func() []uuid.UUID { return s.byEmail[key] }); err != nil {
		return nil, err
	}
	ids := slices.Clone(s.byEmail[key])
	if p.Limit > 0 && len(ids) > p.Limit {
		ids = ids[:p.Limit]
	}
	var answer []byte
	if p.Idempotency != nil {
		if answer, err = p.Answer(slices.Clone(ids)); err != nil {
			return nil, err
		}
	}
	rs := make([]*record, len(ids))
	for i, id := range ids {
		rs[i] = s.invites[id]
	}
	s.remove(rs)
	for _, id := range ids {
		s.write(invites.Event{InviteID: id, TenantID: p.TenantID, Type: invites.EventForgotten, ActorID: p.ActorID, At: p.Now})
	}
	s.keepKey(p.Idempotency, answer)
	return ids, nil
}

// remove deletes rs with their tokens, deliveries and events.
func (s *Store) remove(rs []*record) {
	if len(rs) == 0 {
		return
	}
	gone := make(map[uuid.UUID]bool, len(rs))
	for _, r := range rs {
		id := r.inv.ID
		gone[id] = true
		s.freeKey(r)
		for _, d := range r.digests {
			delete(s.digests, string(d))
		}
		k := pendingKey(r.inv.TenantID, r.inv.Email)
		if s.byEmail[k] = slices.DeleteFunc(s.byEmail[k], func(x uuid.UUID) bool { return x == id }); len(s.byEmail[k]) == 0 {
			delete(s.byEmail, k)
		}
		delete(s.invites, id)
		delete(s.latest, id)
		delete(s.history, id)
		delete(s.unhandled, id)
	}
	for _, r := range rs {
		t := r.inv.TenantID
		s.byTenant[t] = slices.DeleteFunc(s.byTenant[t], func(x uuid.UUID) bool { return gone[x] })
	}
	for id, d := range s.deliveries {
		if gone[d.d.InviteID] {
			delete(s.deliveries, id)
			delete(s.active, id)
		}
	}
	s.events = slices.DeleteFunc(s.events, func(ev *event) bool { return gone[ev.e.InviteID] })
}

// Bounce implements invites.Store. It waits for the delivery's invite
// should its Accept hook run.
func (s *Store) Bounce(ctx context.Context, p invites.BounceParams) (invites.Invite, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, r, err := s.deliveryOf(ctx, p.DeliveryID, p.TenantID)
	if err != nil {
		return invites.Invite{}, false, err
	}
	if d.bounced {
		return clone(r.inv), false, nil
	}
	d.bounced = true
	delete(s.active, d.d.ID)
	if s.latest[r.inv.ID] == d.d.ID {
		r.inv.DeliveryStatus, r.inv.DeliveryError = invites.DeliveryFailed, p.Reason
	}
	s.emit(r, invites.EventBounced, "", p.Now)
	return clone(r.inv), true, nil
}

// deliveryOf returns the delivery id and its invite, once no Accept hook
// runs on the invite; ErrNotFound when there is none, or tenant is set
// and not the invite's. Callers hold s.mu.
func (s *Store) deliveryOf(ctx context.Context, id uuid.UUID, tenant string) (*delivery, *record, error) {
	var d *delivery
	err := s.waitIdle(ctx, func() []uuid.UUID {
		if d = s.deliveries[id]; d == nil {
			return nil
		}
		return []uuid.UUID{d.d.InviteID}
	})
	switch {
	case err != nil:
		return nil, nil, err
	case d == nil:
		return nil, nil, invites.ErrNotFound
	}
	r := s.invites[d.d.InviteID]
	if tenant != "" && r.inv.TenantID != tenant {
		return nil, nil, invites.ErrNotFound
	}
	return d, r, nil
}
