package bunstore_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
)

// tableScans are a table's scan counters in pg_stat_user_tables.
type tableScans struct{ seq, seqRows, idx int64 }

// scans reads the scan counters of freshTables once every backend of
// pools (db among them) has published its own: a backend that goes idle
// within a second of its last report publishes 10 seconds later
// (PGSTAT_IDLE_INTERVAL). pg_stat_force_next_flush (PostgreSQL 15 on) has
// it publish as it goes idle, before its reply: so it runs on every
// connection of each pool, all held at once. Behind a pooler, whose
// server connections a client cannot pick, or before 15, it waits out
// those 10 seconds instead.
func scans(t *testing.T, db *bun.DB, pools ...*bun.DB) map[string]tableScans {
	t.Helper()
	ctx := t.Context()
	var version int
	if err := db.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 150000 || os.Getenv(testdb.EnvPooled) != "" {
		time.Sleep(11 * time.Second)
	} else {
		for _, p := range append(pools, db) {
			n := p.Stats().MaxOpenConnections
			if n == 0 {
				t.Fatal("scans: a pool without SetMaxOpenConns: its connections cannot all be held")
			}
			var held []bun.Conn
			for range n {
				c, err := p.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
				if _, err := c.ExecContext(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range held {
				c.Close()
			}
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0)
		FROM pg_stat_user_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]tableScans{}
	for rows.Next() {
		var (
			name string
			s    tableScans
		)
		if err := rows.Scan(&name, &s.seq, &s.seqRows, &s.idx); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(freshTables, name) {
			out[name] = s
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The worker's polling passes (deliveries, expiry, retention, events) of
// a Service whose outbox is empty scan no table whole on tables of
// 100,000 rows and more that were never analyzed, on the very
// connections that ran them while the tables were nearly empty: a
// prepared statement's generic plan, made then, is kept while the table
// grows, and nothing but ANALYZE (or DDL) makes PostgreSQL plan it anew.
// So its idle work does not grow with the tables. The log (go test -v)
// has the index scans and rows read per pass.
func TestIdlePollingScansNoTable(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := t.Context()
	if err := bunstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	noAutovacuum(t, db)
	// The Service's own pool, kept small so its few connections each run
	// every statement often enough to cache a generic plan of it.
	pool := testdb.PostgresSchema(t, testdb.Schema(t, db))
	pool.SetMaxOpenConns(2)
	pool.SetMaxIdleConns(2)
	// Retention longer than the seeded month, so the idle passes find
	// nothing to prune.
	svc, _ := freshService(t, bunstore.New(pool), 60*24*time.Hour)
	actor := invites.Actor{UserID: "admin", TenantID: "t1", Roles: []string{"member"}}
	// pass is one pass of Run's, and reports whether it did anything.
	pass := func() bool {
		t.Helper()
		sent, err := svc.DeliverPending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		expired, err := svc.ExpireDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pruned, err := svc.Prune(ctx)
		if err != nil {
			t.Fatal(err)
		}
		told, err := svc.DispatchEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sent+expired+told+pruned.Invites+pruned.Events > 0
	}
	// A few sends and many passes on the nearly empty tables.
	for i := range 20 {
		if _, err := svc.Send(ctx, actor, []invites.NewInvite{{Email: fmt.Sprintf("early%d@example.com", i)}}); err != nil {
			t.Fatal(err)
		}
		pass()
	}
	for range 20 {
		pass()
	}
	seedFresh(ctx, t, db, 0)
	// The seeded invites past their expiry are expired, and their events
	// told: then the outbox is empty.
	for pass() {
	}
	before := scans(t, db, pool)
	const passes = 20
	for range passes {
		if pass() {
			t.Fatal("an idle pass did work")
		}
	}
	after := scans(t, db, pool)
	for _, table := range freshTables {
		b, a := before[table], after[table]
		t.Logf("%s: per pass %.1f index scans, %.1f sequential scans reading %.0f rows",
			table, float64(a.idx-b.idx)/passes, float64(a.seq-b.seq)/passes, float64(a.seqRows-b.seqRows)/passes)
		if a.seq != b.seq {
			t.Errorf("%d idle passes scanned %s whole %d times, reading %d rows", passes, table, a.seq-b.seq, a.seqRows-b.seqRows)
		}
	}
	neverAnalyzed(t, db)
}
