package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/invitekit/invites"
)

// event is a stored invites.Event with its dispatch state.
type event struct {
	e       invites.Event
	due     time.Time
	lease   time.Time
	handled bool
}

// emit records an event of r, in its history; callers hold s.mu.
func (s *Store) emit(r *record, typ invites.EventType, actor string, at time.Time) {
	ev := s.write(invites.Event{InviteID: r.inv.ID, TenantID: r.inv.TenantID, Type: typ, ActorID: actor, At: at})
	s.history[r.inv.ID] = append(s.history[r.inv.ID], ev)
}

// write stores e, unhandled, under the next ID, as a sequence would
// number it; callers hold s.mu.
func (s *Store) write(e invites.Event) *event {
	s.lastEvent++
	e.ID = s.lastEvent
	ev := &event{e: e, due: e.At}
	s.events = append(s.events, ev)
	s.unhandled[e.InviteID] = append(s.unhandled[e.InviteID], ev)
	return ev
}

// History implements invites.Store.
func (s *Store) History(_ context.Context, p invites.HistoryParams) ([]invites.Event, error) {
	tenantID, id := p.TenantID, p.ID
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.find(tenantID, id); err != nil {
		return nil, err
	}
	out := make([]invites.Event, 0, len(s.history[id]))
	for _, ev := range s.history[id] {
		e := ev.e
		e.Attempt = 0
		out = append(out, e)
	}
	return out, nil
}

// ClaimEvents implements invites.Store: only the head of each invite's
// queue of unhandled events can be claimed.
func (s *Store) ClaimEvents(_ context.Context, p invites.ClaimEventsParams) ([]invites.Event, error) {
	now, limit, lease := p.Now, p.Limit, p.Lease
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*event
	for _, q := range s.unhandled {
		if h := q[0]; !h.due.After(now) && !h.lease.After(now) {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(a, b *event) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.e.ID, b.e.ID)
	})
	out := make([]invites.Event, 0, min(limit, len(due)))
	for _, ev := range due[:min(limit, len(due))] {
		ev.e.Attempt++
		ev.lease = now.Add(lease)
		out = append(out, ev.e)
	}
	return out, nil
}

// CompleteEvent implements invites.Store.
func (s *Store) CompleteEvent(_ context.Context, p invites.CompleteEventParams) error {
	e, retryAt := p.Event, p.RetryAt
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.unhandled[e.InviteID]
	if len(q) == 0 || q[0].e.ID != e.ID || q[0].e.Attempt != e.Attempt {
		return invites.ErrStaleDelivery
	}
	if !retryAt.IsZero() {
		q[0].due, q[0].lease = retryAt, time.Time{}
		return nil
	}
	q[0].handled = true
	if len(q) == 1 {
		delete(s.unhandled, e.InviteID)
	} else {
		s.unhandled[e.InviteID] = q[1:]
	}
	return nil
}

// ExpireDue implements invites.Store.
func (s *Store) ExpireDue(_ context.Context, p invites.ExpireParams) (int, error) {
	now, limit := p.Now, p.Limit
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*record
	for _, id := range s.pending {
		r := s.invites[id]
		if _, busy := s.busy[id]; !busy && !now.Before(r.inv.ExpiresAt) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *record) int { return a.inv.ExpiresAt.Compare(b.inv.ExpiresAt) })
	due = due[:min(limit, len(due))]
	for _, r := range due {
		s.expire(r, now)
	}
	return len(due), nil
}

// tenantPending counts the invites of tenantID pending at now.
func (s *Store) tenantPending(tenantID string, now time.Time) int {
	n := 0
	for _, id := range s.byTenant[tenantID] {
		if s.invites[id].inv.StatusAt(now) == invites.StatusPending {
			n++
		}
	}
	return n
}
