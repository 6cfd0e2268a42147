package testdb

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// LoadEnded bulk-loads n invites of tenant "bulk", as a month of a
// Service's work leaves them: each ended (accepted, declined, canceled or
// expired) up to 30 days before the database's now, with its delivery
// sent, its token, and its EventCreated and EventSent handled. It is one
// transaction of INSERT ... SELECT, as a restore or a migration from
// another system would be, and analyzes nothing: a benchmark compares
// the tables as they are with the tables analyzed. The address of
// invite g is bulkg@example.com.
func LoadEnded(ctx context.Context, db bun.IDB, n int) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`CREATE TEMP TABLE bulk_seed ON COMMIT DROP AS SELECT g, md5('bulk-i' || g)::uuid AS id,
				md5('bulk-d' || g)::uuid AS did, 'bulk' || g || '@example.com' AS email,
				now() - interval '30 days' + g * (interval '30 days' / ?0) AS c,
				(ARRAY['accepted', 'declined', 'canceled', 'expired'])[1 + g % 4] AS st
				FROM generate_series(0, ?0 - 1) AS g`,
			`INSERT INTO invites (id, tenant_id, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
				locale, roles, status, status_updated_at, expires_at, send_count, last_sent_at, delivery_status,
				latest_delivery_id, created_by_user_id, accepted_by_user_id, created_at, updated_at)
				SELECT id, 'bulk', email, email, 'First' || g % 5000, 'Last' || g % 1000, 'first' || g % 5000,
					'last' || g % 1000, 'en-US', '["member"]', st, c + interval '1 hour', c + interval '7 days', 1, c,
					'sent', did, 'inviter' || g % 7, CASE WHEN st = 'accepted' THEN 'u' || g END, c, c + interval '1 hour'
				FROM bulk_seed`,
			`INSERT INTO invites_deliveries (id, invite_id, tenant_id, kind, state, attempt, due_at, created_at)
				SELECT did, id, 'bulk', 'invitation', 'sent', 1, c, c FROM bulk_seed`,
			`INSERT INTO invites_tokens (digest, invite_id, delivery_id)
				SELECT sha256(CAST('bulk-tok' || g AS bytea)), id, did FROM bulk_seed`,
			`INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at, handled)
				SELECT id, 'bulk', 'created', 'inviter' || g % 7, c, c, TRUE FROM bulk_seed
				UNION ALL
				SELECT id, 'bulk', 'sent', '', c + interval '1 second', c + interval '1 second', TRUE FROM bulk_seed`,
		} {
			if _, err := tx.ExecContext(ctx, q, n); err != nil {
				return err
			}
		}
		return nil
	})
}

// NoAutovacuum turns autovacuum, and so its ANALYZE, off on the invites
// tables of db, whatever the server's setting.
func NoAutovacuum(ctx context.Context, db bun.IDB) error {
	for _, table := range []string{"invites", "invites_deliveries", "invites_tokens", "invites_events"} {
		if _, err := db.ExecContext(ctx, "ALTER TABLE "+table+" SET (autovacuum_enabled = false)"); err != nil {
			return err
		}
	}
	return nil
}

// Analyze gathers statistics for the tables of db's own schema only (on
// SQLite, its file), as autovacuum keeps them on a live database. A bare
// ANALYZE on PostgreSQL would analyze every schema of the test database,
// the never-analyzed ones of tests running beside it included.
func Analyze(ctx context.Context, db *bun.DB) error {
	if db.Dialect().Name() != dialect.PG {
		_, err := db.ExecContext(ctx, "ANALYZE")
		return err
	}
	var tables []string
	if err := db.NewSelect().ColumnExpr("quote_ident(tablename)").TableExpr("pg_tables").
		Where("schemaname = current_schema()").Scan(ctx, &tables); err != nil {
		return err
	}
	if len(tables) == 0 {
		return nil
	}
	_, err := db.ExecContext(ctx, "ANALYZE "+strings.Join(tables, ", "))
	return err
}
