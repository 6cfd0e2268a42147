package bunstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// Each write below is one conditional UPDATE ... RETURNING: the database
// decides who wins a race, and a write that changed no row reads the row
// again to say why.

// Get implements invites.Store.
func (s *Store) Get(ctx context.Context, tenantID string, id uuid.UUID) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	return getInvite(ctx, s.reader, tenantID, id, "")
}

// vetted runs write, a change of one invite, after guard agreed to the
// invite as it stands: a guarded write reads the invite under the lock of
// a transaction (FOR NO KEY UPDATE on PostgreSQL; SQLite's immediate
// transaction excludes every other writer), so nothing changes it between
// the guard's answer and the write. Unguarded, write runs alone, in a
// transaction only on SQLite (see atomically).
func (s *Store) vetted(ctx context.Context, tenantID string, id uuid.UUID, guard invites.Guard, write func(ctx context.Context, db bun.IDB) error) error {
	if guard == nil {
		return s.atomically(ctx, write)
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := getInvite(ctx, tx, tenantID, id, s.forUpdate)
		if err != nil {
			return err
		}
		if err := guard(ctx, cur); err != nil {
			return err
		}
		return write(ctx, tx)
	})
}

// Update implements invites.Store.
func (s *Store) Update(ctx context.Context, tenantID string, id uuid.UUID, now time.Time, u invites.Update, guard invites.Guard) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	set := []string{"updated_at = ?"}
	args := []any{at(now)}
	if u.FirstName != nil {
		set = append(set, "first_name = ?", "first_name_fold = ?")
		args = append(args, *u.FirstName, fold(*u.FirstName))
	}
	if u.LastName != nil {
		set = append(set, "last_name = ?", "last_name_fold = ?")
		args = append(args, *u.LastName, fold(*u.LastName))
	}
	if u.Locale != nil {
		set = append(set, "locale = ?")
		args = append(args, *u.Locale)
	}
	if u.Data != nil {
		set = append(set, "data = ?")
		args = append(args, jsonText(bytes.TrimSpace(u.Data)))
	}
	cond := ""
	if u.Roles != nil {
		set = append(set, "roles = ?")
		args = append(args, roleList(u.Roles))
		cond = " AND status = 'pending' AND expires_at > ?"
	}
	args = append(args, tenantID, id)
	if cond != "" {
		args = append(args, at(now))
	}
	var out invites.Invite
	err := s.vetted(ctx, tenantID, id, guard, func(ctx context.Context, db bun.IDB) error {
		inv, err := scanInvite(db.QueryRowContext(ctx, "UPDATE invites SET "+strings.Join(set, ", ")+
			" WHERE tenant_id = ? AND id = ?"+cond+" RETURNING "+inviteCols, args...))
		if !errors.Is(err, sql.ErrNoRows) {
			out = inv
			return err
		}
		cur, err := getInvite(ctx, db, tenantID, id, "")
		if err != nil {
			return err
		}
		return &invites.NotPendingError{Status: cur.StatusAt(now)}
	})
	if err != nil {
		return invites.Invite{}, translate(err)
	}
	return out, nil
}

// Cancel implements invites.Store. The token digest stays, so Lookup still
// shows the link's invite, now canceled.
func (s *Store) Cancel(ctx context.Context, by invites.Actor, id uuid.UUID, now time.Time, guard invites.Guard) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	var out invites.Invite
	err := s.vetted(ctx, by.TenantID, id, guard, func(ctx context.Context, db bun.IDB) error {
		inv, err := s.updateWithEvent(ctx, db, `UPDATE invites
			SET status = 'canceled', status_updated_at = ?0, updated_at = ?0
			WHERE tenant_id = ?1 AND id = ?2 AND status IN ('pending', 'expired')
			RETURNING `+inviteCols, []any{at(now), by.TenantID, id}, invites.EventCanceled, by.UserID, now)
		if !errors.Is(err, sql.ErrNoRows) {
			out = inv
			return err
		}
		cur, err := getInvite(ctx, db, by.TenantID, id, "")
		if err != nil {
			return err
		}
		return &invites.NotPendingError{Status: cur.Status}
	})
	if err != nil {
		return invites.Invite{}, translate(err)
	}
	return out, nil
}

// Resend implements invites.Store: in one transaction, a pending invite of
// the same address past its expiry is marked expired (it gives way, as to
// Insert), then one conditional UPDATE renews the invite, and its reminder
// supersedes any queued delivery. A live pending invite of the address
// makes the UPDATE break the unique index: ErrAlreadyInvited. The guard
// goes first, on the invite read under its row lock; a quota is checked
// last, against counts taken under its lock before the UPDATE.
func (s *Store) Resend(ctx context.Context, by invites.Actor, id uuid.UUID, now time.Time, r invites.ResendRule, guard invites.Guard) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	did, err := uuid.NewV7()
	if err != nil {
		return invites.Invite{}, err
	}
	var out invites.Invite
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// The quota locks before the row's, in the order Insert takes them.
		if err := s.lockQuotas(ctx, tx, r.Quota, by.TenantID); err != nil {
			return err
		}
		if err := s.lockAddresses(ctx, tx, r.Quota, anInvite(0), by.TenantID, id); err != nil {
			return err
		}
		cur, err := getInvite(ctx, tx, by.TenantID, id, s.forUpdate)
		if err != nil {
			return err
		}
		if guard != nil {
			if err := guard(ctx, cur); err != nil {
				return err
			}
		}
		left, err := s.resendBudget(ctx, tx, by, cur, now, r.Quota)
		if err != nil {
			return err
		}
		_, err = expireWhere(ctx, tx, now, with{}, `id <> ?
			AND (tenant_id, email_norm) IN (SELECT tenant_id, email_norm FROM invites WHERE tenant_id = ? AND id = ?)`,
			id, by.TenantID, id)
		if err != nil {
			return err
		}
		inv, err := scanInvite(tx.QueryRowContext(ctx, `UPDATE invites SET status = 'pending',
			status_updated_at = ?, updated_at = ?, send_count = send_count + 1, last_sent_at = ?,
			expires_at = ?, delivery_status = 'queued', delivery_error = '',
			latest_delivery_id = ?
			WHERE tenant_id = ? AND id = ? AND status IN ('pending', 'expired')
			AND send_count <= ? AND last_sent_at <= ?
			RETURNING `+inviteCols,
			at(now), at(now), at(now), at(now.Add(r.TTL)), did,
			by.TenantID, id, r.Max, at(now.Add(-r.Cooldown))))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return resendRefusal(ctx, tx, by.TenantID, id, now, r)
		case isUniqueViolation(err):
			return invites.ErrAlreadyInvited
		case err != nil:
			return err
		case left == 0:
			return invites.ErrQuotaExceeded
		}
		out = inv
		// The old links die with the tokens: their delivery is no longer
		// the latest either, which is what Accept checks under its lock.
		if _, err := tx.ExecContext(ctx, "DELETE FROM invites_tokens WHERE invite_id = ?", id); err != nil {
			return err
		}
		if err := writeEvents(ctx, tx, []event{{id, by.TenantID, invites.EventResent, by.UserID, now}}); err != nil {
			return err
		}
		return queueReminder(ctx, tx, inv, did, now)
	})
	if err != nil {
		return invites.Invite{}, translate(err)
	}
	return out, nil
}

// resendBudget says how many more sends q allows by and cur's address
// (and, when cur is not pending at now, pending invites its tenant): -1
// for no bound. The caller holds the quota locks.
func (s *Store) resendBudget(ctx context.Context, tx bun.Tx, by invites.Actor, cur invites.Invite, now time.Time, q invites.Quota) (int, error) {
	if q == (invites.Quota{}) {
		return -1, nil
	}
	addr, err := s.addressesLeft(ctx, tx, q, now, anInvite(1), by.TenantID, cur.ID)
	if err != nil {
		return 0, err
	}
	left := -1
	if q.MaxSendsPerAddressPerDay > 0 {
		left = q.MaxSendsPerAddressPerDay
		for _, n := range addr { // the invite's one address, if it had sends
			left = n
		}
	}
	if !tenantQuota(q) {
		return left, nil
	}
	sends, err := sendsLeft(ctx, tx, q, by.TenantID, by.UserID, now)
	if err != nil || cur.StatusAt(time.Time(at(now))) == invites.StatusPending {
		return fewest(left, sends), err
	}
	pend, err := pendingLeft(ctx, tx, q, by.TenantID, now)
	return fewest(fewest(left, sends), pend), err
}

// resendRefusal says, in the order of the Store contract, why Resend's
// UPDATE matched no row.
func resendRefusal(ctx context.Context, tx bun.Tx, tenantID string, id uuid.UUID, now time.Time, r invites.ResendRule) error {
	cur, err := getInvite(ctx, tx, tenantID, id, "")
	switch {
	case err != nil:
		return err
	case cur.Status != invites.StatusPending && cur.Status != invites.StatusExpired:
		return &invites.NotPendingError{Status: cur.Status}
	case cur.SendCount-1 >= r.Max:
		return invites.ErrTooManyResends
	case cur.LastSentAt.Add(r.Cooldown).After(now):
		return &invites.ResendTooSoonError{RetryAfter: cur.LastSentAt.Add(r.Cooldown).Sub(now)}
	}
	// Only a lost race (the row changed between the UPDATE and this read)
	// lands here; the caller may simply try again.
	return errors.New("bunstore: resend met a concurrent change; try again")
}

// Lookup implements invites.Store.
func (s *Store) Lookup(ctx context.Context, digest []byte) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	if len(digest) == 0 {
		return invites.Invite{}, invites.ErrInvalidToken
	}
	inv, err := scanInvite(s.reader.QueryRowContext(ctx,
		"SELECT "+inviteCols+" FROM invites WHERE id = (SELECT invite_id FROM invites_tokens WHERE digest = ?)", digest))
	return inv, notFound(err, invites.ErrInvalidToken)
}

// Accept implements invites.Store. Without a hook it is one autocommit
// UPDATE; with one, the UPDATE and the hook share a transaction, whose row
// lock makes any Cancel, Decline or second Accept wait for the hook.
func (s *Store) Accept(ctx context.Context, digest []byte, userID string, now time.Time, hook func(context.Context, invites.Invite) error) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	if hook == nil {
		var out invites.Invite
		err := s.atomically(ctx, func(ctx context.Context, db bun.IDB) (err error) {
			out, err = s.finish(ctx, db, digest, now, invites.StatusAccepted, userID)
			return err
		})
		return out, err
	}
	var out invites.Invite
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		inv, err := s.finish(ctx, tx, digest, now, invites.StatusAccepted, userID)
		if err != nil {
			return err
		}
		if err := hook(context.WithValue(ctx, txKey{}, tx), inv); err != nil {
			return err
		}
		out = inv
		return nil
	})
	if err != nil {
		return invites.Invite{}, err
	}
	return out, nil
}

// Decline implements invites.Store.
func (s *Store) Decline(ctx context.Context, digest []byte, now time.Time) (invites.Invite, error) {
	if err := s.ready(ctx); err != nil {
		return invites.Invite{}, err
	}
	var out invites.Invite
	err := s.atomically(ctx, func(ctx context.Context, db bun.IDB) (err error) {
		out, err = s.finish(ctx, db, digest, now, invites.StatusDeclined, "")
		return err
	})
	return out, err
}

// finish moves the invite of digest from pending (unexpired at now) to
// status in one conditional UPDATE, by a token of any attempt of the
// invite's latest delivery. It matches the token's delivery against the
// invite's latest as well as its id: on PostgreSQL a Resend that commits
// while the UPDATE waits for the row changes the latest delivery, and the
// UPDATE's recheck of the row then fails, as it must. The event goes with the UPDATE (see updateWithEvent),
// so on SQLite db must be a transaction.
func (s *Store) finish(ctx context.Context, db bun.IDB, digest []byte, now time.Time, status invites.Status, userID string) (invites.Invite, error) {
	if len(digest) == 0 {
		return invites.Invite{}, invites.ErrInvalidToken
	}
	var by sql.NullString
	if userID != "" {
		by = sql.NullString{String: userID, Valid: true}
	}
	typ := invites.EventDeclined
	if status == invites.StatusAccepted {
		typ = invites.EventAccepted
	}
	inv, err := s.updateWithEvent(ctx, db, `UPDATE invites
		SET status = ?0, accepted_by_user_id = ?1, status_updated_at = ?2, updated_at = ?2
		WHERE (id, latest_delivery_id) = (SELECT invite_id, delivery_id FROM invites_tokens WHERE digest = ?3)
		AND status = 'pending' AND expires_at > ?2
		RETURNING `+inviteCols, []any{string(status), by, at(now), digest}, typ, userID, now)
	if !errors.Is(err, sql.ErrNoRows) {
		return inv, wrap(err)
	}
	var (
		cur string
		exp ts
	)
	err = db.QueryRowContext(ctx, `SELECT status, expires_at FROM invites
		WHERE id = (SELECT invite_id FROM invites_tokens WHERE digest = ?)`, digest).Scan(&cur, &exp)
	if err != nil {
		return invites.Invite{}, notFound(err, invites.ErrInvalidToken)
	}
	read := invites.Invite{Status: invites.Status(cur), ExpiresAt: time.Time(exp)}
	switch st := read.StatusAt(time.Time(at(now))); st {
	case invites.StatusExpired:
		return invites.Invite{}, invites.ErrExpired
	case invites.StatusPending:
		// The UPDATEs, which wait for any lock on the row and then read
		// it afresh, saw it otherwise: not reachable short of a database
		// that broke its promise. Say so rather than guess.
		return invites.Invite{}, errors.New("bunstore: accept found the invite pending after failing to change it")
	default:
		return invites.Invite{}, &invites.NotPendingError{Status: st}
	}
}
