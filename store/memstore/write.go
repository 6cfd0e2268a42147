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

// Insert implements invites.Store.
func (s *Store) Insert(ctx context.Context, p invites.InsertParams) ([]invites.InsertResult, error) {
	now, in, q := p.Now, p.Invites, p.Quota
	s.mu.Lock()
	defer s.mu.Unlock()
	let, err := s.takeKey(ctx, p.Idempotency, now)
	if err != nil {
		return nil, err
	}
	defer let()
	// A busy holder of an address may be about to leave pending; wait for
	// it as a unique-index check waits on a locked row.
	err = s.waitIdle(ctx, func() []uuid.UUID {
		var ids []uuid.UUID
		for _, inv := range in {
			if h := s.holder(inv.TenantID, inv.Email); h != nil {
				ids = append(ids, h.inv.ID)
			}
		}
		return ids
	})
	if err != nil {
		return nil, err
	}

	// Check every id and make every delivery id before changing anything,
	// so a failure changes nothing.
	if p.LedgerKey == nil {
		return nil, errNoLedgerKey
	}
	dids := make([]uuid.UUID, len(in))
	for i, inv := range in {
		if inv.ID == uuid.Nil {
			return nil, errors.New("memstore: an invite to insert has no ID")
		}
		if _, dup := s.invites[inv.ID]; dup || slices.ContainsFunc(in[:i], func(o invites.Invite) bool { return o.ID == inv.ID }) {
			return nil, fmt.Errorf("memstore: invite id %s already stored", inv.ID)
		}
		if dids[i], err = uuid.NewV7(); err != nil {
			return nil, err
		}
		if d, ok := p.LinkDigests[inv.ID]; ok && !s.freeDigest(d) {
			return nil, errors.New("memstore: token digest empty or already in use")
		}
	}

	res := make([]invites.InsertResult, len(in))
	// What q still allows, per tenant and per tenant and user; -1 is no bound.
	pendLeft, sendLeft, batch := map[string]int{}, map[string]int{}, newBatchSends()
	for i, inv := range in {
		if p.SuppressionKey != nil && s.suppressed(inv.TenantID, p.SuppressionKey(invites.NormalizeEmail(inv.Email))) {
			res[i].Suppressed = true
			continue
		}
		if h := s.holder(inv.TenantID, inv.Email); h != nil && now.Before(h.inv.ExpiresAt) {
			res[i].Existing = h.inv.ID
			continue
		}
		key := string(p.LedgerKey(invites.NormalizeEmail(inv.Email)))
		if s.addressLimit(q, inv.TenantID, key, now, batch) {
			res[i].AddressLimited = true
			continue
		}
		user := inv.TenantID + "\x00" + inv.CreatedByUserID
		if _, ok := pendLeft[inv.TenantID]; !ok {
			pendLeft[inv.TenantID] = left(q.MaxPending, func() int { return s.tenantPending(inv.TenantID, now) })
		}
		if _, ok := sendLeft[user]; !ok {
			sendLeft[user] = left(q.MaxSendsPerHour, func() int { return s.userSends(inv.TenantID, inv.CreatedByUserID, now) })
		}
		if pendLeft[inv.TenantID] == 0 || sendLeft[user] == 0 {
			res[i].OverQuota = true
			continue
		}
		if pendLeft[inv.TenantID] > 0 {
			pendLeft[inv.TenantID]--
		}
		if sendLeft[user] > 0 {
			sendLeft[user]--
		}
		batch.add(inv.TenantID, key)
		res[i].Invite = clone(inv)
	}
	// Decided whole before anything is written, so an error of Answer
	// changes nothing.
	var answer []byte
	if p.Idempotency != nil {
		if answer, err = p.Answer(slices.Clone(res)); err != nil {
			return nil, err
		}
	}
	for i, inv := range in {
		if res[i].Invite.ID == uuid.Nil {
			continue
		}
		if h := s.holder(inv.TenantID, inv.Email); h != nil {
			s.expire(h, now)
		}
		r := &record{inv: clone(inv)}
		s.invites[r.inv.ID] = r
		s.byTenant[r.inv.TenantID] = append(s.byTenant[r.inv.TenantID], r.inv.ID)
		k := pendingKey(r.inv.TenantID, r.inv.Email)
		s.pending[k] = r.inv.ID
		s.byEmail[k] = append(s.byEmail[k], r.inv.ID)
		r.fixed = p.FixedExpiry[r.inv.ID]
		if d, ok := p.LinkDigests[r.inv.ID]; ok {
			s.link(r, d)
		} else {
			s.queue(r, dids[i], invites.KindInvitation, now, p.Trace)
		}
		s.emit(r, invites.EventCreated, r.inv.CreatedByUserID, now)
		s.record(r.inv.TenantID, r.inv.CreatedByUserID, string(p.LedgerKey(invites.NormalizeEmail(inv.Email))), now)
		res[i].Invite = clone(r.inv)
	}
	s.keepKey(p.Idempotency, answer)
	return res, nil
}

// left is what a limit leaves after count, or -1 when the limit is off.
func left(limit int, count func() int) int {
	if limit <= 0 {
		return -1
	}
	return max(limit-count(), 0)
}

// queue adds a delivery due now as r's latest, dropping the one before it
// from the claimable set: only the latest delivery of an invite is active.
func (s *Store) queue(r *record, did uuid.UUID, kind invites.MessageKind, now time.Time, trace string) {
	if old, ok := s.latest[r.inv.ID]; ok {
		delete(s.active, old)
	}
	s.deliveries[did] = &delivery{
		d: invites.Delivery{ID: did, InviteID: r.inv.ID, TenantID: r.inv.TenantID, Kind: kind,
			QueuedAt: now, Trace: trace},
		nextAttempt: now,
	}
	s.latest[r.inv.ID] = did
	s.active[did] = struct{}{}
}

// freeDigest reports whether d may be a new token's digest: not empty,
// nor any token's already.
func (s *Store) freeDigest(d []byte) bool {
	_, taken := s.digests[string(d)]
	return len(d) > 0 && !taken
}

// link gives r the token of d, of a link the host delivers: r has no
// delivery to send, its queued one (if any) no longer claimable.
func (s *Store) link(r *record, d []byte) {
	if queued, ok := s.latest[r.inv.ID]; ok {
		delete(s.active, queued)
		delete(s.latest, r.inv.ID)
	}
	r.digests = [][]byte{bytes.Clone(d)}
	s.digests[string(d)] = r.inv.ID
}

// find returns the invite id of tenantID; callers hold s.mu.
func (s *Store) find(tenantID string, id uuid.UUID) (*record, error) {
	r, ok := s.invites[id]
	if !ok || r.inv.TenantID != tenantID {
		return nil, invites.ErrNotFound
	}
	return r, nil
}

// Get implements invites.Store.
func (s *Store) Get(_ context.Context, p invites.GetParams) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(p.TenantID, p.ID)
	if err != nil {
		return invites.Invite{}, err
	}
	return clone(r.inv), nil
}

// Lookup implements invites.Store.
func (s *Store) Lookup(_ context.Context, p invites.LookupParams) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byDigest(p.Digest)
	if r == nil {
		return invites.Invite{}, invites.ErrInvalidToken
	}
	return clone(r.inv), nil
}

func (s *Store) byDigest(digest []byte) *record {
	if len(digest) == 0 {
		return nil
	}
	id, ok := s.digests[string(digest)]
	if !ok {
		return nil
	}
	return s.invites[id]
}
