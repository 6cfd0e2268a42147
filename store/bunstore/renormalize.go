package bunstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// renormalizeMigration is the migration whose files change no schema:
// Migrate runs Renormalize in its transaction, since today's
// NormalizeEmail (IDNA, ASCII-only case folding) cannot be written in SQL.
const renormalizeMigration = "20261206000008"

// renormalizeBatch is how many invites Renormalize reads per statement.
const renormalizeBatch = 1000

// Renormalize recomputes each invite's email_norm from its email under
// today's invites.NormalizeEmail, in one transaction, and returns how
// many rows it changed. Rows written before the strict address rules
// hold the old form (the whole address lower-cased by strings.ToLower:
// the Kelvin sign as k, É as é, A-label domains as they came), which Get,
// List's email filter, Forget, the pending uniqueness and the address
// limit no longer find.
//
// Migrate runs it as migration 20261206000008, whose SQL files are
// empty; a host applying Migrations with its own tool calls it once after
// that file. It is idempotent: a second call changes nothing.
//
// When two pending invites of a tenant become one address (a@xn--bcher-kva.de
// beside a@bücher.de), the one already stored under today's form, or else
// the first in id order, stays pending; the other is canceled at the
// present time with an EventCanceled of no actor, as only one pending
// invite per address may be.
func Renormalize(ctx context.Context, db *bun.DB) (int, error) {
	var n int
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		n, err = renormalize(ctx, tx, time.Now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bunstore: renormalizing addresses: %w", err)
	}
	return n, nil
}

// afterMigration runs Renormalize in the transaction of its migration.
func afterMigration(ctx context.Context, conn bun.IConn, m *migrate.Migration) error {
	if m.Name != renormalizeMigration {
		return nil
	}
	tx, ok := conn.(bun.Tx)
	if !ok {
		return errors.New("bunstore: migration " + renormalizeMigration + " must run in a transaction")
	}
	_, err := renormalize(ctx, tx, time.Now())
	return err
}

// stale is one invite whose email_norm is not today's.
type stale struct {
	id      uuid.UUID
	tenant  string
	norm    string
	pending bool
}

// renormalize is Renormalize in tx, at now. It reads the invites in id
// order, a batch per statement, and rewrites the rows whose form changed.
func renormalize(ctx context.Context, tx bun.Tx, now time.Time) (int, error) {
	var (
		todo []stale
		last uuid.UUID
	)
	for {
		rows, err := on(tx).QueryContext(ctx, "SELECT id, tenant_id, email, email_norm, status FROM invites WHERE id > ? ORDER BY id LIMIT ?",
			last, renormalizeBatch)
		if err != nil {
			return 0, err
		}
		scanned := 0
		err = eachRow(rows, func(r scanner) error {
			var (
				s                   stale
				email, norm, status string
			)
			if err := r.Scan(&s.id, &s.tenant, &email, &norm, &status); err != nil {
				return err
			}
			scanned, last = scanned+1, s.id
			if s.norm = invites.NormalizeEmail(email); s.norm != norm {
				s.pending = status == string(invites.StatusPending)
				todo = append(todo, s)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if scanned < renormalizeBatch {
			break
		}
	}
	for _, s := range todo {
		if s.pending {
			var other int
			err := on(tx).QueryRowContext(ctx, "SELECT count(*) FROM invites WHERE tenant_id = ? AND email_norm = ? AND status = 'pending'",
				s.tenant, s.norm).Scan(&other)
			if err != nil {
				return 0, err
			}
			if other > 0 {
				if _, err := on(tx).ExecContext(ctx, `UPDATE invites SET status = 'canceled', status_updated_at = ?, updated_at = ?
					WHERE id = ?`, at(now), at(now), s.id); err != nil {
					return 0, err
				}
				if err := writeEvents(ctx, tx, []event{{s.id, s.tenant, invites.EventCanceled, "", now}}); err != nil {
					return 0, err
				}
			}
		}
		if _, err := on(tx).ExecContext(ctx, "UPDATE invites SET email_norm = ? WHERE id = ?", s.norm, s.id); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}
