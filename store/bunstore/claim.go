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

// ClaimDeliveries implements invites.Store: on PostgreSQL in one
// statement, whatever the batch size, where FOR NO KEY UPDATE SKIP LOCKED
// lets several workers claim side by side, each passing over the rows
// another is taking; on SQLite, which
// runs one writer at a time, in one transaction of a few statements. The
// invite is written only to renew an expiry that ran short.
func (s *Store) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) (_ []invites.Claim, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	if p.Limit <= 0 {
		return nil, nil
	}
	if len(p.Digests) < p.Limit {
		return nil, fmt.Errorf("bunstore: %d token digests for a claim of %d", len(p.Digests), p.Limit)
	}
	if slices.ContainsFunc(p.Digests[:p.Limit], func(d []byte) bool { return len(d) == 0 }) {
		return nil, errors.New("bunstore: empty token digest")
	}
	var out []invites.Claim
	if s.pg {
		out, err = s.claimPG(ctx, p)
	} else {
		err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			out, err = claimSQLite(ctx, tx, p)
			return err
		})
	}
	if isUniqueViolation(err) {
		err = fmt.Errorf("token digest already in use: %w", err)
	}
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// pgClaim picks and locks due deliveries (reading nothing else while it
// locks: each row another worker claimed since the statement began is
// checked again, which is cheap for one table and was the most of a
// claim's time when the invite was joined in), drops those nobody wants any
// more (the invite is no longer pending, or the delivery is not its
// latest), leases the rest, numbers them in id order to give
// the n-th the n-th digest, renews the expiries that ran short, and
// returns each with its invite as read before that renewal. The updates
// find their rows through arrays: with IN (SELECT ...) or a join the
// planner may hash the picked ids and scan the whole table. It runs
// prepared (see queryEach): planning it anew on every call costs as much
// as running it. It leaves the invites unlocked but for the KEY SHARE
// lock of the tokens' foreign key, which no write of the Store's blocks
// (they lock FOR NO KEY UPDATE), so it never waits on a resend that waits
// on it; a renewal passes over an invite another write holds.
const pgClaim = `WITH locked AS MATERIALIZED (
		SELECT d.id, d.invite_id FROM invites_deliveries d
		WHERE d.state = 'queued' AND d.due_at <= ?1 AND (d.leased_until IS NULL OR d.leased_until <= ?1)
		ORDER BY d.due_at, d.id LIMIT ?2
		FOR NO KEY UPDATE SKIP LOCKED),
	picked AS MATERIALIZED (
		SELECT l.id, i.status = 'pending' AND i.latest_delivery_id = l.id AS wanted, i.expires_at < ?0 AND NOT i.fixed_expiry AS renew
		FROM locked l, LATERAL (SELECT status, latest_delivery_id, expires_at, fixed_expiry FROM invites WHERE id = l.invite_id) i),
	claimed AS (
		UPDATE invites_deliveries d SET attempt = d.attempt + 1, leased_until = ?3, claim_id = ?6,
			state = CASE WHEN d.id = ANY(ARRAY(SELECT id FROM picked WHERE wanted)) THEN 'queued' ELSE 'dropped' END
		WHERE d.id = ANY(ARRAY(SELECT id FROM picked))
		RETURNING d.id, d.invite_id, d.tenant_id, d.kind, d.attempt, d.state, d.created_at, d.trace),
	numbered AS MATERIALIZED (
		SELECT c.id, c.invite_id, c.tenant_id, c.kind, c.attempt, c.created_at, c.trace, p.renew,
			row_number() OVER (ORDER BY c.id) AS n
		FROM claimed c JOIN picked p ON p.id = c.id WHERE c.state = 'queued'),
	tokens AS (
		INSERT INTO invites_tokens (digest, invite_id, delivery_id)
		SELECT g.digest, x.invite_id, x.id FROM numbered x JOIN unnest(CAST(?4 AS bytea[])) WITH ORDINALITY AS g(digest, n) ON g.n = x.n),
	renewed AS (
		UPDATE invites SET expires_at = ?5 WHERE id = ANY(ARRAY(SELECT id FROM invites
			WHERE id = ANY(ARRAY(SELECT invite_id FROM numbered WHERE renew)) FOR NO KEY UPDATE SKIP LOCKED)))
	SELECT x.id, x.tenant_id, x.kind, x.attempt, x.created_at, x.trace, x.renew, i.*
	FROM numbered x, LATERAL (SELECT ` + inviteCols + ` FROM invites WHERE id = x.invite_id) i
	ORDER BY x.n`

func (s *Store) claimPG(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	var out []invites.Claim
	err := s.queryEach(ctx, pgClaim, []any{at(p.RenewBefore), at(p.Now), p.Limit, at(p.Now.Add(p.Lease)),
		byteaArray(p.Digests[:p.Limit]), at(p.ExpiresAt), p.ClaimID}, func(row scanner) error {
		var (
			c      invites.Claim
			kind   string
			queued ts
			renew  bool
		)
		inv, err := scanInvite(prefixed{row, []any{&c.ID, &c.TenantID, &kind, &c.Attempt, &queued, &c.Trace, &renew}})
		if err != nil {
			return err
		}
		c.InviteID, c.Kind, c.QueuedAt, c.Invite = inv.ID, invites.MessageKind(kind), time.Time(queued), inv
		if renew {
			c.Invite.ExpiresAt = time.Time(at(p.ExpiresAt))
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// prefixed scans columns before an invite's: dest first, then the
// invite's own.
type prefixed struct {
	r    scanner
	dest []any
}

func (p prefixed) Scan(dest ...any) error { return p.r.Scan(append(p.dest, dest...)...) }

// claimSQLite is ClaimDeliveries in the transaction tx, statement by
// statement.
func claimSQLite(ctx context.Context, tx bun.Tx, p invites.ClaimParams) ([]invites.Claim, error) {
	ds, err := leaseDue(ctx, tx, p)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		ids[i] = d.InviteID
	}
	rows, err := on(tx).QueryContext(ctx, `SELECT id, latest_delivery_id, expires_at < ? AND NOT fixed_expiry FROM invites
		WHERE id IN (?) AND status = 'pending'`, at(p.RenewBefore), bun.List(ids))
	if err != nil {
		return nil, err
	}
	live := map[uuid.UUID]bool{} // latest delivery of a pending invite
	var renew []uuid.UUID
	for rows.Next() {
		var (
			id     uuid.UUID
			latest uuid.NullUUID
			short  bool
		)
		if err := rows.Scan(&id, &latest, &short); err != nil {
			rows.Close()
			return nil, err
		}
		live[latest.UUID] = latest.Valid
		if short {
			renew = append(renew, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var (
		wanted  []invites.Delivery
		dropped []uuid.UUID
		tokens  []any
	)
	for _, d := range ds {
		if !live[d.ID] {
			dropped = append(dropped, d.ID)
			continue
		}
		tokens = append(tokens, p.Digests[len(wanted)], d.InviteID, d.ID)
		wanted = append(wanted, d)
	}
	if len(dropped) > 0 {
		if _, err := on(tx).ExecContext(ctx, "UPDATE invites_deliveries SET state = 'dropped' WHERE id IN (?)", bun.List(dropped)); err != nil {
			return nil, err
		}
	}
	if len(wanted) == 0 {
		return nil, nil
	}
	if _, err := on(tx).ExecContext(ctx, values("INSERT INTO invites_tokens (digest, invite_id, delivery_id) VALUES ",
		"(?, ?, ?)", len(wanted)), tokens...); err != nil {
		return nil, err
	}
	if len(renew) > 0 {
		if _, err := on(tx).ExecContext(ctx, "UPDATE invites SET expires_at = ? WHERE id IN (?)",
			at(p.ExpiresAt), bun.List(renew)); err != nil {
			return nil, err
		}
	}
	invs, err := invitesByID(ctx, tx, wanted)
	if err != nil {
		return nil, err
	}
	out := make([]invites.Claim, len(wanted))
	for i, d := range wanted {
		out[i] = invites.Claim{Delivery: d, Invite: invs[d.InviteID]}
	}
	return out, nil
}

// leaseDue leases up to p.Limit due deliveries, sorted by ID.
func leaseDue(ctx context.Context, tx bun.Tx, p invites.ClaimParams) ([]invites.Delivery, error) {
	rows, err := on(tx).QueryContext(ctx, `UPDATE invites_deliveries SET attempt = attempt + 1, leased_until = ?, claim_id = ?
		WHERE id IN (SELECT id FROM invites_deliveries WHERE state = 'queued' AND due_at <= ?
			AND (leased_until IS NULL OR leased_until <= ?) ORDER BY due_at, id LIMIT ?)
		RETURNING id, invite_id, tenant_id, kind, attempt, created_at, trace`, at(p.Now.Add(p.Lease)), p.ClaimID, at(p.Now), at(p.Now), p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []invites.Delivery
	for rows.Next() {
		var (
			d      invites.Delivery
			kind   string
			queued ts
		)
		if err := rows.Scan(&d.ID, &d.InviteID, &d.TenantID, &kind, &d.Attempt, &queued, &d.Trace); err != nil {
			return nil, err
		}
		d.Kind, d.QueuedAt = invites.MessageKind(kind), time.Time(queued)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b invites.Delivery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// invitesByID reads the invites of ds.
func invitesByID(ctx context.Context, tx bun.Tx, ds []invites.Delivery) (map[uuid.UUID]invites.Invite, error) {
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		ids[i] = d.InviteID
	}
	rows, err := on(tx).QueryContext(ctx, "SELECT "+inviteCols+" FROM invites WHERE id IN (?)", bun.List(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[uuid.UUID]invites.Invite, len(ds))
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		out[inv.ID] = inv
	}
	return out, rows.Err()
}
