package bunstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// eachDB runs f once per dialect, each on a database of its own.
// ledgerKey keys the send ledger of the tests' writes, as a Service would.
func ledgerKey(n string) []byte { return invites.LedgerKey(make([]byte, invites.MinLedgerSecret), n) }

func eachDB(t *testing.T, f func(t *testing.T, db *bun.DB)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		f(t, testdb.SQLite(t))
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		f(t, testdb.Postgres(t))
	})
}

var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// pendingInvite is an invite as the Service hands it to Insert, sent at
// base.
func pendingInvite(tenant, email string) invites.Invite {
	return invites.Invite{
		ID: uuid.Must(uuid.NewV7()), TenantID: tenant, Email: email, Locale: "en-US", Roles: []string{"member"},
		Status: invites.StatusPending, SendCount: 1, LastSentAt: base, DeliveryStatus: invites.DeliveryQueued,
		CreatedByUserID: "inviter", ExpiresAt: base.Add(24 * time.Hour),
		CreatedAt: base, UpdatedAt: base, StatusUpdatedAt: base,
	}
}

func batch(tenant string, n int) []invites.Invite {
	out := make([]invites.Invite, n)
	for i := range out {
		out[i] = pendingInvite(tenant, fmt.Sprintf("user%d@example.com", i))
	}
	return out
}

func countRows(t *testing.T, db bun.IDB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// migrations counts the migrations of db's dialect in bunstore.Migrations.
func migrations(t *testing.T, db *bun.DB) int {
	t.Helper()
	dir := "sqlite"
	if db.Dialect().Name() == dialect.PG {
		dir = "postgres"
	}
	ups, err := fs.Glob(bunstore.Migrations, dir+"/*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("no migrations of %s: %v", dir, err)
	}
	return len(ups)
}

func TestMigrateTwiceUpDownUp(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		for range 2 {
			if err := bunstore.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		}
		if n, want := countRows(t, db, "SELECT count(*) FROM invites_migrations"), migrations(t, db); n != want {
			t.Fatalf("after two Migrates, invites_migrations has %d rows, want %d (the second must be a no-op)", n, want)
		}
		if _, err := bunstore.New(db).Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("acme", 3)}); err != nil {
			t.Fatal(err)
		}

		if err := bunstore.Rollback(ctx, db); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if _, err := db.ExecContext(ctx, "SELECT count(*) FROM invites"); err == nil {
			t.Fatal("the invites table is still there after Rollback")
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_migrations"); n != 0 {
			t.Fatalf("after Rollback, invites_migrations has %d rows, want 0", n)
		}

		if err := bunstore.Migrate(ctx, db); err != nil {
			t.Fatalf("Migrate after Rollback: %v", err)
		}
		res, err := bunstore.New(db).Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("acme", 3)})
		if err != nil || len(res) != 3 || res[0].Existing != uuid.Nil {
			t.Fatalf("Insert after up, down, up: %v, %+v", err, res)
		}
	})
}

// Several processes starting at once: one migrates, the rest wait for it.
func TestMigrateConcurrently(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range cap(errs) {
			wg.Go(func() { errs <- bunstore.Migrate(t.Context(), db) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
		if n, want := countRows(t, db, "SELECT count(*) FROM invites_migrations"), migrations(t, db); n != want {
			t.Fatalf("invites_migrations has %d rows, want %d", n, want)
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_migration_locks"); n != 0 {
			t.Fatalf("a migration lock was left behind (%d rows)", n)
		}
	})
}

// A Store built on the host's transaction writes in it: the host's
// rollback takes the invites and their outbox rows with it.
func TestStoreJoinsHostTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		outside := migrated(t, db)
		for _, commit := range []bool{false, true} {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			inside := bunstore.New(tx)
			res, err := inside.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: []invites.Invite{pendingInvite("acme", fmt.Sprintf("tx-%t@example.com", commit))}})
			if err != nil {
				tx.Rollback()
				t.Fatalf("Insert in the host's transaction: %v", err)
			}
			id := res[0].Invite.ID
			if _, err := inside.Get(ctx, invites.GetParams{TenantID: "acme", ID: id}); err != nil {
				tx.Rollback()
				t.Fatalf("Get inside the transaction: %v", err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = outside.Get(ctx, invites.GetParams{TenantID: "acme", ID: id})
			claims, cerr := outside.ClaimDeliveries(ctx, claimAt(t, base, 10, time.Minute))
			if cerr != nil {
				t.Fatal(cerr)
			}
			if commit && (err != nil || len(claims) != 1) {
				t.Fatalf("after the host committed: Get = %v, %d deliveries claimable; want the invite and its delivery", err, len(claims))
			}
			if !commit && (!errors.Is(err, invites.ErrNotFound) || len(claims) != 0) {
				t.Fatalf("after the host rolled back: Get = %v, %d deliveries claimable; want ErrNotFound and none", err, len(claims))
			}
		}
	})
}

// OnAccept writes the host's membership row through
// bunstore.TxFromContext: it commits with the accept, and a failing hook
// takes both back.
func TestOnAcceptWritesInTheAcceptTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		store := migrated(t, db)
		if _, err := db.ExecContext(ctx, "CREATE TABLE members (tenant_id TEXT, user_id TEXT, role TEXT)"); err != nil {
			t.Fatal(err)
		}
		if _, ok := bunstore.TxFromContext(ctx); ok {
			t.Fatal("TxFromContext reports a transaction outside any hook")
		}
		hostErr := errors.New("host refuses")
		failFor := "bob@example.com"
		mail := mailertest.New()
		svc, err := invites.New(store, mail, invites.Config{
			Tokens:    token.Issuer{},
			AcceptURL: func(t invites.Token) string { return "https://app.test/accept#" + t.Reveal() },
			OnAccept: func(ctx context.Context, inv invites.Invite) error {
				tx, ok := bunstore.TxFromContext(ctx)
				if !ok {
					return errors.New("no transaction in the hook's context")
				}
				for _, role := range inv.Roles {
					if _, err := tx.ExecContext(ctx, "INSERT INTO members VALUES (?, ?, ?)", inv.TenantID, inv.AcceptedByUserID, role); err != nil {
						return err
					}
				}
				if inv.Email == failFor {
					return hostErr
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		actor := invites.Actor{UserID: "admin", TenantID: "acme", Roles: []string{"member", "admin"}}
		sent, err := svc.Send(ctx, actor, []invites.NewInvite{{Email: "ann@example.com"}, {Email: failFor, Roles: []string{"member"}}})
		if err != nil || len(sent.Success) != 2 {
			t.Fatalf("Send: %v, %+v", err, sent)
		}
		if _, err := svc.DeliverPending(ctx); err != nil {
			t.Fatal(err)
		}

		if _, err := svc.Accept(ctx, mail.TokenFor("ann@example.com"), invites.Acceptor{UserID: "u-ann"}); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if n := countRows(t, db, "SELECT count(*) FROM members WHERE user_id = 'u-ann'"); n != 2 {
			t.Fatalf("ann has %d membership rows after accepting, want 2 (member, admin)", n)
		}

		_, err = svc.Accept(ctx, mail.TokenFor(failFor), invites.Acceptor{UserID: "u-bob"})
		if !errors.Is(err, hostErr) {
			t.Fatalf("Accept with a failing hook: %v, want the hook's error", err)
		}
		if n := countRows(t, db, "SELECT count(*) FROM members WHERE user_id = 'u-bob'"); n != 0 {
			t.Fatalf("bob has %d membership rows after his hook failed, want 0", n)
		}
		if inv, err := svc.Get(ctx, actor, sent.Success[1].ID); err != nil || inv.Status != invites.StatusPending {
			t.Fatalf("bob's invite after the hook failed: %v, %v; want pending", inv.Status, err)
		}
	})
}

// statementCounter counts the statements a database runs.
type statementCounter struct {
	mu    sync.Mutex
	stmts []string
}

func (c *statementCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (c *statementCounter) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := e.Query
	if len(q) > 40 {
		q = q[:40]
	}
	c.stmts = append(c.stmts, q)
}

func (c *statementCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stmts
	c.stmts = nil
	return s
}

// traceCounter is statementCounter at the driver, where it sees the
// statements the Store runs prepared, which bypass bun's hooks.
type traceCounter struct{ statementCounter }

func (c *traceCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.AfterQuery(ctx, &bun.QueryEvent{Query: d.SQL})
	return ctx
}

func (c *traceCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// counted returns db, migrated, with a counter of the statements run on
// it: through bun's hook on SQLite, and on PostgreSQL through pgx's
// tracer, on a pool of its own.
func counted(t *testing.T, db *bun.DB) (*bun.DB, *statementCounter) {
	migrated(t, db)
	if db.Dialect().Name() != dialect.PG {
		c := &statementCounter{}
		return db.WithQueryHook(c), c
	}
	var schema string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	dsn, err := testdb.WithParams(testdb.SchemaDSN(t, schema), "default_query_exec_mode", "simple_protocol")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c := &traceCounter{}
	cfg.Tracer = c
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(4)
	sqldb.SetMaxIdleConns(4)
	t.Cleanup(func() { sqldb.Close() })
	return bun.NewDB(sqldb, pgdialect.New()), &c.statementCounter
}

// Insert runs as many statements for 1,000 invites as for one: no round
// trip per row.
func TestInsertStatementsDoNotGrowWithTheBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		db, c := counted(t, db)
		store := bunstore.New(db)
		counts := map[int]int{}
		for _, n := range []int{1, 1000} {
			c.take()
			res, err := store.Insert(t.Context(), invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch(fmt.Sprintf("tenant-%d", n), n)})
			if err != nil || len(res) != n {
				t.Fatalf("Insert(%d): %v", n, err)
			}
			stmts := c.take()
			counts[n] = len(stmts)
			t.Logf("Insert(%d) ran %d statements: %q", n, len(stmts), stmts)
		}
		// At most 7: on SQLite BEGIN, the expiry, the invites, events,
		// deliveries, the ledger's sends, COMMIT. Fewer than 3: the hook
		// saw nothing.
		if counts[1] != counts[1000] || counts[1] > 7 || counts[1] < 3 {
			t.Fatalf("Insert ran %d statements for 1 invite and %d for 1,000; want the same few", counts[1], counts[1000])
		}
	})
}

// A join on PostgreSQL takes the link's lock with its first statement
// after BEGIN, the one that uses the link, so the lock is held for the
// host's OnJoin statement and the commit: as few round trips as a join
// written on pgx alone (BenchmarkJoinByLink).
func TestJoinStatements(t *testing.T) {
	db, c := counted(t, testdb.Postgres(t))
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, "CREATE TABLE members (tenant_id text, user_id text)"); err != nil {
		t.Fatal(err)
	}
	svc, err := invites.New(bunstore.New(db), mailertest.New(), invites.Config{
		Tokens: token.Issuer{}, AcceptURL: func(tok invites.Token) string { return tok.Reveal() },
		OnJoin: func(ctx context.Context, l invites.Link, j invites.Joiner) error {
			tx, _ := bunstore.TxFromContext(ctx)
			_, err := tx.ExecContext(ctx, "INSERT INTO members (tenant_id, user_id) VALUES (?, ?)", l.TenantID, j.UserID)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	made, err := svc.CreateLink(ctx, invites.Actor{TenantID: "acme", UserID: "admin"}, invites.LinkSpec{MaxUses: 5, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"ann", "bob"} { // ann's join prepares the statement
		c.take()
		if _, err := svc.JoinByLink(ctx, made.Token.Reveal(), invites.Joiner{UserID: user}); err != nil {
			t.Fatal(err)
		}
	}
	stmts := c.take()
	if len(stmts) != 4 || stmts[0] != "begin" || !strings.HasPrefix(stmts[1], "WITH u AS (UPDATE invites_links") ||
		stmts[2] != "INSERT INTO members (tenant_id, user_id)" || stmts[3] != "commit" {
		t.Fatalf("a join ran %q; want begin, the UPDATE of the link's uses, OnJoin's statement, commit", stmts)
	}
}

// Two workers, each on its own pool of connections, claim side by side:
// every delivery goes to exactly one of them.
func TestClaimAcrossConnections(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		store := migrated(t, db)
		const n = 300
		if _, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("acme", n)}); err != nil {
			t.Fatal(err)
		}
		other := reopen(t, db)
		var (
			mu  sync.Mutex
			got []uuid.UUID
			wg  sync.WaitGroup
		)
		for _, s := range []*bunstore.Store{store, bunstore.New(other), store, bunstore.New(other)} {
			wg.Go(func() {
				for {
					ds, err := s.ClaimDeliveries(ctx, claimAt(t, base, 7, time.Hour))
					if err != nil {
						t.Errorf("ClaimDeliveries: %v", err)
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					for _, d := range ds {
						got = append(got, d.ID)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.SortFunc(got, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		if len(got) != n || len(slices.Compact(got)) != n {
			t.Fatalf("workers claimed %d deliveries, %d distinct; want each of %d exactly once", len(got), len(slices.Compact(got)), n)
		}
	})
}

// claimAt is a claim of up to limit deliveries at now, with a fresh token
// digest for each.
func claimAt(t *testing.T, now time.Time, limit int, lease time.Duration) invites.ClaimParams {
	t.Helper()
	p := invites.ClaimParams{Now: now, Limit: limit, Lease: lease, ExpiresAt: now.Add(time.Hour)}
	for range limit {
		_, digest, err := token.Issuer{}.New()
		if err != nil {
			t.Fatal(err)
		}
		p.Digests = append(p.Digests, digest)
	}
	return p
}

// reopen opens a second pool on the database of db.
func reopen(t *testing.T, db *bun.DB) *bun.DB {
	t.Helper()
	if db.Dialect().Name().String() == "sqlite" {
		var file string
		if err := db.QueryRowContext(t.Context(), "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
			t.Fatal(err)
		}
		return testdb.SQLiteAt(t, file)
	}
	return testdb.PostgresSchema(t, testdb.Schema(t, db))
}

// Text that SQL or JSON quoting could mangle comes back as it went in:
// bun inlines every value, and a batch reaches PostgreSQL as JSON.
func TestAwkwardTextRoundTrips(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		store := migrated(t, db)
		ctx := t.Context()
		inv := pendingInvite("ten'ant\\", "o'neil@example.com")
		inv.FirstName = `Zoë "Q" O'Neil \ back\slash`
		inv.LastName = "tab\there, newline\nthere, ünïcödé 🎉, percent % under_score ? ?name $1"
		inv.Data = json.RawMessage(`{"quote":"a\"b","backslash":"c\\d","nl":"e\nf","emoji":"🎉","q":"?"}`)
		inv.Roles = []string{`ro"le`, `back\slash`, "o'role"}
		res, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: []invites.Invite{inv}})
		if err != nil || res[0].Existing != uuid.Nil {
			t.Fatalf("Insert: %v %+v", err, res)
		}
		got, err := store.Get(ctx, invites.GetParams{TenantID: inv.TenantID, ID: res[0].Invite.ID})
		if err != nil {
			t.Fatal(err)
		}
		var want, have any
		if err := json.Unmarshal(inv.Data, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got.Data, &have); err != nil {
			t.Fatalf("stored data is not JSON: %v: %s", err, got.Data)
		}
		if got.TenantID != inv.TenantID || got.FirstName != inv.FirstName || got.LastName != inv.LastName ||
			!slices.Equal(got.Roles, inv.Roles) || !reflect.DeepEqual(have, want) {
			t.Fatalf("round trip changed the invite:\n got  %q %q %q %q %s\n want %q %q %q %q %s",
				got.TenantID, got.FirstName, got.LastName, got.Roles, got.Data,
				inv.TenantID, inv.FirstName, inv.LastName, inv.Roles, inv.Data)
		}
		page, total, err := store.List(ctx, invites.ListParams{TenantID: inv.TenantID, Now: base,
			Search: `"Q" O'Neil \ back`, Limit: 5})
		if err != nil || total != 1 || len(page) != 1 {
			t.Fatalf("searching the awkward name: %v, total %d", err, total)
		}
	})
}

// TestMain says once, even without -v, when the PostgreSQL tests skip.
func TestMain(m *testing.M) { testdb.Main(m, testdb.PostgresSkipped()) }
