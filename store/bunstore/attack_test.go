package bunstore_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// execPool opens a pool of its own on db's schema in pgx's exec mode,
// where pgx sends the text bun formats as it is whatever the session's
// standard_conforming_strings (its simple protocol refuses a query then),
// with kv added to the DSN.
func execPool(t *testing.T, db *bun.DB, kv ...string) *bun.DB {
	t.Helper()
	dsn, err := testdb.WithParams(testdb.SchemaDSN(t, testdb.Schema(t, db)), append(kv, "default_query_exec_mode", "exec")...)
	if err != nil {
		t.Fatal(err)
	}
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := bun.NewDB(sqldb, pgdialect.New())
	p.SetMaxOpenConns(2)
	p.SetMaxIdleConns(2)
	t.Cleanup(func() { p.Close() })
	return p
}

// escape is a createdByUserId filter that, were a backslash an escape in
// the literal of its first value, ends that literal and makes the second
// value SQL: the page of tenant "acme" would then hold every tenant's rows.
var escape = invites.Filter{CreatedByUserID: invites.ValueFilter{ValueIn: []string{`x\`, `) OR tenant_id <> $$$$) FROM invites --`}}}

// noLeak lists tenant "acme" with escape on s and wants no row: only
// tenant "other" has invites.
func noLeak(ctx context.Context, t *testing.T, s *bunstore.Store) {
	t.Helper()
	got, _, err := s.List(ctx, invites.ListParams{TenantID: "acme", Now: base, Limit: 10, Where: escape})
	if err != nil || len(got) != 0 {
		t.Fatalf("List of acme with a value ending in a backslash = %d rows (%v), want none", len(got), err)
	}
}

// A store whose session has standard_conforming_strings off reads no
// other tenant's invites: not on the WithReader pool, which the setting
// check of the writer never asked, nor in a host's transaction that
// turned it off with SET LOCAL after the store's first use.
func TestBackslashReadsNoOtherTenant(t *testing.T) {
	testdb.PostgresDSN(t)
	ctx := t.Context()
	db := testdb.Postgres(t)
	s := migrated(t, db)
	if _, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("other", 3)}); err != nil {
		t.Fatal(err)
	}
	t.Run("reader", func(t *testing.T) {
		noLeak(ctx, t, bunstore.New(db, bunstore.WithReader(execPool(t, db, "standard_conforming_strings", "off"))))
	})
	t.Run("SET LOCAL", func(t *testing.T) {
		tx, err := execPool(t, db).BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		s := bunstore.New(tx)
		if _, err := s.Get(ctx, invites.GetParams{TenantID: "acme"}); err == nil {
			t.Fatal("Get of no invite found one")
		}
		if _, err := tx.ExecContext(ctx, "SET LOCAL standard_conforming_strings = off"); err != nil {
			t.Fatal(err)
		}
		noLeak(ctx, t, s)
	})
}
