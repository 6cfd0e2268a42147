package invites_test

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
)

// faultSchema makes schema, with a role of its name whose search_path it
// is (for a pooled DSN, see testdb), on the fault cluster and migrates it,
// dropping both when t ends.
func faultSchema(t *testing.T, f *testdb.Fault, schema string) {
	t.Helper()
	f.Exec(t, "CREATE ROLE "+schema+" LOGIN")
	f.Exec(t, "CREATE SCHEMA "+schema+" AUTHORIZATION "+schema)
	f.Exec(t, "ALTER ROLE "+schema+" SET search_path = "+schema)
	// The tables Migrate creates as postgres are the role's to use, as the
	// pool behind PgBouncer connects as the role.
	f.Exec(t, "ALTER DEFAULT PRIVILEGES IN SCHEMA "+schema+" GRANT ALL ON TABLES TO "+schema)
	f.Exec(t, "ALTER DEFAULT PRIVILEGES IN SCHEMA "+schema+" GRANT ALL ON SEQUENCES TO "+schema)
	t.Cleanup(func() {
		f.SetReadOnly(t, false)
		f.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 OR application_name LIKE $2", schema, schema+"%")
		f.Exec(t, "DROP SCHEMA "+schema+" CASCADE")
		f.Exec(t, "DROP ROLE "+schema)
	})
}

// openPool opens dsn as a host does for failover (see docs/production.md).
func openPool(t *testing.T, dsn string) *bun.DB {
	t.Helper()
	db, err := testdb.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

// withParams is testdb.WithParams failing t.
func withParams(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	dsn, err := testdb.WithParams(dsn, kv...)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// A primary that turns read-only but stays reachable: every write
// answers ErrUnavailable (503 with Retry-After over HTTP), the outage is
// logged once, at WARN, not per request at ERROR, and the pool lets go of
// the read-only sessions. Once the node is writable again, writes work.
func TestReadOnlyPrimaryIsUnavailable(t *testing.T) {
	f := testdb.FaultPostgres(t)
	schema := "ro_" + strings.ToLower(rand.Text()[:12])
	faultSchema(t, f, schema)
	app := schema + "_pool"
	db := openPool(t, withParams(t, f.DSN, "search_path", schema, "application_name", app))
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	svc := faultService(t, db, mailertest.New(), func(c *invites.Config) { c.Logger = logger })
	h := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(*http.Request) (invites.Actor, error) { return admin, nil },
		Logger:       logger,
	})
	ctx := t.Context()
	send := func(email string) error {
		_, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: email}})
		return err
	}
	if err := send("ann@example.com"); err != nil {
		t.Fatal(err)
	}
	sessions := func() []int64 {
		return f.QueryInts(t, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", app)
	}
	before := sessions()
	if len(before) == 0 {
		t.Fatal("no session of the pool on the server")
	}

	f.SetReadOnly(t, true)
	for i, email := range []string{"bob@example.com", "cy@example.com", "dee@example.com"} {
		if err := send(email); !errors.Is(err, invites.ErrUnavailable) {
			t.Fatalf("Send %d on the read-only primary = %v, want ErrUnavailable", i, err)
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"userInvites":[{"email":"`+email+`"}]}`))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Fatalf("POST / on the read-only primary = %d Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("logged %d lines for the outage, want one at WARN:\n%s", n, logs.String())
	}
	// Every session the pool had before is gone: none answers a write.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		after := sessions()
		kept := slices.DeleteFunc(slices.Clone(before), func(pid int64) bool { return !slices.Contains(after, pid) })
		if len(kept) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions %v of the pool outlived the read-only answers (before %v, now %v)", kept, before, after)
		}
	}

	f.SetReadOnly(t, false)
	if err := send("bob@example.com"); err != nil {
		t.Fatalf("Send once the primary is writable again: %v", err)
	}
}

// failoverDSN is dsn listing first the fault cluster, then dsn's own
// host, with target_session_attrs=read-write: the multi-host DSN of a
// pair of nodes, either of which may be the primary.
func failoverDSN(t *testing.T, f *testdb.Fault, dsn string) string {
	t.Helper()
	dsn = withParams(t, dsn, "target_session_attrs", "read-write", "connect_timeout", "2")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	u.Host = "HOSTS"
	return strings.Replace(u.String(), "HOSTS", f.Addr(t)+","+host, 1)
}

// With a multi-host DSN and target_session_attrs=read-write, the pool
// moves to the writable host once its primary turns read-only: the
// failed writes answered ErrUnavailable, and the next ones land on the
// other host, with no restart and no change to the pool.
func TestReadOnlyPrimaryFailsOver(t *testing.T) {
	f := testdb.FaultPostgres(t)
	other := testdb.Postgres(t) // the node that takes over, with a schema of its own
	schema := testdb.Schema(t, other)
	if err := bunstore.Migrate(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	faultSchema(t, f, schema)
	first := openPool(t, withParams(t, f.DSN, "search_path", schema))
	if err := bunstore.Migrate(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	pool := openPool(t, failoverDSN(t, f, testdb.SchemaDSN(t, schema)))
	svc := faultService(t, pool, mailertest.New())
	ctx := t.Context()
	send := func(email string) error {
		_, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: email}})
		return err
	}
	on := func(db *bun.DB, email string) bool {
		n, err := db.NewSelect().Table("invites").Where("email = ?", email).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if err := send("ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if !on(first, "ann@example.com") {
		t.Fatal("the first write did not land on the first host")
	}

	f.SetReadOnly(t, true)
	failed := 0
	for deadline := time.Now().Add(10 * time.Second); ; failed++ {
		err := send("bob@example.com")
		if err == nil {
			break
		}
		if !errors.Is(err, invites.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Send after %d failures on the read-only primary = %v; want ErrUnavailable, then success on the other host", failed, err)
		}
	}
	if !on(other, "bob@example.com") || on(first, "bob@example.com") {
		t.Fatal("the write after the failover did not land on the writable host")
	}
	if failed > 4 {
		t.Errorf("%d writes failed before the pool moved, want at most one per connection (4)", failed)
	}
	t.Logf("%d writes answered ErrUnavailable before the pool moved to the writable host", failed)
}
