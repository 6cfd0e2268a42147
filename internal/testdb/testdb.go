// Package testdb gives tests and benchmarks databases of their own: a
// fresh PostgreSQL schema per test on the server named by
// INVITES_TEST_POSTGRES_DSN (directly or through PgBouncer, see
// EnvPooled), or a fresh SQLite file, each removed when the test ends, so
// tests that use them can run in parallel.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/invitekit/invites/store/bunstore/sqlitedb"
)

// EnvPostgres names the variable holding the PostgreSQL test server's DSN
// (a postgres:// URL).
const EnvPostgres = "INVITES_TEST_POSTGRES_DSN"

// PostgresDSN returns the DSN of the test server, skipping tb when none
// is set or under go test -short, the fast path on SQLite and memstore.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("PostgreSQL tests skip under -short")
	}
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		tb.Skip(PostgresSkipped())
	}
	return dsn
}

// PostgresSkipped says that the PostgreSQL tests skip and how to run
// them, or is "" when EnvPostgres is set. .ci/run fails on its words.
func PostgresSkipped() string {
	if os.Getenv(EnvPostgres) != "" {
		return ""
	}
	return "PostgreSQL tests skipped: set " + EnvPostgres + " (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)"
}

// Main is the TestMain of a package some of whose tests skip without a
// server or tool: it says so once, naming the package, then runs m.
// skipped are such notices, "" for a suite that will run. go test shows
// nothing that a passing package prints unless -v, so the line goes to
// the terminal when there is one, else to stderr (where -v shows it).
func Main(m *testing.M, skipped ...string) {
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	out := os.Stderr
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		out = tty
	}
	for _, s := range skipped {
		if s != "" {
			fmt.Fprintf(out, "%s: %s\n", pkg, s)
		}
	}
	if out != os.Stderr {
		out.Close()
	}
	os.Exit(m.Run())
}

// WithParams adds connection parameters to a postgres:// DSN.
func WithParams(dsn string, kv ...string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("testdb: %s is not a postgres:// URL: %w", EnvPostgres, err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// OpenPostgres opens dsn for bun the way docs/storage.md tells hosts to: pgx,
// with its simple protocol, since bun sends queries with their values
// inlined and pgx would otherwise prepare each one, and connect_timeout
// (2 s unless dsn sets it), without which a connection attempt the
// network swallows holds the pool for good.
func OpenPostgres(dsn string) (*bun.DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("testdb: %s is not a postgres:// URL: %w", EnvPostgres, err)
	}
	kv := []string{"default_query_exec_mode", "simple_protocol"}
	if !u.Query().Has("connect_timeout") {
		kv = append(kv, "connect_timeout", "2")
	}
	dsn, err = WithParams(dsn, kv...)
	if err != nil {
		return nil, err
	}
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// Postgres returns a database whose search_path is a new, empty schema,
// dropped when tb ends; it skips tb without a test server. Behind a pooler
// (EnvPooled) the schema has a role of its own whose search_path it is,
// and the pool logs in as that role.
func Postgres(tb testing.TB) *bun.DB {
	tb.Helper()
	dsn := PostgresDSN(tb)
	schema := "test_" + strings.ToLower(rand.Text()[:16])
	admin, err := OpenPostgres(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	create := []string{"CREATE SCHEMA " + schema}
	drop := []string{"DROP SCHEMA " + schema + " CASCADE"}
	if pooled() {
		create = []string{
			"CREATE ROLE " + schema + " LOGIN",
			"CREATE SCHEMA " + schema + " AUTHORIZATION " + schema,
			"ALTER ROLE " + schema + " SET search_path = " + schema,
		}
		// The pooler keeps the role's server connections open: end them,
		// or they would hold the server's connections long after the test.
		drop = append([]string{"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + schema + "'"},
			append(drop, "DROP ROLE "+schema)...)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		for _, q := range drop {
			if _, err := admin.ExecContext(ctx, q); err != nil {
				tb.Errorf("testdb: dropping schema %s: %s: %v", schema, q, err)
			}
		}
	})
	for _, q := range create {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			tb.Fatalf("testdb: creating schema: %s: %v", q, err)
		}
	}
	tb.Logf("%s %s", PostgresMark, schema)
	return PostgresSchema(tb, schema)
}

// PostgresMark opens the line Postgres and FaultPostgres log for a test
// (go test -v shows it): .ci/run reads the tests that used PostgreSQL off
// its race run, to run them again through PgBouncer.
const PostgresMark = "testdb: PostgreSQL"

// EnvPooled, set to anything but "", says the DSN of EnvPostgres reaches
// PostgreSQL through a pooler in transaction mode, such as PgBouncer,
// which shares server connections among clients and so cannot carry a
// search_path given at login: each test's schema then gets a role of its
// own whose search_path it is (the pooler keeps a pool per role).
const EnvPooled = "INVITES_TEST_POSTGRES_POOLED"

func pooled() bool { return os.Getenv(EnvPooled) != "" }

// SchemaDSN returns the DSN of the test server for a session whose
// search_path is schema, one Postgres made: the search_path parameter,
// or behind a pooler the schema's role as the user.
func SchemaDSN(tb testing.TB, schema string) string {
	tb.Helper()
	dsn := PostgresDSN(tb)
	if !pooled() {
		dsn, err := WithParams(dsn, "search_path", schema)
		if err != nil {
			tb.Fatal(err)
		}
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("testdb: %s is not a postgres:// URL: %v", EnvPostgres, err)
	}
	u.User = url.User(schema)
	return u.String()
}

// PostgresSchema opens another pool on the test server whose search_path
// is schema, closed when tb ends.
func PostgresSchema(tb testing.TB, schema string) *bun.DB {
	tb.Helper()
	return PostgresVia(tb, schema, "")
}

// PostgresVia is PostgresSchema reaching the server at addr (host:port),
// a proxy in front of it say, instead of the DSN's host; "" keeps it.
func PostgresVia(tb testing.TB, schema, addr string) *bun.DB {
	tb.Helper()
	dsn := SchemaDSN(tb, schema)
	if addr != "" {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatal(err)
		}
		u.Host = addr
		dsn = u.String()
	}
	db, err := OpenPostgres(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	// Tests run side by side: keep each one's share of the server's
	// connections small.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8) // database/sql keeps 2 by default: the rest would reconnect per query
	tb.Cleanup(func() { db.Close() })
	return db
}

// PostgresAddr returns the host:port of the test server's DSN.
func PostgresAddr(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(PostgresDSN(tb))
	if err != nil {
		tb.Fatalf("testdb: %s is not a postgres:// URL: %v", EnvPostgres, err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":5432"
	}
	return u.Host
}

// Schema returns the schema of db's session, a database of Postgres.
func Schema(tb testing.TB, db *bun.DB) string {
	tb.Helper()
	var schema string
	if err := db.QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		tb.Fatal(err)
	}
	return schema
}

// SQLite returns a database in a new file under tb.TempDir.
func SQLite(tb testing.TB) *bun.DB {
	tb.Helper()
	return SQLiteAt(tb, filepath.Join(tb.TempDir(), "invites.db"))
}

// SQLiteAt opens the SQLite file at path, closed when tb ends.
func SQLiteAt(tb testing.TB, path string) *bun.DB {
	tb.Helper()
	db, err := sqlitedb.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	sqlitePaths.Store(db, path)
	tb.Cleanup(func() { sqlitePaths.Delete(db) })
	return db
}

// sqlitePaths maps each database SQLiteAt opened to its file, for Reader.
var sqlitePaths sync.Map

// Reader returns the pool for bunstore.WithReader beside db, as a host
// wires it: for a database of SQLite or SQLiteAt, a read pool of
// sqlitedb.OpenReader on its file, closed when tb ends; for any other,
// db itself.
func Reader(tb testing.TB, db *bun.DB) *bun.DB {
	tb.Helper()
	path, ok := sqlitePaths.Load(db)
	if !ok {
		return db
	}
	r, err := sqlitedb.OpenReader(path.(string))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}
