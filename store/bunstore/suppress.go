package bunstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The suppression list, invites_suppressions (see migration 11): one row
// per tenant and SuppressionKey, read by Insert and a Change's Facts in
// their transactions through the primary key's prefix (address), counted
// in invites_counts by the writes that add or delete a row.

// errNoSuppressionKey refuses a Suppress without the function that keys
// the address.
var errNoSuppressionKey = errors.New("bunstore: Suppress needs the params' SuppressionKey")

// suppressedKeys is the statement telling of each (tenant, key) of from
// (numbered from 0, as batchKeys makes it) whether it is suppressed for
// that tenant: by the tenant, or by any tenant for all. The EXISTS is in
// the select list, where PostgreSQL runs it per key through the primary
// key; in WHERE it may become a join that reads the whole list.
func suppressedKeys(from string) string {
	return `SELECT k.t, k.a, EXISTS (SELECT 1 FROM invites_suppressions AS x
		WHERE x.address = k.a AND (x.tenant_id = k.t OR x.all_tenants)) FROM ` + from + ` AS k`
}

// suppressed returns which of keys are suppressed, in tx.
func (s *Store) suppressed(ctx context.Context, tx bun.Tx, keys keyTable) (map[sendKey]bool, error) {
	out := map[sendKey]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	from, args := s.batchKeys(0, keys)
	err := s.queryIn(ctx, tx, suppressedKeys(from), args, func(r scanner) error {
		var (
			t      string
			k      []byte
			barred bool
		)
		if err := r.Scan(&t, &k, &barred); err != nil {
			return err
		}
		if barred {
			out[sendKey{t, string(k)}] = true
		}
		return nil
	})
	return out, err
}

// countSuppressions adds n to the count Stats reads.
func countSuppressions(ctx context.Context, tx bun.Tx, n int) error {
	_, err := on(tx).ExecContext(ctx, "UPDATE invites_counts SET n = n + ? WHERE name = 'suppressions'", n)
	return err
}

// Suppress implements invites.Store in one transaction, locking the
// invite as Bounce does (so an erasure either comes before, and the
// delivery is not found, or waits), then the suppression's row.
func (s *Store) Suppress(ctx context.Context, p invites.SuppressParams) (_ invites.Invite, _ bool, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if p.SuppressionKey == nil {
		return invites.Invite{}, false, errNoSuppressionKey
	}
	var (
		inv  invites.Invite
		done bool
	)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		done = false
		var err error
		if inv, _, err = s.deliveryInvite(ctx, tx, p.DeliveryID, p.TenantID); err != nil {
			return err
		}
		key := p.SuppressionKey(inv.EmailNorm())
		res, err := on(tx).ExecContext(ctx, `INSERT INTO invites_suppressions (address, tenant_id, all_tenants, reason, invite_id, at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address, tenant_id) DO NOTHING`,
			key, inv.TenantID, p.AllTenants, p.Reason, inv.ID, at(p.Now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			err = countSuppressions(ctx, tx, 1)
		} else if p.AllTenants {
			res, err = on(tx).ExecContext(ctx, `UPDATE invites_suppressions SET all_tenants = ?, reason = ?, invite_id = ?, at = ?
				WHERE address = ? AND tenant_id = ? AND NOT all_tenants`, true, p.Reason, inv.ID, at(p.Now), key, inv.TenantID)
			if err == nil {
				n, err = res.RowsAffected()
			}
		}
		if err != nil || n == 0 {
			return err // suppressed already as widely
		}
		done = true
		return writeEvents(ctx, tx, []event{{inv.ID, inv.TenantID, invites.EventSuppressed, "", p.Now}})
	})
	if err != nil {
		return invites.Invite{}, false, translate(err)
	}
	return inv, done, nil
}

// Unsuppress implements invites.Store in one transaction.
func (s *Store) Unsuppress(ctx context.Context, p invites.UnsuppressParams) (err error) {
	defer s.settle(&err)
	s.ready(ctx)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var invite uuid.UUID
		err := on(tx).QueryRowContext(ctx, "DELETE FROM invites_suppressions WHERE address = ? AND tenant_id = ? RETURNING invite_id",
			p.Key, p.TenantID).Scan(&invite)
		if errors.Is(err, sql.ErrNoRows) {
			return invites.ErrNotFound
		}
		if err == nil {
			err = countSuppressions(ctx, tx, -1)
		}
		if err != nil {
			return err
		}
		return writeEvents(ctx, tx, []event{{invite, p.TenantID, invites.EventUnsuppressed, p.ActorID, p.Now}})
	})
	return translate(err)
}
