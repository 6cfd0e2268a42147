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

// ClaimDeliveries implements invites.Store. It only touches deliveries, so
// it does not wait for a busy invite.
func (s *Store) ClaimDeliveries(_ context.Context, now time.Time, limit int, lease time.Duration) ([]invites.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*delivery
	for id := range s.active {
		d := s.deliveries[id]
		if d.nextAttempt.After(now) || d.leaseUntil.After(now) {
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
	out := make([]invites.Delivery, 0, min(limit, len(due)))
	for _, d := range due[:min(limit, len(due))] {
		d.d.Attempt++
		d.leaseUntil = now.Add(lease)
		out = append(out, d.d)
	}
	return out, nil
}

// claim returns the stored delivery of d while d's claim holds (the
// delivery is still queued and nobody claimed it since), else
// ErrStaleDelivery. It waits first for d's invite, should it be busy.
func (s *Store) claim(ctx context.Context, d invites.Delivery) (*delivery, *record, error) {
	err := s.waitIdle(ctx, func() []uuid.UUID {
		if sd, ok := s.deliveries[d.ID]; ok {
			return []uuid.UUID{sd.d.InviteID}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sd, ok := s.deliveries[d.ID]
	if !ok {
		return nil, nil, invites.ErrStaleDelivery
	}
	if _, act := s.active[d.ID]; !act || sd.d.Attempt != d.Attempt {
		return nil, nil, invites.ErrStaleDelivery
	}
	return sd, s.invites[sd.d.InviteID], nil
}

// SetToken implements invites.Store. The invite's expiry at now does not
// matter: minting renews ExpiresAt. A delivery reclaimed by another worker
// (Attempt moved on) is left to that worker rather than dropped. The
// digests of earlier attempts stay.
func (s *Store) SetToken(ctx context.Context, d invites.Delivery, digest []byte, expiresAt time.Time) (invites.Invite, error) {
	if len(digest) == 0 {
		return invites.Invite{}, errors.New("memstore: empty token digest")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sd, r, err := s.claim(ctx, d)
	if err != nil {
		return invites.Invite{}, err
	}
	if s.latest[r.inv.ID] != sd.d.ID || r.inv.Status != invites.StatusPending {
		delete(s.active, sd.d.ID)
		return invites.Invite{}, invites.ErrStaleDelivery
	}
	if other, taken := s.digests[string(digest)]; taken && other != r.inv.ID {
		return invites.Invite{}, fmt.Errorf("memstore: token digest already in use")
	}
	if _, taken := s.digests[string(digest)]; !taken {
		r.digests = append(r.digests, bytes.Clone(digest))
		s.digests[string(digest)] = r.inv.ID
	}
	r.inv.ExpiresAt = expiresAt
	return clone(r.inv), nil
}

// CompleteDelivery implements invites.Store. The invite's UpdatedAt is left
// alone: delivery progress is not an edit of the invite.
func (s *Store) CompleteDelivery(ctx context.Context, d invites.Delivery, o invites.DeliveryOutcome) error {
	switch o.Status {
	case invites.DeliverySent, invites.DeliveryFailed, invites.DeliveryQueued:
	default:
		return fmt.Errorf("memstore: unknown delivery outcome %q", o.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sd, r, err := s.claim(ctx, d)
	if err != nil {
		return err
	}
	latest := s.latest[r.inv.ID] == sd.d.ID
	switch o.Status {
	case invites.DeliverySent:
		delete(s.active, sd.d.ID)
		if latest {
			r.inv.DeliveryStatus = invites.DeliverySent
			r.inv.DeliveryError = ""
		}
		s.emit(r, invites.EventSent, "", o.At)
	case invites.DeliveryFailed:
		delete(s.active, sd.d.ID)
		if latest {
			r.inv.DeliveryStatus = invites.DeliveryFailed
			r.inv.DeliveryError = o.Error
		}
		s.emit(r, invites.EventDeliveryFailed, "", o.At)
	case invites.DeliveryQueued:
		sd.nextAttempt = o.RetryAt
		sd.leaseUntil = time.Time{}
		if latest {
			r.inv.DeliveryStatus = invites.DeliveryQueued
			r.inv.DeliveryError = o.Error
		}
	}
	return nil
}
