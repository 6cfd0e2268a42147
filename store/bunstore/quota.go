package bunstore

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// A quota is checked and used in one transaction that first takes the
// tenant's quota lock: on PostgreSQL a transaction-scoped advisory lock,
// so two senders to one tenant count one after the other, never both
// before either wrote; SQLite's immediate transactions already run one at
// a time. Without a tenant or inviter quota no tenant lock is taken (the
// address limit takes its own locks: see addrlimit.go).

// tenantQuota reports whether q bounds the tenant or the inviter, which
// the tenant's quota lock serializes.
func tenantQuota(q invites.Quota) bool { return q.MaxPending > 0 || q.MaxSendsPerHour > 0 }

// lockQuotas takes the quota locks of tenants, in sorted order so two
// batches never wait on each other in a circle.
func (s *Store) lockQuotas(ctx context.Context, tx bun.IDB, q invites.Quota, tenants ...string) error {
	if !s.pg || !tenantQuota(q) {
		return nil
	}
	tenants = slices.Clone(tenants)
	slices.Sort(tenants)
	for _, t := range slices.Compact(tenants) {
		if _, err := on(tx).ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "invites.quota:"+t); err != nil {
			return err
		}
	}
	return nil
}

// pendingCount counts tenant's invites pending at now when limit is set,
// else answers 0 without asking.
func pendingCount(ctx context.Context, tx bun.IDB, limit int, tenant string, now time.Time) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := on(tx).QueryRowContext(ctx, `SELECT count(*) FROM invites
		WHERE tenant_id = ? AND status = 'pending' AND expires_at > ?`, tenant, at(now)).Scan(&n)
	return n, err
}

// sendCount counts user's sends in tenant in the hour up to now when limit
// is set, else answers 0 without asking.
func sendCount(ctx context.Context, tx bun.IDB, limit int, tenant, user string, now time.Time) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := on(tx).QueryRowContext(ctx, `SELECT count(*) FROM invites_sends
		WHERE tenant_id = ? AND actor_id = ? AND at > ?`,
		tenant, user, at(now.Add(-time.Hour))).Scan(&n)
	return n, err
}

// left is how many more of limit n leaves, or -1 for no limit.
func left(limit, n int) int {
	if limit <= 0 {
		return -1
	}
	return max(limit-n, 0)
}

// quotaBudget is what a quota allows a batch, counted before its INSERT.
type quotaBudget struct {
	q       invites.Quota
	pending map[string]int // tenant -> invites left, -1 unbounded
	sends   map[[2]string]int
	address addressSends
	keys    keyTable // the tenant and ledger key of each row
}

// budget counts what q leaves each tenant, creator and address (keys, of
// the ledger) of rows at now.
func (s *Store) budget(ctx context.Context, tx bun.Tx, q invites.Quota, rows []invites.Invite, now time.Time, keys keyTable) (quotaBudget, error) {
	b := quotaBudget{q: q, pending: map[string]int{}, sends: map[[2]string]int{}, keys: keys}
	from, args := s.batchKeys(1, keys)
	var err error
	if b.address, err = s.countAddresses(ctx, tx, q, now, from, args...); err != nil {
		return b, err
	}
	if !tenantQuota(q) {
		return b, nil
	}
	for _, r := range rows {
		if _, ok := b.pending[r.TenantID]; !ok {
			n, err := pendingCount(ctx, tx, q.MaxPending, r.TenantID, now)
			if err != nil {
				return b, err
			}
			b.pending[r.TenantID] = left(q.MaxPending, n)
		}
		k := [2]string{r.TenantID, r.CreatedByUserID}
		if _, ok := b.sends[k]; !ok {
			n, err := sendCount(ctx, tx, q.MaxSendsPerHour, r.TenantID, r.CreatedByUserID, now)
			if err != nil {
				return b, err
			}
			b.sends[k] = left(q.MaxSendsPerHour, n)
		}
	}
	return b, nil
}

// take uses one invite of the budget of rows[i], r, or says why it
// cannot: the address limits first, then the other quotas.
func (b quotaBudget) take(i int, r invites.Invite) (addr, quota bool) {
	if addressLimited(b.q) && !b.address.allows(b.q, b.keys[i]) {
		return true, false
	}
	if tenantQuota(b.q) {
		k := [2]string{r.TenantID, r.CreatedByUserID}
		if b.pending[r.TenantID] == 0 || b.sends[k] == 0 {
			return false, true
		}
		if b.pending[r.TenantID] > 0 {
			b.pending[r.TenantID]--
		}
		if b.sends[k] > 0 {
			b.sends[k]--
		}
	}
	if addressLimited(b.q) {
		b.address.count(b.keys[i])
	}
	return false, false
}

// dropOverQuota deletes the stored invites (stored, in batch order) beyond
// the budget, with their outbox rows and events, marks them
// AddressLimited or OverQuota, and returns the ones kept. The caller has
// removed duplicates, so an address has one invite in the batch.
func (s *Store) dropOverQuota(ctx context.Context, tx bun.IDB, b quotaBudget, rows []invites.Invite, stored []int, res []invites.InsertResult) ([]int, error) {
	var kept []int
	var over []uuid.UUID
	for _, i := range stored {
		addr, quota := b.take(i, rows[i])
		if !addr && !quota {
			kept = append(kept, i)
			continue
		}
		over = append(over, rows[i].ID)
		res[i] = invites.InsertResult{AddressLimited: addr, OverQuota: quota}
	}
	if len(over) == 0 {
		return kept, nil
	}
	for _, table := range []string{"invites_events", "invites_deliveries"} {
		in, arg := s.idIn("invite_id", over)
		if _, err := on(tx).ExecContext(ctx, "DELETE FROM "+table+" WHERE "+in, arg); err != nil {
			return nil, err
		}
	}
	in, arg := s.idIn("id", over)
	_, err := on(tx).ExecContext(ctx, "DELETE FROM invites WHERE "+in, arg)
	return kept, err
}
