package bunstore

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// Upkeep, the writes Run makes on each PollInterval: ExpireDue marks the
// invites past their expiry, Prune deletes what the retention keeps no
// longer. deleteInvites is shared with Forget.

// Prune implements invites.UpkeepStore: the invites in one transaction (their
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
