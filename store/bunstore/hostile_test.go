package bunstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// offAt opens a pool of dsn in pgx's exec mode (its simple protocol
// refuses a query in a session with standard_conforming_strings off,
// where exec sends bun's text as it is), running set on each connection
// it opens, and closes it when t ends.
func offAt(t *testing.T, dsn string, set string) *bun.DB {
	t.Helper()
	dsn, err := testdb.WithParams(dsn, "default_query_exec_mode", "exec")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var opts []stdlib.OptionOpenDB
	if set != "" {
		opts = append(opts, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, set)
			return err
		}))
	}
	db := bun.NewDB(stdlib.OpenDB(*cfg, opts...), pgdialect.New())
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

// isOff fails t unless db's sessions have standard_conforming_strings off.
func isOff(t *testing.T, db bun.IDB) {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "SHOW standard_conforming_strings").Scan(&v); err != nil || v != "off" {
		t.Fatalf("standard_conforming_strings = %q (%v), want off", v, err)
	}
}

// admin runs each statement on the test server as its DSN's user.
func admin(t *testing.T, qs ...string) {
	t.Helper()
	db, err := testdb.OpenPostgres(testdb.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// withPath is the test server's DSN with user and database changed where
// not "".
func withPath(t *testing.T, user, database string) string {
	t.Helper()
	u, err := url.Parse(testdb.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		u.User = url.User(user)
	}
	if database != "" {
		u.Path = "/" + database
	}
	return u.String()
}

// Every value of storetest.HostileText round-trips, and no tenant sees
// another's rows, on a store whose sessions have
// standard_conforming_strings off however it was turned off: for the
// database or the role (a database or role of the test's own, so no
// other test sees it), on each session, or by SET LOCAL in the host's
// transaction the store joins; on the writer pool and the WithReader
// pool alike. Migrate runs there too. Through PgBouncer
// (testdb.EnvPooled) the session's SET is what a pooler's server
// connection carries from one client to the next.
func TestHostileTextWhateverTheSetting(t *testing.T) {
	testdb.PostgresDSN(t)
	name := "sqlsafe_" + strings.ToLower(rand.Text()[:12])
	// Each case opens a writer and a reader pool on sessions with the
	// setting off.
	cases := map[string]func(t *testing.T) (w, r *bun.DB){
		"database": func(t *testing.T) (w, r *bun.DB) {
			admin(t, "CREATE DATABASE "+name+"_db", "ALTER DATABASE "+name+"_db SET standard_conforming_strings = off")
			t.Cleanup(func() { admin(t, "DROP DATABASE "+name+"_db WITH (FORCE)") })
			dsn := withPath(t, "", name+"_db")
			return offAt(t, dsn, ""), offAt(t, dsn, "")
		},
		"role": func(t *testing.T) (w, r *bun.DB) {
			role := name + "_role"
			admin(t, "CREATE ROLE "+role+" LOGIN", "CREATE SCHEMA "+role+" AUTHORIZATION "+role,
				"ALTER ROLE "+role+" SET search_path = "+role, "ALTER ROLE "+role+" SET standard_conforming_strings = off")
			t.Cleanup(func() {
				admin(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+role+"'",
					"DROP SCHEMA "+role+" CASCADE", "DROP ROLE "+role)
			})
			dsn := withPath(t, role, "")
			return offAt(t, dsn, ""), offAt(t, dsn, "")
		},
		"session": func(t *testing.T) (w, r *bun.DB) {
			dsn := testdb.SchemaDSN(t, testdb.Schema(t, testdb.Postgres(t)))
			set := "SET standard_conforming_strings = off"
			return offAt(t, dsn, set), offAt(t, dsn, set)
		},
	}
	for level, open := range cases {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			w, r := open(t)
			isOff(t, w)
			isOff(t, r)
			if err := bunstore.Migrate(t.Context(), w); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			s := bunstore.New(w, bunstore.WithReader(r))
			storetest.Hostile(t, s)
			noLeak(t.Context(), t, s)
		})
	}
	t.Run("SET LOCAL", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db := testdb.Postgres(t)
		migrated(t, db)
		tx, err := offAt(t, testdb.SchemaDSN(t, testdb.Schema(t, db)), "").BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SET LOCAL standard_conforming_strings = off"); err != nil {
			t.Fatal(err)
		}
		isOff(t, tx)
		s := bunstore.New(tx)
		storetest.Hostile(t, s)
		noLeak(ctx, t, s)
	})
}

// The hook of a Change (Config.OnAccept) that turns
// standard_conforming_strings off in the accepting transaction, and reads
// through a store on it, sees its own tenant's rows only, with their
// values as written; so does the rest of the change.
func TestHookTurningStandardStringsOff(t *testing.T) {
	testdb.PostgresDSN(t)
	ctx := t.Context()
	db := testdb.Postgres(t)
	migrated(t, db)
	s := bunstore.New(offAt(t, testdb.SchemaDSN(t, testdb.Schema(t, db)), ""))
	if _, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("other", 3)}); err != nil {
		t.Fatal(err)
	}
	in := pendingInvite("acme", "kate@example.com")
	if _, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: []invites.Invite{in}}); err != nil {
		t.Fatal(err)
	}
	name := `x\', first_name = $$y$$ --`
	hooked := errors.New("the hook did not run")
	inv, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: base, TenantID: "acme", ID: in.ID, ActorID: `u\`,
		From: []invites.Status{invites.StatusPending},
		Edit: invites.Edit{Status: invites.StatusAccepted, AcceptedByUserID: `u\`, Fields: invites.Update{FirstName: &name},
			Event: invites.EventAccepted},
		Hook: func(ctx context.Context, _ invites.Invite) error {
			tx, ok := bunstore.TxFromContext(ctx)
			if !ok {
				return errors.New("no transaction in the hook")
			}
			if _, err := tx.ExecContext(ctx, "SET LOCAL standard_conforming_strings = off"); err != nil {
				return err
			}
			isOff(t, tx)
			hs := bunstore.New(tx)
			noLeak(ctx, t, hs)
			got, err := hs.Get(ctx, invites.GetParams{TenantID: "acme", ID: in.ID})
			if err != nil || got.FirstName != name {
				t.Errorf("Get in the hook = %q, %v; want %q", got.FirstName, err, name)
			}
			hooked = nil
			return nil
		}})
	if err != nil || hooked != nil {
		t.Fatalf("Change: %v, %v", err, hooked)
	}
	got, err := s.Get(ctx, invites.GetParams{TenantID: "acme", ID: in.ID})
	if err != nil || got.FirstName != name || got.AcceptedByUserID != `u\` || got.ID != inv.ID {
		t.Fatalf("after the hook: %q accepted by %q, %v", got.FirstName, got.AcceptedByUserID, err)
	}
	if n := countRows(t, db, "SELECT count(*) FROM invites WHERE first_name = 'y'"); n != 0 {
		t.Fatalf("%d invites named y", n)
	}
}
