package bunstore

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The lease of claimed deliveries: RenewDeliveries extends it while their
// emails are in flight, ReleaseClaim ends it early for a claim whose reply
// was lost.
//
// The outbox works a batch at a time: a claim and its tokens are one
// commit (claim.go), the outcomes of many emails another (complete.go).
// Lock order is invite, then delivery, as a resend's: the claim locks only
// deliveries, with SKIP LOCKED, and never waits, and CompleteDeliveries
// writes the invites first.

// RenewDeliveries implements invites.Store in one statement.
func (s *Store) RenewDeliveries(ctx context.Context, p invites.RenewParams) (_ []uuid.UUID, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if len(p.Deliveries) == 0 {
		return nil, nil
	}
	args := []any{at(p.Now.Add(p.Lease))}
	for _, d := range p.Deliveries {
		args = append(args, d.ID, d.Attempt)
	}
	rows, err := on(s.db).QueryContext(ctx, values("UPDATE invites_deliveries SET leased_until = ? FROM (VALUES ",
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

// pgRelease forgets the claim's tokens and, through the deliveries they
// name, ends the lease of those still under the claim.
const pgRelease = `WITH t AS (DELETE FROM invites_tokens WHERE digest = ANY(CAST(?1 AS bytea[])) RETURNING delivery_id)
	UPDATE invites_deliveries SET leased_until = NULL
	WHERE id = ANY(ARRAY(SELECT delivery_id FROM t)) AND claim_id = ?0 AND state = 'queued' AND leased_until IS NOT NULL`

// ReleaseClaim implements invites.Store in one statement on PostgreSQL,
// in one transaction on SQLite. It finds the deliveries through the
// tokens' primary key, so claim_id needs no index. It is not prepared:
// it runs only after a claim failed.
func (s *Store) ReleaseClaim(ctx context.Context, p invites.ReleaseParams) (_ int, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if p.ClaimID == uuid.Nil {
		return 0, errors.New("bunstore: release of a claim without an id")
	}
	if len(p.Digests) == 0 {
		return 0, nil
	}
	var n int64
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			res, err := on(tx).ExecContext(ctx, pgRelease, p.ClaimID, byteaArray(p.Digests))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		}
		var ids []uuid.UUID
		digests := make([]any, len(p.Digests))
		for i, d := range p.Digests {
			digests[i] = d
		}
		rows, err := on(tx).QueryContext(ctx, values("DELETE FROM invites_tokens WHERE digest IN (", "?", len(digests))+
			") RETURNING delivery_id", digests...)
		if err != nil {
			return err
		}
		if err := eachRow(rows, func(r scanner) error {
			var id uuid.UUID
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		}); err != nil || len(ids) == 0 {
			return err
		}
		res, err := on(tx).ExecContext(ctx, `UPDATE invites_deliveries SET leased_until = NULL
			WHERE id IN (?) AND claim_id = ? AND state = 'queued' AND leased_until IS NOT NULL`, bun.List(ids), p.ClaimID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}
