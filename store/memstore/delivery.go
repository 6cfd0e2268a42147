package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// ClaimDeliveries implements invites.Store. A delivery whose invite is
// busy (its Accept hook runs) is passed over, as SKIP LOCKED does in SQL,
// so a claim never waits.
func (s *Store) ClaimDeliveries(_ context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if len(p.Digests) < p.Limit {
		return nil, fmt.Errorf("memstore: %d token digests for a claim of %d", len(p.Digests), p.Limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*delivery
	for id := range s.active {
		d := s.deliveries[id]
		if d.nextAttempt.After(p.Now) || d.leaseUntil.After(p.Now) || s.anyBusy([]uuid.UUID{d.d.InviteID}) {
			continue
		}
		due = append(due, d)
	}
	slices.SortFunc(due, func(a, b *delivery) int {
		if c := a.nextAttempt.Compare(b.nextAttempt); c != 0 {
			return c
		}
		return bytes.Compare(a.d.ID[:], b.d.ID[:])
	})
	var wanted, unwanted []*delivery
	for _, d := range due[:min(p.Limit, len(due))] {
		r := s.invites[d.d.InviteID]
		if s.latest[r.inv.ID] != d.d.ID || r.inv.Status != invites.StatusPending {
			unwanted = append(unwanted, d)
			continue
		}
		wanted = append(wanted, d)
	}
	// Check every digest before changing anything: the claim is whole or
	// not at all.
	seen := map[string]bool{}
	for _, digest := range p.Digests[:len(wanted)] {
		if _, taken := s.digests[string(digest)]; taken || seen[string(digest)] || len(digest) == 0 {
			return nil, errors.New("memstore: token digest empty or already in use")
		}
		seen[string(digest)] = true
	}
	for _, d := range unwanted {
		delete(s.active, d.d.ID) // nobody wants this email any more
	}
	out := make([]invites.Claim, 0, len(wanted))
	for i, d := range wanted {
		r := s.invites[d.d.InviteID]
		d.d.Attempt++
		d.leaseUntil, d.claimID = p.Now.Add(p.Lease), p.ClaimID
		r.digests = append(r.digests, bytes.Clone(p.Digests[i]))
		s.digests[string(p.Digests[i])] = r.inv.ID
		if !r.fixed && r.inv.ExpiresAt.Before(p.RenewBefore) {
			r.inv.ExpiresAt = p.ExpiresAt
		}
		out = append(out, invites.Claim{Delivery: d.d, Invite: clone(r.inv)})
	}
	return out, nil
}

// ReleaseClaim implements invites.Store.
func (s *Store) ReleaseClaim(_ context.Context, p invites.ReleaseParams) (int, error) {
	if p.ClaimID == uuid.Nil {
		return 0, errors.New("memstore: release of a claim without an id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, digest := range p.Digests {
		id, ok := s.digests[string(digest)]
		if !ok {
			continue
		}
		delete(s.digests, string(digest))
		if r := s.invites[id]; r != nil {
			r.digests = slices.DeleteFunc(r.digests, func(d []byte) bool { return bytes.Equal(d, digest) })
		}
	}
	n := 0
	for id := range s.active {
		if d := s.deliveries[id]; d.claimID == p.ClaimID && !d.leaseUntil.IsZero() {
			d.leaseUntil = time.Time{}
			n++
		}
	}
	return n, nil
}

// held returns the stored delivery of d while d's claim holds (the
// delivery is still queued and nobody claimed it since).
func (s *Store) held(d invites.Delivery) (*delivery, bool) {
	sd, ok := s.deliveries[d.ID]
	if !ok {
		return nil, false
	}
	if _, act := s.active[d.ID]; !act || sd.d.Attempt != d.Attempt {
		return nil, false
	}
	return sd, true
}

// RenewDeliveries implements invites.Store.
func (s *Store) RenewDeliveries(_ context.Context, p invites.RenewParams) ([]uuid.UUID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lost []uuid.UUID
	for _, d := range p.Deliveries {
		sd, ok := s.held(d)
		if !ok {
			lost = append(lost, d.ID)
			continue
		}
		sd.leaseUntil = p.Now.Add(p.Lease)
	}
	return lost, nil
}

// CompleteDeliveries implements invites.Store. It waits for the invites
// of the outcomes, should one be busy. The invite's UpdatedAt is left
// alone: delivery progress is not an edit of the invite.
func (s *Store) CompleteDeliveries(ctx context.Context, p invites.CompleteParams) error {
	outcomes := p.Outcomes
	for _, o := range outcomes {
		switch o.Status {
		case invites.DeliverySent, invites.DeliveryFailed, invites.DeliveryQueued:
		default:
			return fmt.Errorf("memstore: unknown delivery outcome %q", o.Status)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.waitIdle(ctx, func() []uuid.UUID {
		ids := make([]uuid.UUID, 0, len(outcomes))
		for _, o := range outcomes {
			if sd, ok := s.deliveries[o.Delivery.ID]; ok {
				ids = append(ids, sd.d.InviteID)
			}
		}
		return ids
	})
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		sd, ok := s.held(o.Delivery)
		if !ok {
			continue
		}
		r := s.invites[sd.d.InviteID]
		latest := s.latest[r.inv.ID] == sd.d.ID
		msg := o.Error
		switch o.Status {
		case invites.DeliverySent:
			delete(s.active, sd.d.ID)
			msg = ""
			s.emit(r, invites.EventSent, "", o.At)
		case invites.DeliveryFailed:
			delete(s.active, sd.d.ID)
			s.emit(r, invites.EventDeliveryFailed, "", o.At)
		case invites.DeliveryQueued:
			sd.nextAttempt, sd.leaseUntil, sd.failed = o.RetryAt, time.Time{}, true
		}
		if latest {
			r.inv.DeliveryStatus, r.inv.DeliveryError = o.Status, msg
		}
	}
	return nil
}
