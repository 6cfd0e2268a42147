package bunstore

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

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
