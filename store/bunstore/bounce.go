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
		var invite uuid.UUID
		err := on(tx).QueryRowContext(ctx, "SELECT invite_id FROM invites_deliveries WHERE id = ?", p.DeliveryID).Scan(&invite)
		if errors.Is(err, sql.ErrNoRows) {
			return invites.ErrNotFound
		}
		if err != nil {
			return err
		}
		var latest bool
		inv, err = scanInvite(prefixed{on(tx).QueryRowContext(ctx, "SELECT COALESCE(latest_delivery_id = ?, FALSE), "+inviteCols+
			" FROM invites WHERE id = ?"+s.forUpdate, p.DeliveryID, invite), []any{&latest}})
		if errors.Is(err, sql.ErrNoRows) { // erased since
			return invites.ErrNotFound
		}
		if err != nil {
			return err
		}
		if p.TenantID != "" && inv.TenantID != p.TenantID {
			return invites.ErrNotFound
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
