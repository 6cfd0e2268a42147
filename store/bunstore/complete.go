package bunstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// CompleteDeliveries implements invites.Store in one transaction: the
// invites first (the lock order), then the deliveries whose claim holds
// and their events. On PostgreSQL that is three statements, prepared, the
// outcomes bound as arrays (the first locks the invites, so a bounce
// cannot change a delivery between the reads and the writes), and the
// commit does not wait for the WAL flush (unless the Store runs in the
// host's transaction): outcomes lost to a crash only make their emails go
// again. SQLite runs one writing transaction at a time, taken at BEGIN.
func (s *Store) CompleteDeliveries(ctx context.Context, p invites.CompleteParams) (err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if len(p.Outcomes) == 0 {
		return nil
	}
	var o outcomeRows
	for _, x := range p.Outcomes {
		if err := o.add(x); err != nil {
			return err
		}
	}
	if !s.pg {
		return translate(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error { return o.writeSQLite(ctx, s, tx) }))
	}
	return translate(s.completePG(ctx, o))
}

// outcomeRows are outcomes as columns.
type outcomeRows struct {
	ids, invites []uuid.UUID
	attempts     []int
	states, errs []string
	dues, ended  []time.Time
}

func (o *outcomeRows) add(x invites.DeliveryOutcome) error {
	due := x.At
	switch x.Status {
	case invites.DeliverySent:
		x.Error = ""
	case invites.DeliveryFailed:
	case invites.DeliveryQueued:
		due = x.RetryAt
	default:
		return fmt.Errorf("bunstore: unknown delivery outcome %q", x.Status)
	}
	o.ids, o.invites = append(o.ids, x.Delivery.ID), append(o.invites, x.Delivery.InviteID)
	o.attempts, o.states, o.errs = append(o.attempts, x.Delivery.Attempt), append(o.states, string(x.Status)), append(o.errs, x.Error)
	o.dues, o.ended = append(o.dues, due), append(o.ended, x.At)
	return nil
}

// pgLockOutcomeInvites locks the invites of the outcomes, in id order,
// before anything reads their deliveries. A bounce changes a delivery
// only while it holds the invite, so each later statement, taking its
// snapshot once these locks are held, reads the delivery as it is.
// Without it, the UPDATE of pgCompleteInvites, waiting for a bounce that
// held the invite, would re-check the invite but read the delivery in its
// subquery from its snapshot, still queued, and write the outcome over
// the bounce.
const pgLockOutcomeInvites = `SELECT id FROM invites
	WHERE id = ANY(ARRAY(SELECT CAST(unnest(CAST(?0 AS text[])) AS uuid))) ORDER BY id FOR NO KEY UPDATE`

// pgCompleteInvites writes each outcome on its invite while the delivery
// is the invite's latest and its claim holds. Its plan must not depend
// on how many outcomes there are or on statistics, which lag behind an
// outbox filled since the last ANALYZE: given a few hundred outcomes,
// the planner hashed every invite, or every queued delivery, on each
// call. So the claim is read by a subquery, one primary-key probe per
// outcome, and the outcomes come through a subquery the planner cannot
// count, which it joins to invites by their primary key.
const pgCompleteInvites = `UPDATE invites SET delivery_status = v.st, delivery_error = v.err
	FROM unnest((SELECT CAST(?0 AS text[])::uuid[]), (SELECT CAST(?1 AS text[])::uuid[]),
		(SELECT CAST(?2 AS text[])::integer[]), (SELECT CAST(?3 AS text[])), (SELECT CAST(?4 AS text[]))) AS v(inv, did, att, st, err)
	WHERE invites.id = v.inv AND invites.latest_delivery_id = v.did
	AND (SELECT d.attempt = v.att AND d.state = 'queued' FROM invites_deliveries d WHERE d.id = v.did)`

// pgCompleteDeliveries writes each outcome on its delivery while its
// claim holds, and the event of those that ended.
const pgCompleteDeliveries = `WITH v AS (SELECT * FROM unnest(CAST(?0 AS text[])::uuid[], CAST(?1 AS text[])::integer[],
		CAST(?2 AS text[]), CAST(?3 AS text[])::timestamptz[], CAST(?4 AS text[]), CAST(?5 AS text[])::timestamptz[])
		AS v(did, att, st, due, err, ended)),
	d AS (UPDATE invites_deliveries SET state = v.st, due_at = v.due, last_error = v.err, leased_until = NULL FROM v
		WHERE invites_deliveries.id = v.did AND invites_deliveries.attempt = v.att AND invites_deliveries.state = 'queued'
		RETURNING invites_deliveries.id, invites_deliveries.invite_id, invites_deliveries.tenant_id, invites_deliveries.state)
	INSERT INTO invites_events (` + eventCols + `)
	SELECT d.invite_id, d.tenant_id, CASE d.state WHEN 'sent' THEN 'sent' ELSE 'delivery_failed' END, '', v.ended, v.ended
	FROM d JOIN v ON v.did = d.id WHERE d.state IN ('sent', 'failed')`

func (s *Store) completePG(ctx context.Context, o outcomeRows) error {
	s.warm(ctx, pgLockOutcomeInvites, pgCompleteInvites, pgCompleteDeliveries)
	uuids := func(ids []uuid.UUID) textArray {
		out := make(textArray, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		return out
	}
	times := func(ts []time.Time) textArray {
		out := make(textArray, len(ts))
		for i, t := range ts {
			out[i] = t.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
		}
		return out
	}
	attempts := make(textArray, len(o.attempts))
	for i, a := range o.attempts {
		attempts[i] = strconv.Itoa(a)
	}
	ids := uuids(o.ids)
	_, hostTx := s.db.(bun.Tx)
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if !hostTx {
			if _, err := on(tx).ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
		}
		invs := uuids(o.invites)
		if err := s.execIn(ctx, tx, pgLockOutcomeInvites, invs); err != nil {
			return err
		}
		if err := s.execIn(ctx, tx, pgCompleteInvites, invs, ids, attempts, textArray(o.states), textArray(o.errs)); err != nil {
			return err
		}
		return s.execIn(ctx, tx, pgCompleteDeliveries, ids, attempts, textArray(o.states), times(o.dues), textArray(o.errs), times(o.ended))
	})
}

// writeSQLite is CompleteDeliveries on SQLite, in the transaction tx:
// VALUES lists for the arrays SQLite lacks.
func (o outcomeRows) writeSQLite(ctx context.Context, s *Store, tx bun.Tx) error {
	n := len(o.ids)
	onInvites := make([]any, 0, 5*n)
	set := make([]any, 0, 5*n)
	for i := range n {
		onInvites = append(onInvites, o.invites[i], o.ids[i], o.attempts[i], o.states[i], o.errs[i])
		set = append(set, o.ids[i], o.attempts[i], o.states[i], at(o.dues[i]), o.errs[i])
	}
	if _, err := on(tx).ExecContext(ctx, values(`UPDATE invites SET delivery_status = v.column4, delivery_error = v.column5
		FROM invites_deliveries d, (VALUES `, "(?, ?, ?, ?, ?)", n)+`) AS v
		WHERE invites.id = v.column1 AND invites.latest_delivery_id = v.column2
		AND d.id = v.column2 AND d.attempt = v.column3 AND d.state = 'queued'`, onInvites...); err != nil {
		return err
	}
	rows, err := on(tx).QueryContext(ctx, values(`UPDATE invites_deliveries
		SET state = v.column3, due_at = v.column4, last_error = v.column5, leased_until = NULL FROM (VALUES `, "(?, ?, ?, ?, ?)", n)+`) AS v
		WHERE invites_deliveries.id = v.column1 AND attempt = v.column2 AND state = 'queued'
		RETURNING id, invite_id, tenant_id, state`, set...)
	if err != nil {
		return err
	}
	ended := make(map[uuid.UUID]time.Time, n)
	for i, id := range o.ids {
		ended[id] = o.ended[i]
	}
	var evs []event
	err = eachRow(rows, func(r scanner) error {
		var (
			id, invite    uuid.UUID
			tenant, state string
		)
		if err := r.Scan(&id, &invite, &tenant, &state); err != nil {
			return err
		}
		if typ, ok := deliveryEvent[invites.DeliveryStatus(state)]; ok {
			evs = append(evs, event{invite, tenant, typ, "", ended[id]})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeEvents(ctx, tx, evs)
}

// deliveryEvent is the event of an attempt's final outcome; a retry has none.
var deliveryEvent = map[invites.DeliveryStatus]invites.EventType{
	invites.DeliverySent:   invites.EventSent,
	invites.DeliveryFailed: invites.EventDeliveryFailed,
}
