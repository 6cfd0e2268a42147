package bunstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// Bounce: a delivery failed for good by a reported bounce.

// Bounce implements invites.Store in one transaction, locking the invite
// before the delivery as every write of both does.
func (s *Store) Bounce(ctx context.Context, p invites.BounceParams) (_ invites.Invite, _ bool, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	var (
		inv      invites.Invite
		recorded bool
	)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		recorded = false
		var (
			latest bool
			err    error
		)
		if inv, latest, err = s.deliveryInvite(ctx, tx, p.DeliveryID, p.TenantID); err != nil {
			return err
		}
		res, err := on(tx).ExecContext(ctx, `UPDATE invites_deliveries SET state = 'bounced', last_error = ?, leased_until = NULL
			WHERE id = ? AND state <> 'bounced'`, p.Reason, p.DeliveryID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // bounced already: nothing to do
		}
		if latest {
			if _, err := on(tx).ExecContext(ctx, "UPDATE invites SET delivery_status = 'failed', delivery_error = ? WHERE id = ?",
				p.Reason, inv.ID); err != nil {
				return err
			}
			inv.DeliveryStatus, inv.DeliveryError = invites.DeliveryFailed, p.Reason
		}
		recorded = true
		return writeEvents(ctx, tx, []event{{inv.ID, inv.TenantID, invites.EventBounced, "", p.Now}})
	})
	if err != nil {
		return invites.Invite{}, false, translate(err)
	}
	return inv, recorded, nil
}

// deliveryInvite reads in tx the invite of the delivery id, locked, and
// whether id is its latest delivery: ErrNotFound when there is no such
// delivery, its invite was erased since, or tenant is set and not the
// invite's.
func (s *Store) deliveryInvite(ctx context.Context, tx bun.Tx, id uuid.UUID, tenant string) (invites.Invite, bool, error) {
	var invite uuid.UUID
	err := on(tx).QueryRowContext(ctx, "SELECT invite_id FROM invites_deliveries WHERE id = ?", id).Scan(&invite)
	if errors.Is(err, sql.ErrNoRows) {
		return invites.Invite{}, false, invites.ErrNotFound
	}
	if err != nil {
		return invites.Invite{}, false, err
	}
	var latest bool
	inv, err := scanInvite(prefixed{on(tx).QueryRowContext(ctx, "SELECT COALESCE(latest_delivery_id = ?, FALSE), "+inviteCols+
		" FROM invites WHERE id = ?"+s.forUpdate, id, invite), []any{&latest}})
	if errors.Is(err, sql.ErrNoRows) { // erased since
		return invites.Invite{}, false, invites.ErrNotFound
	}
	if err != nil {
		return invites.Invite{}, false, err
	}
	if tenant != "" && inv.TenantID != tenant {
		return invites.Invite{}, false, invites.ErrNotFound
	}
	return inv, latest, nil
}
