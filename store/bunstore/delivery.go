package bunstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The outbox works a batch at a time: a claim and its tokens are one
// commit (claim.go), the outcomes of many emails another. Lock order is
// invite, then delivery, as Resend's: the claim locks both with SKIP
// LOCKED and so never waits, and CompleteDeliveries writes the invites
// first.

// RenewDeliveries implements invites.Store in one statement.
func (s *Store) RenewDeliveries(ctx context.Context, p invites.RenewParams) ([]uuid.UUID, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if len(p.Deliveries) == 0 {
		return nil, nil
	}
	args := []any{at(p.Now.Add(p.Lease))}
	for _, d := range p.Deliveries {
		args = append(args, d.ID, d.Attempt)
	}
	rows, err := s.db.QueryContext(ctx, values("UPDATE invites_deliveries SET leased_until = ? FROM (VALUES ",
		s.cast("(?::uuid, ?::integer)"), len(p.Deliveries))+`) AS v
		WHERE invites_deliveries.id = v.column1 AND attempt = v.column2 AND state = 'queued' RETURNING id, attempt`, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	held := map[invites.Delivery]bool{}
	for rows.Next() {
		var d invites.Delivery
		if err := rows.Scan(&d.ID, &d.Attempt); err != nil {
			return nil, wrap(err)
		}
		held[d] = true
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	var lost []uuid.UUID
	for _, d := range p.Deliveries {
		if !held[invites.Delivery{ID: d.ID, Attempt: d.Attempt}] {
			lost = append(lost, d.ID)
		}
	}
	return lost, nil
}

// deliveryEvent is the event of an attempt's final outcome; a retry has none.
var deliveryEvent = map[invites.DeliveryStatus]invites.EventType{
	invites.DeliverySent:   invites.EventSent,
	invites.DeliveryFailed: invites.EventDeliveryFailed,
}

// completed is a delivery row as CompleteDeliveries left it.
type completed struct {
	id, invite uuid.UUID
	tenant     string
	state      string
}

// CompleteDeliveries implements invites.Store in one transaction of
// three statements: the invites (the lock order), the deliveries whose
// claim holds, their events. On PostgreSQL it commits without waiting for
// the WAL flush (unless the store runs in the host's transaction):
// outcomes lost to a crash only make their emails go again.
func (s *Store) CompleteDeliveries(ctx context.Context, outcomes []invites.DeliveryOutcome) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if len(outcomes) == 0 {
		return nil
	}
	set := make([]any, 0, 5*len(outcomes))
	onInvites := make([]any, 0, 5*len(outcomes))
	ended := map[uuid.UUID]time.Time{}
	for _, o := range outcomes {
		due := o.At
		switch o.Status {
		case invites.DeliverySent:
			o.Error = ""
		case invites.DeliveryFailed:
		case invites.DeliveryQueued:
			due = o.RetryAt
		default:
			return fmt.Errorf("bunstore: unknown delivery outcome %q", o.Status)
		}
		d := o.Delivery
		set = append(set, d.ID, d.Attempt, string(o.Status), at(due), o.Error)
		onInvites = append(onInvites, d.InviteID, d.ID, d.Attempt, string(o.Status), o.Error)
		ended[d.ID] = o.At
	}
	_, hostTx := s.db.(bun.Tx)
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if s.pg && !hostTx {
			if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, values(`UPDATE invites SET delivery_status = v.column4, delivery_error = v.column5
			FROM invites_deliveries d, (VALUES `, s.cast("(?::uuid, ?::uuid, ?::integer, ?, ?)"), len(outcomes))+`) AS v
			WHERE invites.id = v.column1 AND invites.latest_delivery_id = v.column2
			AND d.id = v.column2 AND d.attempt = v.column3 AND d.state = 'queued'`, onInvites...); err != nil {
			return err
		}
		done, err := s.markDeliveries(ctx, tx, set, len(outcomes))
		if err != nil {
			return err
		}
		var evs []event
		for _, c := range done {
			if typ, ok := deliveryEvent[invites.DeliveryStatus(c.state)]; ok {
				evs = append(evs, event{c.invite, c.tenant, typ, "", ended[c.id]})
			}
		}
		return writeEvents(ctx, tx, evs)
	})
	return translate(err)
}

// markDeliveries writes the n outcomes of set onto the deliveries whose
// claim holds, and returns those.
func (s *Store) markDeliveries(ctx context.Context, tx bun.Tx, set []any, n int) ([]completed, error) {
	rows, err := tx.QueryContext(ctx, values(`UPDATE invites_deliveries
		SET state = v.column3, due_at = v.column4, last_error = v.column5, leased_until = NULL FROM (VALUES `,
		s.cast("(?::uuid, ?::integer, ?, ?::timestamptz, ?)"), n)+`) AS v
		WHERE invites_deliveries.id = v.column1 AND attempt = v.column2 AND state = 'queued'
		RETURNING id, invite_id, tenant_id, state`, set...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []completed
	for rows.Next() {
		var c completed
		if err := rows.Scan(&c.id, &c.invite, &c.tenant, &c.state); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// cast returns tuple, a row of placeholders with PostgreSQL casts, for
// the dialect: the casts give VALUES columns their types on PostgreSQL,
// and SQLite, which has none of those types, gets bare placeholders.
func (s *Store) cast(tuple string) string {
	if s.pg {
		return tuple
	}
	for _, t := range []string{"::uuid", "::bytea", "::integer", "::timestamptz"} {
		tuple = strings.ReplaceAll(tuple, t, "")
	}
	return tuple
}
