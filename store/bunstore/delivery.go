package bunstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The outbox works a batch at a time: a claim and its tokens are one
// commit, the outcomes of many emails another. Lock order is invite, then
// delivery, as Resend's: the claim locks both with SKIP LOCKED and so
// never waits, and CompleteDeliveries locks the invites first, in id order.

// ClaimDeliveries implements invites.Store in one transaction of a few
// statements, whatever the batch size. On PostgreSQL FOR UPDATE SKIP
// LOCKED lets several workers claim side by side, each passing over the
// rows another is taking (and the invites another write holds); SQLite
// runs one writer at a time.
func (s *Store) ClaimDeliveries(ctx context.Context, p invites.ClaimParams) ([]invites.Claim, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		return nil, nil
	}
	if len(p.Digests) < p.Limit {
		return nil, fmt.Errorf("bunstore: %d token digests for a claim of %d", len(p.Digests), p.Limit)
	}
	var out []invites.Claim
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ds, err := s.claim(ctx, tx, p)
		if err != nil || len(ds) == 0 {
			return err
		}
		wanted, dropped, err := wantedClaims(ctx, tx, ds)
		if err != nil {
			return err
		}
		if len(dropped) > 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE invites_deliveries SET state = 'dropped' WHERE id IN (?)",
				bun.List(dropped)); err != nil {
				return err
			}
		}
		out, err = s.mint(ctx, tx, wanted, p)
		return err
	})
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// claim leases up to p.Limit due deliveries, sorted by ID.
func (s *Store) claim(ctx context.Context, tx bun.Tx, p invites.ClaimParams) ([]invites.Delivery, error) {
	w := s.pick(`SELECT d.id FROM invites_deliveries d JOIN invites i ON i.id = d.invite_id
		WHERE d.state = 'queued' AND d.due_at <= ? ORDER BY d.due_at, d.id LIMIT ?`, at(p.Now), p.Limit)
	rows, err := tx.QueryContext(ctx, w.sql+`
		UPDATE invites_deliveries SET attempt = attempt + 1, due_at = ? WHERE id IN (SELECT id FROM picked)
		RETURNING id, invite_id, tenant_id, kind, attempt`,
		append(w.args, at(p.Now.Add(p.Lease)))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []invites.Delivery
	for rows.Next() {
		var (
			d    invites.Delivery
			kind string
		)
		if err := rows.Scan(&d.ID, &d.InviteID, &d.TenantID, &kind, &d.Attempt); err != nil {
			return nil, err
		}
		d.Kind = invites.MessageKind(kind)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b invites.Delivery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// wantedClaims splits claimed deliveries into those still wanted (the
// invite is pending and this is its latest delivery) and the IDs of the
// rest, which nobody wants any more.
func wantedClaims(ctx context.Context, tx bun.Tx, ds []invites.Delivery) ([]invites.Delivery, []uuid.UUID, error) {
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		ids[i] = d.InviteID
	}
	rows, err := tx.QueryContext(ctx, "SELECT latest_delivery_id FROM invites WHERE id IN (?) AND status = 'pending'", bun.List(ids))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	live := map[uuid.UUID]bool{}
	for rows.Next() {
		var latest uuid.NullUUID
		if err := rows.Scan(&latest); err != nil {
			return nil, nil, err
		}
		live[latest.UUID] = latest.Valid
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var (
		wanted  []invites.Delivery
		dropped []uuid.UUID
	)
	for _, d := range ds {
		if live[d.ID] {
			wanted = append(wanted, d)
		} else {
			dropped = append(dropped, d.ID)
		}
	}
	return wanted, dropped, nil
}

// mint stores the i-th digest of p for the i-th of ds and renews their
// invites' expiry, returning the claims.
func (s *Store) mint(ctx context.Context, tx bun.Tx, ds []invites.Delivery, p invites.ClaimParams) ([]invites.Claim, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	tokens := make([]any, 0, 3*len(ds))
	set := make([]any, 0, 2*len(ds)+1)
	set = append(set, at(p.ExpiresAt))
	for i, d := range ds {
		if len(p.Digests[i]) == 0 {
			return nil, errors.New("bunstore: empty token digest")
		}
		tokens = append(tokens, p.Digests[i], d.InviteID, d.ID)
		set = append(set, d.InviteID, p.Digests[i])
	}
	_, err := tx.ExecContext(ctx, values("INSERT INTO invites_tokens (digest, invite_id, delivery_id) VALUES ",
		"(?, ?, ?)", len(ds)), tokens...)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("token digest already in use: %w", err)
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, values("UPDATE invites SET token_digest = v.column2, expires_at = ? FROM (VALUES ",
		s.cast("(?::uuid, ?::bytea)"), len(ds))+") AS v WHERE invites.id = v.column1 RETURNING "+inviteCols, set...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byInvite := make(map[uuid.UUID]invites.Invite, len(ds))
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		byInvite[inv.ID] = inv
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]invites.Claim, len(ds))
	for i, d := range ds {
		out[i] = invites.Claim{Delivery: d, Invite: byInvite[d.InviteID]}
	}
	return out, nil
}

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
	rows, err := s.db.QueryContext(ctx, values("UPDATE invites_deliveries SET due_at = ? FROM (VALUES ",
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
	msg        string
}

// CompleteDeliveries implements invites.Store in one transaction: the
// invites locked in id order, then one statement each for the deliveries,
// the invites and the events. On PostgreSQL it commits without waiting
// for the WAL flush (unless the store runs in the host's transaction):
// outcomes lost to a crash only make their emails go again.
func (s *Store) CompleteDeliveries(ctx context.Context, outcomes []invites.DeliveryOutcome) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if len(outcomes) == 0 {
		return nil
	}
	set := make([]any, 0, 5*len(outcomes))
	inviteIDs := make([]uuid.UUID, 0, len(outcomes))
	at0 := map[uuid.UUID]time.Time{}
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
		set = append(set, o.Delivery.ID, o.Delivery.Attempt, string(o.Status), at(due), o.Error)
		inviteIDs = append(inviteIDs, o.Delivery.InviteID)
		at0[o.Delivery.ID] = o.At
	}
	slices.SortFunc(inviteIDs, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	inviteIDs = slices.Compact(inviteIDs)
	_, hostTx := s.db.(bun.Tx)
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			if !hostTx {
				if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "SELECT 1 FROM invites WHERE id IN (?) ORDER BY id FOR UPDATE",
				bun.List(inviteIDs)); err != nil {
				return err
			}
		}
		done, err := s.markDeliveries(ctx, tx, set, len(outcomes))
		if err != nil || len(done) == 0 {
			return err
		}
		upd := make([]any, 0, 4*len(done))
		var evs []event
		for _, c := range done {
			upd = append(upd, c.invite, c.id, c.state, c.msg)
			if typ, ok := deliveryEvent[invites.DeliveryStatus(c.state)]; ok {
				evs = append(evs, event{c.invite, c.tenant, typ, "", at0[c.id]})
			}
		}
		if _, err := tx.ExecContext(ctx, values("UPDATE invites SET delivery_status = v.column3, delivery_error = v.column4 FROM (VALUES ",
			s.cast("(?::uuid, ?::uuid, ?, ?)"), len(done))+
			") AS v WHERE invites.id = v.column1 AND invites.latest_delivery_id = v.column2", upd...); err != nil {
			return err
		}
		return writeEvents(ctx, tx, evs)
	})
	return translate(err)
}

// markDeliveries writes the n outcomes of set onto the deliveries whose
// claim holds, and returns those.
func (s *Store) markDeliveries(ctx context.Context, tx bun.Tx, set []any, n int) ([]completed, error) {
	rows, err := tx.QueryContext(ctx, values(`UPDATE invites_deliveries
		SET state = v.column3, due_at = v.column4, last_error = v.column5 FROM (VALUES `,
		s.cast("(?::uuid, ?::integer, ?, ?::timestamptz, ?)"), n)+`) AS v
		WHERE invites_deliveries.id = v.column1 AND attempt = v.column2 AND state = 'queued'
		RETURNING id, invite_id, tenant_id, state, last_error`, set...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []completed
	for rows.Next() {
		var c completed
		if err := rows.Scan(&c.id, &c.invite, &c.tenant, &c.state, &c.msg); err != nil {
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
