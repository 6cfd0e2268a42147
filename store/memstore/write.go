package memstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Insert implements invites.Store.
func (s *Store) Insert(ctx context.Context, now time.Time, in []invites.Invite, q invites.Quota) ([]invites.InsertResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A busy holder of an address may be about to leave pending; wait for
	// it as a unique-index check waits on a locked row.
	err := s.waitIdle(ctx, func() []uuid.UUID {
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

	// Make every id before changing anything, so a failure changes nothing.
	ids := make([]uuid.UUID, len(in))
	dids := make([]uuid.UUID, len(in))
	for i, inv := range in {
		id := inv.ID
		if id == uuid.Nil {
			if id, err = uuid.NewV7(); err != nil {
				return nil, err
			}
		}
		if _, dup := s.invites[id]; dup || (i > 0 && containsID(ids[:i], id)) {
			return nil, fmt.Errorf("memstore: invite id %s already stored", id)
		}
		ids[i] = id
		if dids[i], err = uuid.NewV7(); err != nil {
			return nil, err
		}
	}

	res := make([]invites.InsertResult, len(in))
	// What q still allows, per tenant and per tenant and user; -1 is no bound.
	pendLeft, sendLeft := map[string]int{}, map[string]int{}
	for i, inv := range in {
		if h := s.holder(inv.TenantID, inv.Email); h != nil && now.Before(h.inv.ExpiresAt) {
			res[i].Existing = h.inv.ID
			continue
		}
		if s.addressLeft(inv.TenantID, inv.Email, now, q) == 0 {
			res[i].AddressLimited = true
			continue
		}
		user := inv.TenantID + "\x00" + inv.CreatedByUserID
		if _, ok := pendLeft[inv.TenantID]; !ok {
			pendLeft[inv.TenantID] = s.pendingLeft(inv.TenantID, now, q)
		}
		if _, ok := sendLeft[user]; !ok {
			sendLeft[user] = s.sendsLeft(inv.TenantID, inv.CreatedByUserID, now, q)
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
		if h := s.holder(inv.TenantID, inv.Email); h != nil {
			s.expire(h, now)
		}
		r := &record{inv: clone(inv)}
		r.inv.ID = ids[i]
		r.inv.Status = invites.StatusPending
		r.inv.AcceptedByUserID = ""
		r.inv.SendCount = 1
		r.inv.LastSentAt = now
		r.inv.DeliveryStatus = invites.DeliveryQueued
		r.inv.DeliveryError = ""
		for _, t := range []*time.Time{&r.inv.CreatedAt, &r.inv.UpdatedAt, &r.inv.StatusUpdatedAt} {
			if t.IsZero() {
				*t = now
			}
		}
		s.invites[r.inv.ID] = r
		s.byTenant[r.inv.TenantID] = append(s.byTenant[r.inv.TenantID], r.inv.ID)
		k := pendingKey(r.inv.TenantID, r.inv.Email)
		s.pending[k] = r.inv.ID
		s.byEmail[k] = append(s.byEmail[k], r.inv.ID)
		s.queue(r, dids[i], invites.KindInvitation, now)
		s.emit(r, invites.EventCreated, r.inv.CreatedByUserID, now)
		res[i].Invite = clone(r.inv)
	}
	return res, nil
}

func containsID(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// queue adds a delivery due now as r's latest, dropping the one before it
// from the claimable set: only the latest delivery of an invite is active.
func (s *Store) queue(r *record, did uuid.UUID, kind invites.MessageKind, now time.Time) {
	if old, ok := s.latest[r.inv.ID]; ok {
		delete(s.active, old)
	}
	s.deliveries[did] = &delivery{
		d:           invites.Delivery{ID: did, InviteID: r.inv.ID, TenantID: r.inv.TenantID, Kind: kind},
		nextAttempt: now,
	}
	s.latest[r.inv.ID] = did
	s.active[did] = struct{}{}
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
func (s *Store) Get(_ context.Context, tenantID string, id uuid.UUID) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(tenantID, id)
	if err != nil {
		return invites.Invite{}, err
	}
	return clone(r.inv), nil
}

// Update implements invites.Store.
func (s *Store) Update(ctx context.Context, tenantID string, id uuid.UUID, now time.Time, u invites.Update, guard invites.Guard) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(tenantID, id)
	if err != nil {
		return invites.Invite{}, err
	}
	if err := s.vet(ctx, r, guard); err != nil {
		return invites.Invite{}, err
	}
	if u.Roles != nil {
		if st := r.inv.StatusAt(now); st != invites.StatusPending {
			return invites.Invite{}, &invites.NotPendingError{Status: st}
		}
		r.inv.Roles = append([]string{}, u.Roles...)
	}
	if u.FirstName != nil {
		r.inv.FirstName = *u.FirstName
	}
	if u.LastName != nil {
		r.inv.LastName = *u.LastName
	}
	if u.Locale != nil {
		r.inv.Locale = *u.Locale
	}
	if u.Data != nil {
		if bytes.Equal(bytes.TrimSpace(u.Data), []byte("null")) {
			r.inv.Data = nil
		} else {
			r.inv.Data = bytes.Clone(u.Data)
		}
	}
	r.inv.UpdatedAt = now
	return clone(r.inv), nil
}

// Cancel implements invites.Store. The digests stay indexed so Lookup
// still shows the link's invite, now canceled.
func (s *Store) Cancel(ctx context.Context, by invites.Actor, id uuid.UUID, now time.Time, guard invites.Guard) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(by.TenantID, id)
	if err != nil {
		return invites.Invite{}, err
	}
	if err := s.vet(ctx, r, guard); err != nil {
		return invites.Invite{}, err
	}
	switch r.inv.Status {
	case invites.StatusPending, invites.StatusExpired:
	default:
		return invites.Invite{}, &invites.NotPendingError{Status: r.inv.Status}
	}
	s.freeKey(r)
	r.inv.Status = invites.StatusCanceled
	r.inv.StatusUpdatedAt = now
	r.inv.UpdatedAt = now
	s.emit(r, invites.EventCanceled, by.UserID, now)
	return clone(r.inv), nil
}

// Resend implements invites.Store, refusing in the order its contract
// lists.
func (s *Store) Resend(ctx context.Context, by invites.Actor, id uuid.UUID, now time.Time, rule invites.ResendRule, guard invites.Guard) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(by.TenantID, id)
	if err != nil {
		return invites.Invite{}, err
	}
	if err := s.vet(ctx, r, guard); err != nil {
		return invites.Invite{}, err
	}
	err = s.waitIdle(ctx, func() []uuid.UUID {
		ids := []uuid.UUID{id}
		if h := s.holder(r.inv.TenantID, r.inv.Email); h != nil && h != r {
			ids = append(ids, h.inv.ID)
		}
		return ids
	})
	if err != nil {
		return invites.Invite{}, err
	}
	switch r.inv.Status {
	case invites.StatusPending, invites.StatusExpired:
	default:
		return invites.Invite{}, &invites.NotPendingError{Status: r.inv.Status}
	}
	if r.inv.SendCount-1 >= rule.Max {
		return invites.Invite{}, invites.ErrTooManyResends
	}
	if until := r.inv.LastSentAt.Add(rule.Cooldown); until.After(now) {
		return invites.Invite{}, &invites.ResendTooSoonError{RetryAfter: until.Sub(now)}
	}
	// Only a stored-expired row can meet another holder of its address; a
	// holder itself past expiry gives way, as it would to Insert.
	h := s.holder(r.inv.TenantID, r.inv.Email)
	if h != nil && h != r && now.Before(h.inv.ExpiresAt) {
		return invites.Invite{}, invites.ErrAlreadyInvited
	}
	left := fewest(s.sendsLeft(by.TenantID, by.UserID, now, rule.Quota),
		s.addressLeft(r.inv.TenantID, r.inv.Email, now, rule.Quota))
	if r.inv.StatusAt(now) != invites.StatusPending {
		left = fewest(left, s.pendingLeft(by.TenantID, now, rule.Quota))
	}
	if left == 0 {
		return invites.Invite{}, invites.ErrQuotaExceeded
	}
	did, err := uuid.NewV7()
	if err != nil {
		return invites.Invite{}, err
	}
	if h != nil && h != r {
		s.expire(h, now)
	}
	for _, d := range r.digests {
		delete(s.digests, string(d))
	}
	r.digests = nil
	r.inv.Status = invites.StatusPending
	r.inv.StatusUpdatedAt = now
	r.inv.UpdatedAt = now
	r.inv.SendCount++
	r.inv.LastSentAt = now
	r.inv.ExpiresAt = now.Add(rule.TTL)
	r.inv.DeliveryStatus = invites.DeliveryQueued
	r.inv.DeliveryError = ""
	s.pending[pendingKey(r.inv.TenantID, r.inv.Email)] = id
	s.queue(r, did, invites.KindReminder, now)
	s.emit(r, invites.EventResent, by.UserID, now)
	return clone(r.inv), nil
}

// Lookup implements invites.Store.
func (s *Store) Lookup(_ context.Context, digest []byte) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byDigest(digest)
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

// Accept implements invites.Store. While hook runs the invite is busy:
// other writers to it wait, as behind a SQL row lock, and reads go on.
// A hook that writes to the same invite through this store deadlocks, as
// it would against a database.
func (s *Store) Accept(ctx context.Context, digest []byte, userID string, now time.Time, hook func(context.Context, invites.Invite) error) (invites.Invite, error) {
	return s.finish(ctx, digest, now, invites.StatusAccepted, userID, hook)
}

// Decline implements invites.Store.
func (s *Store) Decline(ctx context.Context, digest []byte, now time.Time) (invites.Invite, error) {
	return s.finish(ctx, digest, now, invites.StatusDeclined, "", nil)
}

func (s *Store) finish(ctx context.Context, digest []byte, now time.Time, to invites.Status, userID string, hook func(context.Context, invites.Invite) error) (invites.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *record
	err := s.waitIdle(ctx, func() []uuid.UUID {
		if r = s.byDigest(digest); r == nil {
			return nil
		}
		return []uuid.UUID{r.inv.ID}
	})
	if err != nil {
		return invites.Invite{}, err
	}
	if r == nil {
		return invites.Invite{}, invites.ErrInvalidToken
	}
	switch st := r.inv.StatusAt(now); st {
	case invites.StatusPending:
	case invites.StatusExpired:
		return invites.Invite{}, invites.ErrExpired
	default:
		return invites.Invite{}, &invites.NotPendingError{Status: st}
	}
	out := clone(r.inv)
	out.Status = to
	out.AcceptedByUserID = userID
	out.StatusUpdatedAt = now
	out.UpdatedAt = now
	if hook != nil {
		id := r.inv.ID
		s.busy[id] = struct{}{}
		defer s.release(id) // runs before the Unlock above, even on panic
		if err := s.callHook(ctx, hook, clone(out)); err != nil {
			return invites.Invite{}, err
		}
	}
	// Nothing wrote r while it was busy, so out is still r plus the change.
	s.freeKey(r)
	r.inv = clone(out)
	typ := invites.EventDeclined
	if to == invites.StatusAccepted {
		typ = invites.EventAccepted
	}
	s.emit(r, typ, userID, now)
	return out, nil
}
