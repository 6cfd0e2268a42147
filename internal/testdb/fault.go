package testdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/url"
	"os"
	"testing"
	"time"
)

// EnvFaultPostgres names the variable holding the DSN of a PostgreSQL
// cluster of the fault tests' own (a postgres:// URL to its database
// test), whose server settings they change: default_transaction_read_only,
// to make a primary that turns read-only but stays reachable. .ci/run
// creates it (pg_createcluster on a free port) and drops it after, so the
// shared server's settings are never touched.
const EnvFaultPostgres = "INVITES_TEST_POSTGRES_FAULT_DSN"

// faultLock is the advisory lock a fault test holds on the cluster, so
// tests of several packages, which go test runs at once, take turns.
const faultLock = 7_432_025_006

// FaultPostgresSkipped says that the fault cluster's tests skip and how
// to run them, or is "" when EnvFaultPostgres is set. .ci/run fails on its
// words.
func FaultPostgresSkipped() string {
	if os.Getenv(EnvFaultPostgres) != "" {
		return ""
	}
	return "PostgreSQL fault tests skipped: set " + EnvFaultPostgres + " to a cluster of their own (.ci/run creates one)"
}

// Fault is the fault cluster, held by one test.
type Fault struct {
	// DSN is EnvFaultPostgres's.
	DSN   string
	admin *sql.DB
}

// FaultPostgres returns the fault cluster for tb alone, skipping tb
// without one: it waits for the cluster's advisory lock, held on a
// connection of its own until tb ends, and then sets the cluster
// writable again.
func FaultPostgres(tb testing.TB) *Fault {
	tb.Helper()
	if testing.Short() {
		tb.Skip("PostgreSQL fault tests skip under -short")
	}
	dsn := os.Getenv(EnvFaultPostgres)
	if dsn == "" {
		tb.Skip(FaultPostgresSkipped())
	}
	admin, err := OpenPostgres(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lock, err := admin.DB.Conn(ctx)
	if err != nil {
		tb.Fatalf("testdb: the fault cluster: %v", err)
	}
	if _, err := lock.ExecContext(ctx, "SELECT pg_advisory_lock($1)", faultLock); err != nil {
		tb.Fatalf("testdb: locking the fault cluster: %v", err)
	}
	f := &Fault{DSN: dsn, admin: admin.DB}
	tb.Cleanup(func() {
		f.SetReadOnly(tb, false)
		lock.Close() // ends the session, and its lock
	})
	f.SetReadOnly(tb, false) // whatever a test that died left
	tb.Logf("%s fault cluster", PostgresMark)
	return f
}

// SetReadOnly turns default_transaction_read_only on or off on the whole
// cluster and has every session take it at its next transaction, as
// pg_auto_failover does to a primary it demotes.
func (f *Fault) SetReadOnly(tb testing.TB, on bool) {
	tb.Helper()
	q := "ALTER SYSTEM RESET default_transaction_read_only"
	if on {
		q = "ALTER SYSTEM SET default_transaction_read_only = on"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []string{q, "SELECT pg_reload_conf()"} {
		if _, err := f.admin.ExecContext(ctx, q); err != nil {
			tb.Fatalf("testdb: %s: %v", q, err)
		}
	}
	// A reload reaches the backends by signal: wait until a new session
	// sees it.
	want := map[bool]string{true: "on", false: "off"}[on]
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var got string
		c, err := f.admin.Conn(ctx)
		if err == nil {
			err = c.QueryRowContext(ctx, "SHOW default_transaction_read_only").Scan(&got)
			_ = c.Raw(func(any) error { return driver.ErrBadConn }) // a fresh session next time
			c.Close()
		}
		if err == nil && got == want || time.Now().After(deadline) {
			if got != want {
				tb.Fatalf("testdb: default_transaction_read_only = %q, %v; want %s", got, err, want)
			}
			return
		}
	}
}

// Exec runs q on the fault cluster as its superuser, outside the test's
// schema.
func (f *Fault) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	if _, err := f.admin.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("testdb: %s: %v", q, err)
	}
}

// QueryInts returns the integers q selects, one a row.
func (f *Fault) QueryInts(tb testing.TB, q string, args ...any) []int64 {
	tb.Helper()
	rows, err := f.admin.QueryContext(context.Background(), q, args...)
	if err != nil {
		tb.Fatalf("testdb: %s: %v", q, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Addr returns the host:port of the fault cluster.
func (f *Fault) Addr(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(f.DSN)
	if err != nil {
		tb.Fatalf("testdb: %s is not a postgres:// URL: %v", EnvFaultPostgres, err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":5432"
	}
	return u.Host
}
