package bunstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The delivery writes lock an invite before its delivery, as Resend does
// (it renews the invite, then supersedes the delivery), so two of them
// never wait on each other in a circle.

// ClaimDeliveries implements invites.Store in one statement. On PostgreSQL
// FOR UPDATE SKIP LOCKED lets several workers claim side by side, each
// passing over the rows another is taking; SQLite runs one writer at a
// time, so the statement alone is enough.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]invites.Delivery, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	w := s.pick(`SELECT id FROM invites_deliveries
		WHERE state = 'queued' AND due_at <= ? ORDER BY due_at, id LIMIT ?`, at(now), limit)
	rows, err := s.db.QueryContext(ctx, w.sql+`
		UPDATE invites_deliveries SET attempt = attempt + 1, due_at = ? WHERE id IN (SELECT id FROM picked)
		RETURNING id, invite_id, tenant_id, kind, attempt`,
		append(w.args, at(now.Add(lease)))...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []invites.Delivery
	for rows.Next() {
		var (
			d    invites.Delivery
			kind string
		)
		if err := rows.Scan(&d.ID, &d.InviteID, &d.TenantID, &kind, &d.Attempt); err != nil {
			return nil, wrap(err)
		}
		d.Kind = invites.MessageKind(kind)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	slices.SortFunc(out, func(a, b invites.Delivery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// claimed is the state of a delivery and its invite, both locked.
type claimed struct {
	inviteID uuid.UUID
	status   invites.Status
	latest   bool // the delivery is its invite's latest
	holds    bool // the delivery is queued and its Attempt is d's
}

// lockClaim locks d's invite, then d, in the transaction tx.
func (s *Store) lockClaim(ctx context.Context, tx bun.Tx, d invites.Delivery) (claimed, error) {
	var (
		c      claimed
		status string
		latest uuid.NullUUID
	)
	err := tx.QueryRowContext(ctx, `SELECT id, status, latest_delivery_id FROM invites
		WHERE id = (SELECT invite_id FROM invites_deliveries WHERE id = ?)`+s.forUpdate, d.ID).
		Scan(&c.inviteID, &status, &latest)
	if err != nil {
		return c, notFound(err, invites.ErrStaleDelivery)
	}
	var (
		state   string
		attempt int
	)
	err = tx.QueryRowContext(ctx, "SELECT state, attempt FROM invites_deliveries WHERE id = ?"+s.forUpdate, d.ID).
		Scan(&state, &attempt)
	if err != nil {
		return c, notFound(err, invites.ErrStaleDelivery)
	}
	c.status = invites.Status(status)
	c.latest = latest.Valid && latest.UUID == d.ID
	c.holds = state == "queued" && attempt == d.Attempt
	return c, nil
}

// SetToken implements invites.Store: the digest joins those of the
// delivery's earlier attempts.
func (s *Store) SetToken(ctx context.Context, d invites.Delivery, digest []byte, expiresAt time.Time) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	if len(digest) == 0 {
		return invites.Invite{}, errors.New("bunstore: empty token digest")
	}
	var (
		out     invites.Invite
		dropped bool
	)
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c, err := s.lockClaim(ctx, tx, d)
		switch {
		case err != nil:
			return err
		case !c.holds:
			return invites.ErrStaleDelivery // another worker has it now, or it is done
		case !c.latest || c.status != invites.StatusPending:
			// Nobody wants this email any more: drop it (and commit that),
			// then answer stale.
			_, err := tx.ExecContext(ctx, "UPDATE invites_deliveries SET state = 'dropped' WHERE id = ?", d.ID)
			dropped = err == nil
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO invites_tokens (digest, invite_id, delivery_id) VALUES (?, ?, ?)",
			digest, c.inviteID, d.ID)
		if isUniqueViolation(err) {
			return fmt.Errorf("token digest already in use: %w", err)
		}
		if err != nil {
			return err
		}
		out, err = scanInvite(tx.QueryRowContext(ctx, `UPDATE invites SET token_digest = ?, expires_at = ?
			WHERE id = ? RETURNING `+inviteCols, digest, at(expiresAt), c.inviteID))
		return err
	})
	if err == nil && dropped {
		return invites.Invite{}, invites.ErrStaleDelivery
	}
	if err != nil {
		return invites.Invite{}, translate(err)
	}
	return out, nil
}

// deliveryEvent is the event of an attempt's final outcome; a retry has none.
var deliveryEvent = map[invites.DeliveryStatus]invites.EventType{
	invites.DeliverySent:   invites.EventSent,
	invites.DeliveryFailed: invites.EventDeliveryFailed,
}

// CompleteDelivery implements invites.Store. The invite's UpdatedAt stays:
// delivery progress is not an edit of the invite.
func (s *Store) CompleteDelivery(ctx context.Context, d invites.Delivery, o invites.DeliveryOutcome) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	var set string
	var args []any
	switch o.Status {
	case invites.DeliverySent:
		set = "state = 'sent', last_error = ''"
	case invites.DeliveryFailed:
		set = "state = 'failed', last_error = ?"
		args = append(args, o.Error)
	case invites.DeliveryQueued:
		set = "due_at = ?, last_error = ?"
		args = append(args, at(o.RetryAt), o.Error)
	default:
		return fmt.Errorf("bunstore: unknown delivery outcome %q", o.Status)
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c, err := s.lockClaim(ctx, tx, d)
		if err != nil {
			return err
		}
		if !c.holds {
			return invites.ErrStaleDelivery
		}
		if _, err := tx.ExecContext(ctx, "UPDATE invites_deliveries SET "+set+" WHERE id = ?",
			append(args, d.ID)...); err != nil {
			return err
		}
		if typ, ok := deliveryEvent[o.Status]; ok {
			if err := writeEvents(ctx, tx, []event{{c.inviteID, d.TenantID, typ, "", o.At}}); err != nil {
				return err
			}
		}
		if !c.latest {
			return nil
		}
		msg := o.Error
		if o.Status == invites.DeliverySent {
			msg = ""
		}
		_, err = tx.ExecContext(ctx, "UPDATE invites SET delivery_status = ?, delivery_error = ? WHERE id = ?",
			string(o.Status), msg, c.inviteID)
		return err
	})
	return translate(err)
}
