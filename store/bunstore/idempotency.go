package bunstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// takeKey takes k, the idempotency key of a write at now, first in the
// write's transaction tx, before any other lock, so two writes never wait
// on each other in a circle. The INSERT inserts the key's row, or takes
// over an expired one; on PostgreSQL, when another transaction has
// inserted the key and not yet ended, it waits for it, as for any unique
// key, and a row it does not take is then committed; SQLite's immediate
// transaction has excluded every other writer before. A row not taken is
// live: it answers the replay, or ErrIdempotencyMismatch. Neither
// statement runs when no key is given.
func takeKey(ctx context.Context, tx bun.Tx, k *invites.Idempotency, now time.Time) error {
	if k == nil {
		return nil
	}
	var took int
	err := on(tx).QueryRowContext(ctx, `INSERT INTO invites_idempotency (tenant_id, scope, key, fingerprint, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, scope, key) DO UPDATE
		SET fingerprint = excluded.fingerprint, answer = NULL, expires_at = excluded.expires_at
		WHERE invites_idempotency.expires_at <= ?
		RETURNING 1`, k.TenantID, k.Scope, k.Key, k.Fingerprint, at(k.ExpiresAt), at(now)).Scan(&took)
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var fp, answer []byte
	err = on(tx).QueryRowContext(ctx, `SELECT fingerprint, answer FROM invites_idempotency
		WHERE tenant_id = ? AND scope = ? AND key = ?`, k.TenantID, k.Scope, k.Key).Scan(&fp, &answer)
	switch {
	case err != nil:
		return err
	case !bytes.Equal(fp, k.Fingerprint):
		return invites.ErrIdempotencyMismatch
	}
	return &invites.ReplayError{Answer: answer}
}

// keepKey stores answer with k, which takeKey took in tx.
func keepKey(ctx context.Context, tx bun.Tx, k *invites.Idempotency, answer []byte) error {
	if k == nil {
		return nil
	}
	_, err := on(tx).ExecContext(ctx, `UPDATE invites_idempotency SET answer = ?
		WHERE tenant_id = ? AND scope = ? AND key = ?`, answer, k.TenantID, k.Scope, k.Key)
	return err
}

// keepAnswer keeps with k, if set, the answer answer gives of v; an
// error of answer's (the Service's, so the host's) goes to host as well,
// to be returned as it is (see keyedErr).
func keepAnswer[T any](ctx context.Context, tx bun.Tx, k *invites.Idempotency, answer func(T) ([]byte, error), v T, host *error) error {
	if k == nil {
		return nil
	}
	b, err := answer(v)
	if err != nil {
		*host = err
		return err
	}
	return keepKey(ctx, tx, k, b)
}

// keyedErr is what a write that may keep a key returns for the error of
// its transaction: the host's error, and takeKey's answer for a live
// key, as they are; any other through translate.
func keyedErr(host, err error) error {
	switch {
	case host != nil:
		return host
	case keyAnswer(err):
		return err
	}
	return translate(err)
}

// keyAnswer reports whether err is takeKey's answer for a live key, which
// a write returns as it is.
func keyAnswer(err error) bool {
	var re *invites.ReplayError
	return errors.As(err, &re) || errors.Is(err, invites.ErrIdempotencyMismatch)
}

// pruneKeys deletes up to limit keys that expired before before, the
// first to expire first, found through invites_idempotency_expires_idx;
// on PostgreSQL it passes over a key a write is taking over (SKIP LOCKED),
// which would otherwise lose the row it just took.
func (s *Store) pruneKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	lock := ""
	if s.pg {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	res, err := on(s.db).ExecContext(ctx, `WITH picked AS MATERIALIZED (SELECT tenant_id, scope, key FROM invites_idempotency
		WHERE expires_at < ? ORDER BY expires_at LIMIT ?`+lock+`)
		DELETE FROM invites_idempotency WHERE (tenant_id, scope, key) IN (SELECT tenant_id, scope, key FROM picked)`,
		at(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
