package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The Store's reads, none of which writes: Get and Lookup (one invite),
// History (its events) and Stats (the outbox's health), all on the reader
// (WithReader). List, with its filters and pages, is in list.go, filter.go
// and liststatus.go. The writes have a file per operation: insert.go,
// change.go, claim.go, lease.go, complete.go, events.go (ClaimEvents,
// CompleteEvent), upkeep.go (ExpireDue, Prune), forget.go, bounce.go.

// Get implements invites.Store.
func (s *Store) Get(ctx context.Context, p invites.GetParams) (_ invites.Invite, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	return getInvite(ctx, s.reader, p.TenantID, p.ID, "")
}

// Lookup implements invites.Store.
func (s *Store) Lookup(ctx context.Context, p invites.LookupParams) (_ invites.Invite, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if len(p.Digest) == 0 {
		return invites.Invite{}, invites.ErrInvalidToken
	}
	inv, err := scanInvite(on(s.reader).QueryRowContext(ctx,
		"SELECT "+inviteCols+" FROM invites WHERE id = (SELECT invite_id FROM invites_tokens WHERE digest = ?)", p.Digest))
	return inv, notFound(err, invites.ErrInvalidToken)
}

// getInvite reads one invite of a tenant.
func getInvite(ctx context.Context, db bun.IDB, tenantID string, id uuid.UUID, lock string) (invites.Invite, error) {
	inv, err := scanInvite(on(db).QueryRowContext(ctx,
		"SELECT "+inviteCols+" FROM invites WHERE tenant_id = ? AND id = ?"+lock, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return invites.Invite{}, invites.ErrNotFound
	}
	if err != nil {
		return invites.Invite{}, wrap(err)
	}
	return inv, nil
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
	if err == nil {
		err = on(s.reader).QueryRowContext(ctx, "SELECT n FROM invites_counts WHERE name = 'suppressions'").Scan(&st.Suppressions)
	}
	if err != nil {
		return invites.Stats{}, wrap(err)
	}
	return st, nil
}
