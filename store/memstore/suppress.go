package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// suppression is one tenant's suppression of a key (see
// invites.SuppressionStore).
type suppression struct {
	all    bool // for every tenant: a complaint
	reason string
	invite uuid.UUID
	at     time.Time
}

// suppressed reports whether key is suppressed for tenant: by tenant, or
// by any tenant for all.
func (s *Store) suppressed(tenant string, key []byte) bool {
	for t, x := range s.suppressions[string(key)] {
		if t == tenant || x.all {
			return true
		}
	}
	return false
}

// Suppress implements invites.Store. It waits for the delivery's invite
// should its Accept hook run, as Bounce.
func (s *Store) Suppress(ctx context.Context, p invites.SuppressParams) (invites.Invite, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, r, err := s.deliveryOf(ctx, p.DeliveryID, p.TenantID)
	if err != nil {
		return invites.Invite{}, false, err
	}
	key := string(p.SuppressionKey(r.inv.EmailNorm()))
	byTenant := s.suppressions[key]
	if x := byTenant[r.inv.TenantID]; x != nil && (x.all || !p.AllTenants) {
		return clone(r.inv), false, nil
	}
	if byTenant == nil {
		byTenant = map[string]*suppression{}
		s.suppressions[key] = byTenant
	}
	byTenant[r.inv.TenantID] = &suppression{all: p.AllTenants, reason: p.Reason, invite: r.inv.ID, at: p.Now}
	s.emit(r, invites.EventSuppressed, "", p.Now)
	return clone(r.inv), true, nil
}

// Unsuppress implements invites.Store.
func (s *Store) Unsuppress(_ context.Context, p invites.UnsuppressParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := string(p.Key)
	x := s.suppressions[key][p.TenantID]
	if x == nil {
		return invites.ErrNotFound
	}
	delete(s.suppressions[key], p.TenantID)
	if len(s.suppressions[key]) == 0 {
		delete(s.suppressions, key)
	}
	if r := s.invites[x.invite]; r != nil {
		s.emit(r, invites.EventUnsuppressed, p.ActorID, p.Now)
	} else { // removed: the event goes to ClaimEvents only
		s.write(invites.Event{InviteID: x.invite, TenantID: p.TenantID, Type: invites.EventUnsuppressed, ActorID: p.ActorID, At: p.Now})
	}
	return nil
}

// dumpSuppressions renders the suppression list for Dump, keys in hex.
func (s *Store) dumpSuppressions(b *strings.Builder) {
	for _, k := range slices.Sorted(maps.Keys(s.suppressions)) {
		for _, t := range slices.Sorted(maps.Keys(s.suppressions[k])) {
			x := s.suppressions[k][t]
			fmt.Fprintf(b, "suppression %x tenant=%q all=%t reason=%q invite=%s at=%s\n", k, t, x.all, x.reason, x.invite, x.at)
		}
	}
}
