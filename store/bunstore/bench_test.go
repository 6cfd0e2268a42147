package bunstore_test

// Benchmarks on PostgreSQL, each against raw pgx doing the same SQL work on
// the same schema in the same run. Ours and raw run turn about within each
// iteration, so both see the same machine; the ratio is reported as the
// ours/raw metric. Run:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench . -benchtime 20x ./store/bunstore/

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
	"github.com/jackc/pgx/v5"
)

// warmup is how many untimed rounds turns runs first: pools connect and
// pgx prepares its statements, and neither belongs in the figures.
const warmup = 10

// turns times ours and each raw in turn, b.N times after warmup untimed
// rounds (i counts both), and reports each one's time per op and the
// ratio of ours to the fastest raw.
func turns(b *testing.B, ours func(i int), raws map[string]func(i int)) {
	names := slices.Sorted(maps.Keys(raws))
	for i := range warmup {
		ours(i)
		for _, name := range names {
			raws[name](i)
		}
	}
	var o time.Duration
	r := make([]time.Duration, len(names))
	b.ResetTimer()
	for i := warmup; i < warmup+b.N; i++ {
		t := time.Now()
		ours(i)
		o += time.Since(t)
		for k, name := range names {
			t = time.Now()
			raws[name](i)
			r[k] += time.Since(t)
		}
	}
	b.ReportMetric(float64(o.Microseconds())/float64(b.N), "ours-µs/op")
	for k, name := range names {
		b.ReportMetric(float64(r[k].Microseconds())/float64(b.N), name+"-µs/op")
	}
	b.ReportMetric(float64(o)/float64(slices.Min(r)), "ours/raw")
}

// BenchmarkSendBatch stores 1,000 invites with their outbox rows under the
// Service's default address limit: ours is Store.Insert; raw is pgx doing
// the same in one transaction with bound parameters, written two ways, and
// the faster counts: raw-json runs Insert's statements (lock the addresses
// and count their sends of the day; expire the stale of a JSON list of
// addresses; insert from jsonb_to_recordset with ON CONFLICT DO NOTHING and
// the outbox rows from its RETURNING), raw-values the same with VALUES
// lists of parameters.
func BenchmarkSendBatch(b *testing.B) {
	const n = 1000
	db := testdb.Postgres(b)
	store := migrated(b, db)
	pool := rawPool(b, db)
	ctx := b.Context()
	now := base
	raw := func(name string, expire, insert func(pgx.Tx, []invites.Invite) error) func(int) {
		return func(i int) {
			rows := batch(fmt.Sprintf("%s-%d", name, i), n)
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if err := rawAddressLimit(ctx, tx, now, rows); err != nil {
					return err
				}
				if err := expire(tx, rows); err != nil {
					return err
				}
				return insert(tx, rows)
			})
			if err != nil {
				b.Fatalf("%s: %v", name, err)
			}
		}
	}
	turns(b, func(i int) {
		res, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: batch(fmt.Sprintf("ours-%d", i), n),
			Quota: invites.Quota{MaxSendsPerAddressPerDay: 10}})
		if err != nil || len(res) != n || res[n-1].Existing != uuid.Nil {
			b.Fatalf("Insert: %v", err)
		}
	}, map[string]func(int){
		"raw-json": raw("raw-json",
			func(tx pgx.Tx, rows []invites.Invite) error { return rawExpireJSON(ctx, tx, now, rows) },
			func(tx pgx.Tx, rows []invites.Invite) error { return rawInsertJSON(ctx, tx, now, rows) }),
		"raw-values": raw("raw-values",
			func(tx pgx.Tx, rows []invites.Invite) error { return rawExpire(ctx, tx, now, rows) },
			func(tx pgx.Tx, rows []invites.Invite) error { return rawInsertValues(ctx, tx, now, rows) }),
	})
}

// BenchmarkAccept accepts one invite by its token digest: ours is the
// Change of the Service's Accept (a change by rule, with no hook, as with
// Config.OnAccept unset) by the invite's latest token, raw is pgx running
// a hand-written conditional UPDATE ... RETURNING of the same effect, with
// its event, with bound parameters.
func BenchmarkAccept(b *testing.B) {
	db := testdb.Postgres(b)
	store := migrated(b, db)
	pool := rawPool(b, db)
	ctx := b.Context()
	// Two invites per iteration, one for each side, each with its latest
	// token's digest, as a claim leaves them.
	if _, err := db.ExecContext(ctx, `WITH ins AS (INSERT INTO invites (id, tenant_id, email, email_norm, locale,
		status, status_updated_at, expires_at, send_count, last_sent_at, delivery_status, latest_delivery_id,
		created_by_user_id, created_at, updated_at)
		SELECT gen_random_uuid(), 'acme', 'u' || g || '@x.com', 'u' || g || '@x.com', 'en', 'pending',
			now(), now() + interval '1 day', 1, now(), 'sent', gen_random_uuid(), 'admin', now(), now()
		FROM generate_series(0, ? - 1) AS g
		RETURNING id, latest_delivery_id, email)
		INSERT INTO invites_tokens (digest, invite_id, delivery_id)
		SELECT sha256(convert_to('tok' || split_part(substr(email, 2), '@', 1), 'UTF8')), id, latest_delivery_id FROM ins`,
		2*(warmup+b.N)); err != nil {
		b.Fatal(err)
	}
	if err := testdb.Analyze(ctx, db); err != nil {
		b.Fatal(err)
	}
	digest := func(g int) []byte {
		d := sha256.Sum256(fmt.Appendf(nil, "tok%d", g))
		return d[:]
	}
	now := time.Now()
	turns(b, func(i int) {
		inv, err := store.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, Digest: digest(2 * i), ActorID: "user",
			From: []invites.Status{invites.StatusPending}, Live: true,
			Edit: invites.Edit{Status: invites.StatusAccepted, AcceptedByUserID: "user", Event: invites.EventAccepted}})
		if err != nil || inv.Status != invites.StatusAccepted {
			b.Fatalf("Accept: %v", err)
		}
	}, map[string]func(int){"raw": func(i int) {
		if err := rawAccept(ctx, pool, now, digest(2*i+1)); err != nil {
			b.Fatalf("raw accept: %v", err)
		}
	}})
}

// The list benchmarks share one table of 1,000,000 invites: 10,000 tenants
// of 98 and one of 20,000 (deep enough for page 500), kept between runs in
// the schema invites_bench_list since filling it takes a while.
const (
	listSchema  = "invites_bench_list"
	listTenants = 10000
	listPer     = 98
	bigTenant   = "big"
	bigCount    = 20000
)

func listService(b *testing.B) *invites.Service {
	b.Helper()
	ctx := b.Context()
	admin := testdb.PostgresSchema(b, "public")
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+listSchema); err != nil {
		b.Fatal(err)
	}
	db := testdb.PostgresSchema(b, listSchema)
	store := migrated(b, db)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM invites").Scan(&n); err != nil {
		b.Fatal(err)
	}
	if want := listTenants*listPer + bigCount; n != want {
		b.Logf("filling %s with %d invites (kept for later runs)", listSchema, want)
		if _, err := db.ExecContext(ctx, "TRUNCATE invites CASCADE"); err != nil {
			b.Fatal(err)
		}
		if err := seedTenants(ctx, db, "tenant-", listTenants, listPer); err != nil {
			b.Fatal(err)
		}
		if err := seedTenants(ctx, db, bigTenant, 1, bigCount); err != nil {
			b.Fatal(err)
		}
	}
	svc, err := invites.New(store, mailertest.New(), invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(invites.Token) string { return "" },
		Now:       func() time.Time { return time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// median reports the median and 90th percentile of ds in ms.
func median(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(ds[len(ds)*9/10].Microseconds())/1000, "p90-ms")
}

// BenchmarkListPage lists one page of 20 pending invites matching a search
// term, of a random tenant, through the Service.
func BenchmarkListPage(b *testing.B) {
	svc := listService(b)
	ctx := b.Context()
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		actor := invites.Actor{UserID: "admin", TenantID: fmt.Sprintf("tenant-%d", rand.IntN(listTenants))}
		t := time.Now()
		page, err := svc.List(ctx, actor, invites.Query{Statuses: []invites.Status{invites.StatusPending}, Search: "user1", Limit: 20})
		ds = append(ds, time.Since(t))
		if err != nil || page.TotalCount == 0 {
			b.Fatalf("List: %v (total %d)", err, page.TotalCount)
		}
	}
	median(b, ds)
}

// BenchmarkListDeepCursor lists page 500 of the big tenant by its cursor
// and page 1, in turn: a keyset cursor seeks instead of counting past the
// rows before it, so the two cost about the same.
func BenchmarkListDeepCursor(b *testing.B) {
	svc := listService(b)
	ctx := b.Context()
	actor := invites.Actor{UserID: "admin", TenantID: bigTenant + "0"}
	q := invites.Query{Limit: 20}
	var p500 invites.Query
	for page := 1; page < 500; page++ {
		p, err := svc.List(ctx, actor, q)
		if err != nil || p.NextCursor == "" {
			b.Fatalf("walking to page 500, page %d: %v", page, err)
		}
		q.Cursor = p.NextCursor
	}
	p500 = q
	var first, deep []time.Duration
	b.ResetTimer()
	for range b.N {
		for _, c := range []struct {
			q  invites.Query
			ds *[]time.Duration
		}{{invites.Query{Limit: 20}, &first}, {p500, &deep}} {
			t := time.Now()
			p, err := svc.List(ctx, actor, c.q)
			*c.ds = append(*c.ds, time.Since(t))
			if err != nil || len(p.Invites) != 20 {
				b.Fatalf("List: %v", err)
			}
		}
	}
	slices.Sort(first)
	slices.Sort(deep)
	m1, m500 := first[len(first)/2], deep[len(deep)/2]
	b.ReportMetric(float64(m1.Microseconds())/1000, "page1-median-ms")
	b.ReportMetric(float64(m500.Microseconds())/1000, "page500-median-ms")
	b.ReportMetric(float64(m500)/float64(m1), "page500/page1")
}
