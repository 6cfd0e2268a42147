package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The links of invites.LinkStore. A join holds its link busy, as a SQL
// row lock would, while Decide and Hook run without s.mu; a revoke or a
// rotation of that link waits for it.

var _ invites.LinkStore = (*Store)(nil)

// linkRecord is a stored link with its uses, oldest first.
type linkRecord struct {
	l    invites.Link
	uses []invites.LinkUse
}

// links is the link half of the Store; its maps are guarded by s.mu.
type links struct {
	byID     map[uuid.UUID]*linkRecord
	byDigest map[string]uuid.UUID
	byTenant map[string][]uuid.UUID // in creation order
}

func newLinks() links {
	return links{byID: map[uuid.UUID]*linkRecord{}, byDigest: map[string]uuid.UUID{}, byTenant: map[string][]uuid.UUID{}}
}

func cloneLink(l invites.Link) invites.Link {
	l.Roles = slices.Clone(l.Roles)
	l.AllowedDomains = slices.Clone(l.AllowedDomains)
	return l
}

// findLink returns the link of tenant with id, or ErrNotFound.
func (s *Store) findLink(tenant string, id uuid.UUID) (*linkRecord, error) {
	r, ok := s.lk.byID[id]
	if !ok || r.l.TenantID != tenant {
		return nil, invites.ErrNotFound
	}
	return r, nil
}

// emitLink writes an event of the link r, keyed by its ID.
func (s *Store) emitLink(r *linkRecord, typ invites.EventType, actor string, at time.Time) {
	ev := s.write(invites.Event{InviteID: r.l.ID, TenantID: r.l.TenantID, Type: typ, ActorID: actor, At: at})
	s.history[r.l.ID] = append(s.history[r.l.ID], ev)
}

// waitLink waits, with s.mu held, until the link id is not busy.
func (s *Store) waitLink(ctx context.Context, id uuid.UUID) error {
	return s.waitIdle(ctx, func() []uuid.UUID { return []uuid.UUID{id} })
}

// revoke marks r revoked at now by actor, with its event.
func (s *Store) revoke(r *linkRecord, actor string, now time.Time) {
	r.l.RevokedAt, r.l.RevokedByUserID = now, actor
	s.emitLink(r, invites.EventLinkRevoked, actor, now)
}

// activeAt reports whether l can be used at now.
func activeAt(l invites.Link, now time.Time) bool {
	return l.StatusAt(now) == invites.LinkActive
}

// CreateLink implements invites.LinkStore.
func (s *Store) CreateLink(ctx context.Context, p invites.CreateLinkParams) (invites.Link, error) {
	l := p.Link
	if l.ID == uuid.Nil || len(p.Digest) == 0 {
		return invites.Link{}, errors.New("memstore: a link to create needs an ID and a digest")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.lk.byID[l.ID]; dup {
		return invites.Link{}, fmt.Errorf("memstore: link id %s already stored", l.ID)
	}
	if _, dup := s.lk.byDigest[string(p.Digest)]; dup {
		return invites.Link{}, errors.New("memstore: link digest already stored")
	}
	var old *linkRecord
	if p.Replace != uuid.Nil {
		if err := s.waitLink(ctx, p.Replace); err != nil {
			return invites.Link{}, err
		}
		var err error
		if old, err = s.findLink(l.TenantID, p.Replace); err != nil {
			return invites.Link{}, err
		}
		if !old.l.RevokedAt.IsZero() {
			return invites.Link{}, &invites.LinkRuleError{Link: cloneLink(old.l)}
		}
	}
	if p.MaxActive > 0 {
		n := 0
		for _, id := range s.lk.byTenant[l.TenantID] {
			if r := s.lk.byID[id]; r != old && activeAt(r.l, p.Now) {
				n++
			}
		}
		if n >= p.MaxActive {
			return invites.Link{}, invites.ErrQuotaExceeded
		}
	}
	if old != nil {
		s.revoke(old, l.CreatedByUserID, p.Now)
	}
	l.Uses, l.Status = 0, ""
	r := &linkRecord{l: cloneLink(l)}
	s.lk.byID[l.ID] = r
	s.lk.byDigest[string(p.Digest)] = l.ID
	s.lk.byTenant[l.TenantID] = append(s.lk.byTenant[l.TenantID], l.ID)
	s.emitLink(r, invites.EventLinkCreated, l.CreatedByUserID, p.Now)
	return cloneLink(r.l), nil
}

// RevokeLinks implements invites.LinkStore.
func (s *Store) RevokeLinks(ctx context.Context, p invites.RevokeLinksParams) ([]invites.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*linkRecord
	if p.ID != uuid.Nil {
		if err := s.waitLink(ctx, p.ID); err != nil {
			return nil, err
		}
		r, err := s.findLink(p.TenantID, p.ID)
		if err != nil {
			return nil, err
		}
		if !r.l.RevokedAt.IsZero() {
			return nil, &invites.LinkRuleError{Link: cloneLink(r.l)}
		}
		rs = append(rs, r)
	} else {
		ids := func() []uuid.UUID {
			var ids []uuid.UUID
			for _, id := range s.lk.byTenant[p.TenantID] {
				if r := s.lk.byID[id]; r.l.CreatedByUserID == p.CreatedBy && activeAt(r.l, p.Now) {
					ids = append(ids, id)
				}
			}
			return ids
		}
		if err := s.waitIdle(ctx, ids); err != nil {
			return nil, err
		}
		for _, id := range ids() {
			rs = append(rs, s.lk.byID[id])
		}
	}
	out := make([]invites.Link, 0, len(rs))
	for _, r := range rs {
		s.revoke(r, p.ActorID, p.Now)
		out = append(out, cloneLink(r.l))
	}
	return out, nil
}

// JoinLink implements invites.LinkStore.
func (s *Store) JoinLink(ctx context.Context, p invites.JoinLinkParams) (invites.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *linkRecord
	err := s.waitIdle(ctx, func() []uuid.UUID {
		id, ok := s.lk.byDigest[string(p.Digest)]
		if !ok || len(p.Digest) == 0 {
			r = nil
			return nil
		}
		r = s.lk.byID[id]
		return []uuid.UUID{id}
	})
	switch {
	case err != nil:
		return invites.Link{}, err
	case r == nil:
		return invites.Link{}, invites.ErrInvalidToken
	}
	id := r.l.ID
	s.busy[id] = struct{}{}
	defer s.release(id) // runs before the Unlock above, even on panic
	f := invites.LinkFacts{Link: cloneLink(r.l)}
	since := p.Now.Add(-time.Minute)
	for _, u := range r.uses {
		f.Joined = f.Joined || u.UserID == p.UserID
		if u.At.After(since) {
			f.RecentUses++
		}
	}
	if p.Decide != nil {
		if err := s.unlocked(func() error { return p.Decide(ctx, f) }); err != nil {
			return invites.Link{}, err
		}
	}
	// What Decide let through the store still refuses, as SQL's keys do.
	if f.Joined || r.l.Uses >= r.l.MaxUses {
		return invites.Link{}, errors.New("memstore: a second use by one user, or a use past MaxUses")
	}
	out := cloneLink(r.l)
	out.Uses++
	if p.Hook != nil {
		if err := s.unlocked(func() error { return p.Hook(ctx, cloneLink(out)) }); err != nil {
			return invites.Link{}, err
		}
	}
	// Nothing wrote r while it was busy, so out is still r plus the use.
	r.l.Uses = out.Uses
	r.uses = append(r.uses, invites.LinkUse{LinkID: id, UserID: p.UserID, At: p.Now})
	s.emitLink(r, invites.EventLinkUsed, p.UserID, p.Now)
	return out, nil
}

// unlocked runs f without s.mu, taking it back even if f panics.
func (s *Store) unlocked(f func() error) error {
	s.mu.Unlock()
	defer s.mu.Lock()
	return f()
}

// GetLink implements invites.LinkStore.
func (s *Store) GetLink(_ context.Context, p invites.GetLinkParams) (invites.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Digest != nil {
		id, ok := s.lk.byDigest[string(p.Digest)]
		if !ok {
			return invites.Link{}, invites.ErrInvalidToken
		}
		return cloneLink(s.lk.byID[id].l), nil
	}
	r, err := s.findLink(p.TenantID, p.ID)
	if err != nil {
		return invites.Link{}, err
	}
	return cloneLink(r.l), nil
}

// ListLinks implements invites.LinkStore.
func (s *Store) ListLinks(_ context.Context, p invites.ListLinksParams) ([]invites.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []invites.Link
	for _, id := range s.lk.byTenant[p.TenantID] {
		l := s.lk.byID[id].l
		if p.CreatedBy != "" && l.CreatedByUserID != p.CreatedBy ||
			len(p.Statuses) > 0 && !slices.Contains(p.Statuses, l.StatusAt(p.Now)) ||
			p.After != nil && linkOrder(l, p.After.CreatedAt, p.After.ID) >= 0 {
			continue
		}
		out = append(out, cloneLink(l))
	}
	slices.SortFunc(out, func(a, b invites.Link) int { return -linkOrder(a, b.CreatedAt, b.ID) })
	return out[:min(len(out), p.Limit)], nil
}

// linkOrder compares l with the position (at, id) in CreatedAt then ID
// order, ascending.
func linkOrder(l invites.Link, at time.Time, id uuid.UUID) int {
	if c := l.CreatedAt.Compare(at); c != 0 {
		return c
	}
	return bytes.Compare(l.ID[:], id[:])
}

// LinkUses implements invites.LinkStore.
func (s *Store) LinkUses(_ context.Context, p invites.LinkParams) ([]invites.LinkUse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findLink(p.TenantID, p.ID)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(r.uses)
	slices.SortStableFunc(out, func(a, b invites.LinkUse) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	return out, nil
}

// LinkHistory implements invites.LinkStore.
func (s *Store) LinkHistory(_ context.Context, p invites.LinkParams) ([]invites.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.findLink(p.TenantID, p.ID); err != nil {
		return nil, err
	}
	out := make([]invites.Event, 0, len(s.history[p.ID]))
	for _, ev := range s.history[p.ID] {
		e := ev.e
		e.Attempt = 0
		out = append(out, e)
	}
	return out, nil
}

// dumpLinks renders the links for Dump: each with its digest, uses and
// events.
func (s *Store) dumpLinks(b *strings.Builder) {
	digests := make(map[uuid.UUID]string, len(s.lk.byDigest))
	for d, id := range s.lk.byDigest {
		digests[id] = d
	}
	ids := slices.Collect(maps.Keys(s.lk.byID))
	sortIDs(ids)
	for _, id := range ids {
		r := s.lk.byID[id]
		fmt.Fprintf(b, "link %#v\n  digest=%x\n", r.l, digests[id])
		for _, u := range r.uses {
			fmt.Fprintf(b, "  use %#v\n", u)
		}
		for _, ev := range s.history[id] {
			fmt.Fprintf(b, "  event %#v\n", ev.e)
		}
	}
}
