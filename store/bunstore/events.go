package bunstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// eventCols are the columns an event is written with; due_at starts at
// the event's time.
const eventCols = "invite_id, tenant_id, type, actor_id, at, due_at"

// event is one event to write.
type event struct {
	invite uuid.UUID
	tenant string
	typ    invites.EventType
	actor  string
	at     time.Time
}

// writeEvents inserts evs in one statement.
func writeEvents(ctx context.Context, db bun.IDB, evs []event) error {
	if len(evs) == 0 {
		return nil
	}
	args := make([]any, 0, len(evs)*6)
	for _, e := range evs {
		args = append(args, e.invite, e.tenant, string(e.typ), e.actor, at(e.at), at(e.at))
	}
	_, err := on(db).ExecContext(ctx, values("INSERT INTO invites_events ("+eventCols+") VALUES ", "(?, ?, ?, ?, ?, ?)", len(evs)), args...)
	return err
}

// atomically runs fn, which writes a change and its event, as one unit:
// on PostgreSQL fn writes both in one statement (see updateWithEvent), so
// it runs as it is; on SQLite, in a transaction.
func (s *Store) atomically(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	if s.pg {
		return fn(ctx, s.db)
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

// updateWithEvent runs update, an UPDATE ... RETURNING inviteCols of at
// most one row whose placeholders are numbered (?0, ?1, ...), and writes
// the event typ (none when "") of the row it changed. On PostgreSQL both
// are one statement, a data-modifying CTE, prepared (see queryRow); on
// SQLite, which has none, two, so db must be a transaction there.
func (s *Store) updateWithEvent(ctx context.Context, db bun.IDB, update string, args []any, typ invites.EventType, actor string, now time.Time) (invites.Invite, error) {
	if typ == "" {
		return scanInvite(s.queryRow(ctx, db, update, args...))
	}
	if s.pg {
		n := len(args)
		return scanInvite(s.queryRow(ctx, db, fmt.Sprintf("WITH u AS (%s), e AS (INSERT INTO invites_events (%s) "+
			"SELECT id, tenant_id, CAST(?%d AS text), CAST(?%d AS text), CAST(?%d AS timestamptz), CAST(?%[5]d AS timestamptz) FROM u) SELECT %s FROM u",
			update, eventCols, n, n+1, n+2, inviteCols), slices.Concat(args, []any{string(typ), actor, at(now)})...))
	}
	inv, err := scanInvite(on(db).QueryRowContext(ctx, update, args...))
	if err != nil {
		return inv, err
	}
	return inv, writeEvents(ctx, db, []event{{inv.ID, inv.TenantID, typ, actor, now}})
}

// expireWhere marks expired the pending invites past their expiry at now
// that also meet cond (an SQL condition on invites, with args), dated at
// their expiry as the Service shows an expiry it derives, with their
// EventExpired, and returns how many it marked. w, if not zero, is a
// WITH clause for cond.
func expireWhere(ctx context.Context, tx bun.IDB, now time.Time, w with, cond string, args ...any) (int, error) {
	rows, err := on(tx).QueryContext(ctx, w.sql+` UPDATE invites SET status = 'expired', status_updated_at = expires_at, updated_at = ?
		WHERE status = 'pending' AND expires_at <= ? AND `+cond+` RETURNING id, tenant_id, expires_at`,
		slices.Concat(w.args, []any{at(now), at(now)}, args)...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var evs []event
	for rows.Next() {
		var (
			e   event
			exp ts
		)
		if err := rows.Scan(&e.invite, &e.tenant, &exp); err != nil {
			return 0, err
		}
		e.typ, e.at = invites.EventExpired, time.Time(exp)
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	rows.Close()
	return len(evs), writeEvents(ctx, tx, evs)
}

// with is a WITH clause and its arguments.
type with struct {
	sql  string
	args []any
	// in is the condition that a row's id is one of those picked. On
	// PostgreSQL it is an array, so the update finds them by primary key:
	// with IN (SELECT ...) the planner hashes the picked ids and scans the
	// whole table for them.
	in string
}

// pick is the WITH clause naming "picked" the ids query selects, which
// ends in LIMIT: materialized, so the database runs it once, and on
// PostgreSQL locking the rows, passing over those another transaction
// holds. Without MATERIALIZED PostgreSQL may run the subquery again for
// each row it updates, and SKIP LOCKED then passes over the rows the
// statement itself just changed, taking more than the limit.
func (s *Store) pick(query string, args ...any) with {
	return s.pickLocked(" FOR NO KEY UPDATE", query, args...)
}

// pickLocked is pick locking by lock: FOR UPDATE for rows to delete,
// which FOR NO KEY UPDATE would have to upgrade.
func (s *Store) pickLocked(lock, query string, args ...any) with {
	w := with{"WITH picked AS MATERIALIZED (" + query, args, "id IN (SELECT id FROM picked)"}
	if s.pg {
		w.sql += lock + " SKIP LOCKED"
		w.in = "id = ANY(ARRAY(SELECT id FROM picked))"
	}
	w.sql += ")"
	return w
}

// ExpireDue implements invites.Store.
func (s *Store) ExpireDue(ctx context.Context, p invites.ExpireParams) (_ int, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if p.Limit <= 0 {
		return 0, nil
	}
	var n int
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		w := s.pick("SELECT id FROM invites WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?", at(p.Now), p.Limit)
		n, err = expireWhere(ctx, tx, p.Now, w, w.in)
		return err
	})
	return n, wrap(err)
}

// History implements invites.Store.
func (s *Store) History(ctx context.Context, p invites.HistoryParams) (_ []invites.Event, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	// An invite's EventForgotten outlives it, and History does not: an
	// erased invite is not found.
	rows, err := on(s.reader).QueryContext(ctx, `SELECT id, invite_id, tenant_id, type, actor_id, at FROM invites_events
		WHERE invite_id = ? AND tenant_id = ? AND type <> 'forgotten' ORDER BY id`, p.ID, p.TenantID)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanEvents(rows, false)
	if err != nil {
		return nil, wrap(err)
	}
	if len(out) == 0 {
		// Every invite has its created event: none means no such invite.
		if _, err := s.Get(ctx, invites.GetParams(p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ClaimEvents implements invites.Store in one statement, as
// ClaimDeliveries. An event is claimable when no earlier event of its
// invite is unhandled, leased or not: so one invite's events are told one
// at a time, in order.
func (s *Store) ClaimEvents(ctx context.Context, p invites.ClaimEventsParams) (_ []invites.Event, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if p.Limit <= 0 {
		return nil, nil
	}
	w := s.pick(`SELECT e.id FROM invites_events e WHERE `+unhandled("e")+` AND e.due_at <= ?
			AND NOT EXISTS (SELECT 1 FROM invites_events p
				WHERE p.invite_id = e.invite_id AND p.id < e.id AND `+unhandled("p")+`)
			ORDER BY e.due_at, e.id LIMIT ?`, at(p.Now), p.Limit)
	rows, err := on(s.db).QueryContext(ctx, w.sql+`
		UPDATE invites_events SET attempt = attempt + 1, due_at = ? WHERE `+w.in+`
		RETURNING id, invite_id, tenant_id, type, actor_id, at, attempt`,
		append(w.args, at(p.Now.Add(p.Lease)))...)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanEvents(rows, true)
	if err != nil {
		return nil, wrap(err)
	}
	slices.SortFunc(out, func(a, b invites.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// CompleteEvent implements invites.Store.
func (s *Store) CompleteEvent(ctx context.Context, p invites.CompleteEventParams) (err error) {
	defer s.settle(&err)
	s.ready(ctx)
	set, args := "handled = TRUE", []any{}
	if !p.RetryAt.IsZero() {
		set, args = "due_at = ?", []any{at(p.RetryAt)}
	}
	res, err := on(s.db).ExecContext(ctx, "UPDATE invites_events SET "+set+" WHERE id = ? AND attempt = ? AND "+unhandled("invites_events"),
		append(args, p.Event.ID, p.Event.Attempt)...)
	if err != nil {
		return wrap(err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = invites.ErrStaleDelivery
	}
	return translate(err)
}

// unhandled is the condition on table alias t that an event is not yet
// handled, as the partial index invites_events_due_idx spells it (SQLite
// uses a partial index only for the very same term).
func unhandled(t string) string { return "NOT " + t + ".handled" }

func scanEvents(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}, attempt bool) ([]invites.Event, error) {
	defer rows.Close()
	var out []invites.Event
	for rows.Next() {
		var (
			e    invites.Event
			typ  string
			when ts
		)
		dest := []any{&e.ID, &e.InviteID, &e.TenantID, &typ, &e.ActorID, &when}
		if attempt {
			dest = append(dest, &e.Attempt)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		e.Type, e.At = invites.EventType(typ), time.Time(when)
		out = append(out, e)
	}
	return out, rows.Err()
}
