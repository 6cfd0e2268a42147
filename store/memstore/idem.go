package memstore

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/invitekit/invites"
)

// keyID is an idempotency key as scoped (invites.Idempotency).
type keyID struct{ tenant, scope, key string }

// kept is the record of a key: the request's fingerprint and the answer.
type kept struct {
	fingerprint, answer []byte
	expiresAt           time.Time
}

// takeKey checks k, the key of a write at now, before the write: it waits
// while another write holds the key (as a SQL insert waits on a row
// another transaction inserted), then answers the record of a live key
// (a *invites.ReplayError, or ErrIdempotencyMismatch), or holds the key
// for the write, and returns what lets it go. Callers hold s.mu.
func (s *Store) takeKey(ctx context.Context, k *invites.Idempotency, now time.Time) (func(), error) {
	if k == nil {
		return func() {}, nil
	}
	id := keyID{k.TenantID, k.Scope, k.Key}
	if err := s.waitUntil(ctx, func() bool { _, held := s.keyHeld[id]; return !held }); err != nil {
		return nil, err
	}
	if r, ok := s.keys[id]; ok && r.expiresAt.After(now) {
		if !bytes.Equal(r.fingerprint, k.Fingerprint) {
			return nil, invites.ErrIdempotencyMismatch
		}
		return nil, &invites.ReplayError{Answer: bytes.Clone(r.answer)}
	}
	s.keyHeld[id] = struct{}{}
	return func() {
		delete(s.keyHeld, id)
		s.cond.Broadcast()
	}, nil
}

// keepKey records k, which the caller's write holds, with answer.
func (s *Store) keepKey(k *invites.Idempotency, answer []byte) {
	if k != nil {
		s.keys[keyID{k.TenantID, k.Scope, k.Key}] = &kept{bytes.Clone(k.Fingerprint), bytes.Clone(answer), k.ExpiresAt}
	}
}

// pruneKeys deletes up to limit records that expired before before, the
// first to expire first; callers hold s.mu.
func (s *Store) pruneKeys(before time.Time, limit int) int {
	var old []keyID
	for id, r := range s.keys {
		if r.expiresAt.Before(before) {
			old = append(old, id)
		}
	}
	slices.SortFunc(old, func(a, b keyID) int { return s.keys[a].expiresAt.Compare(s.keys[b].expiresAt) })
	old = old[:min(limit, len(old))]
	for _, id := range old {
		delete(s.keys, id)
	}
	return len(old)
}
