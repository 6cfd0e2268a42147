package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// Stats implements invites.Store, a pure read (see WithReader), in two
// statements, each reading one
// partial index: the queued deliveries (invites_deliveries_due_idx, with
// the lease and the last error read from each queued row) and the
// unhandled events (invites_events_due_idx). Both stay as small as the
// backlog, whatever the tables hold.
func (s *Store) Stats(ctx context.Context, p invites.StatsParams) (_ invites.Stats, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	var (
		st     invites.Stats
		oldest sql.Null[ts]
		now    = at(p.Now)
	)
	// The due condition is the claim's; min(due_at) of the due rows is the
	// first of them in the index's order.
	err = on(s.reader).QueryRowContext(ctx, `SELECT count(*),
		count(CASE WHEN due_at <= ? AND (leased_until IS NULL OR leased_until <= ?) THEN 1 END),
		min(CASE WHEN due_at <= ? AND (leased_until IS NULL OR leased_until <= ?) THEN due_at END),
		count(CASE WHEN last_error <> '' THEN 1 END)
		FROM invites_deliveries WHERE state = 'queued'`, now, now, now, now).
		Scan(&st.Queued, &st.Due, &oldest, &st.Failing)
	if err != nil {
		return invites.Stats{}, wrap(err)
	}
	if oldest.Valid {
		st.OldestDueAge = max(time.Time(now).Sub(time.Time(oldest.V)), 0)
	}
	err = on(s.reader).QueryRowContext(ctx, "SELECT count(*) FROM invites_events e WHERE "+unhandled("e")).Scan(&st.UnhandledEvents)
	if err != nil {
		return invites.Stats{}, wrap(err)
	}
	return st, nil
}

// Prune implements invites.Store: the invites in one transaction (their
// events, then the invites, whose tokens and deliveries cascade), the
// handled events in one statement, and the ledger's sends in one, each
// kind found through its index in the order it ended (invites_final_idx,
// invites_events_handled_idx, invites_sends_at_idx). On PostgreSQL rows another write holds
// are passed over, for the next Prune.
func (s *Store) Prune(ctx context.Context, p invites.PruneParams) (_ invites.PruneResult, err error) {
	defer s.settle(&err)
	var r invites.PruneResult
	s.ready(ctx)
	if p.Limit <= 0 {
		return r, nil
	}
	if !p.InvitesBefore.IsZero() {
		w := s.pickLocked(" FOR UPDATE", `SELECT id FROM invites WHERE status <> 'pending' AND status_updated_at < ?
			ORDER BY status_updated_at LIMIT ?`, at(p.InvitesBefore), p.Limit)
		err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			ids, err := s.deleteInvites(ctx, tx, w.sql+" DELETE FROM invites WHERE "+w.in+" RETURNING id", w.args...)
			r.Invites = len(ids)
			return err
		})
		if err != nil {
			r.Invites = 0
			return r, wrap(err)
		}
	}
	if !p.EventsBefore.IsZero() {
		w := s.pickLocked(" FOR UPDATE", "SELECT id FROM invites_events WHERE handled AND at < ? ORDER BY at LIMIT ?", at(p.EventsBefore), p.Limit)
		res, err := on(s.db).ExecContext(ctx, w.sql+" DELETE FROM invites_events WHERE "+w.in, w.args...)
		if err != nil {
			return r, wrap(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return r, wrap(err)
		}
		r.Events = int(n)
	}
	if !p.KeysBefore.IsZero() {
		n, err := s.pruneKeys(ctx, p.KeysBefore, p.Limit)
		if err != nil {
			return r, wrap(err)
		}
		r.Keys = n
	}
	if !p.SendsBefore.IsZero() {
		w := s.pruneSends(p.SendsBefore, p.Limit)
		res, err := on(s.db).ExecContext(ctx, w.sql+" DELETE FROM invites_sends WHERE "+w.in, w.args...)
		if err != nil {
			return r, wrap(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return r, wrap(err)
		}
		r.Sends = int(n)
	}
	return r, nil
}

// pruneSends picks up to limit sends of the ledger before t, oldest
// first, passing over those another Prune holds.
func (s *Store) pruneSends(t time.Time, limit int) with {
	return s.pickLocked(" FOR UPDATE", "SELECT id FROM invites_sends WHERE at < ? ORDER BY at LIMIT ?", at(t), limit)
}

// deleteInvites runs del, a DELETE FROM invites ... RETURNING id, in tx,
// then deletes the events of the invites it deleted (events outlive their
// invite since EventForgotten; tokens and deliveries cascade), and
// returns their ids.
func (s *Store) deleteInvites(ctx context.Context, tx bun.Tx, del string, args ...any) ([]uuid.UUID, error) {
	rows, err := on(tx).QueryContext(ctx, del, args...)
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	err = eachRow(rows, func(r scanner) error {
		var id uuid.UUID
		if err := r.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	in, arg := s.idIn("invite_id", ids)
	_, err = on(tx).ExecContext(ctx, "DELETE FROM invites_events WHERE "+in, arg)
	return ids, err
}

// Forget implements invites.Store in one transaction: it deletes up to
// p.Limit of the address's invites, the first in invites_tenant_email_idx
// (which it reads in order, so a batch costs its own rows), then their
// events, and writes each one's EventForgotten. A row another write
// holds is waited for, never passed over: erasure must reach it.
func (s *Store) Forget(ctx context.Context, p invites.ForgetParams) (_ []uuid.UUID, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	var (
		ids  []uuid.UUID
		host error // from Answer: returned as it is
	)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		host = nil
		if err := takeKey(ctx, tx, p.Idempotency, p.Now); err != nil {
			return err
		}
		var err error
		del, args := "DELETE FROM invites WHERE tenant_id = ? AND email_norm = ? RETURNING id", []any{p.TenantID, p.Email}
		if p.Limit > 0 {
			del = `DELETE FROM invites WHERE id IN (SELECT id FROM invites WHERE tenant_id = ? AND email_norm = ?
				ORDER BY id LIMIT ?) RETURNING id`
			args = append(args, p.Limit)
		}
		ids, err = s.deleteInvites(ctx, tx, del, args...)
		if err != nil {
			return err
		}
		evs := make([]event, len(ids))
		for i, id := range ids {
			evs[i] = event{id, p.TenantID, invites.EventForgotten, p.ActorID, p.Now}
		}
		if err := writeEvents(ctx, tx, evs); err != nil {
			return err
		}
		return keepAnswer(ctx, tx, p.Idempotency, p.Answer, slices.Clone(ids), &host)
	})
	if err := keyedErr(host, err); err != nil {
		return nil, err
	}
	return ids, nil
}

// Bounce implements invites.Store in one transaction, locking the invite
// before the delivery as every write of both does.
func (s *Store) Bounce(ctx context.Context, p invites.BounceParams) (_ invites.Invite, _ bool, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	var (
		inv  invites.Invite
		done bool
	)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		done = false
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
		done = true
		return writeEvents(ctx, tx, []event{{inv.ID, inv.TenantID, invites.EventBounced, "", p.Now}})
	})
	if err != nil {
		return invites.Invite{}, false, translate(err)
	}
	return inv, done, nil
}

// idIn is the condition that the uuid column col is one of ids, and its
// argument. On PostgreSQL the ids are an array the planner cannot count
// (ARRAY of a subquery): with an IN list of a few hundred, or an array
// literal, it multiplies their number by the selectivity it guesses for
// one, which on a table never analyzed comes to the whole table, and
// scans it rather than probe col's index once per id.
func (s *Store) idIn(col string, ids []uuid.UUID) (string, any) {
	if !s.pg {
		return col + " IN (?)", bun.List(ids)
	}
	arr := make(textArray, len(ids))
	for i, id := range ids {
		arr[i] = id.String()
	}
	return col + " = ANY(ARRAY(SELECT CAST(unnest(CAST(? AS text[])) AS uuid)))", arr
}

// traceText bounds a delivery's trace to invites.MaxTraceBytes, cut at a
// character's edge, as the Service does already.
func traceText(s string) string {
	n := invites.MaxTraceBytes
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
