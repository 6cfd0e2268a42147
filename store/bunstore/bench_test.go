package bunstore_test

// Benchmarks on PostgreSQL, each against raw pgx doing the same SQL work on
// the same schema in the same run. Ours and raw run turn about within each
// iteration, so both see the same machine; the ratio is reported as the
// ours/raw metric. Run:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench . -benchtime 20x ./store/bunstore/

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
)

// rawPool opens pgx on the schema of db, as a host using pgx alone would.
func rawPool(b *testing.B, db *bun.DB) *pgxpool.Pool {
	b.Helper()
	var schema string
	if err := db.QueryRowContext(b.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		b.Fatal(err)
	}
	dsn, err := testdb.WithParams(testdb.PostgresDSN(b), "search_path", schema)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

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

func rawExpire(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	var q strings.Builder
	args := []any{now}
	q.WriteString(`UPDATE invites SET status = 'expired', status_updated_at = $1, updated_at = $1
		WHERE status = 'pending' AND expires_at <= $1 AND (tenant_id, email_norm) IN (VALUES `)
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "($%d, $%d)", len(args)+1, len(args)+2)
		args = append(args, r.TenantID, r.EmailNorm())
	}
	q.WriteString(")")
	_, err := tx.Exec(ctx, q.String(), args...)
	return err
}

// rawAddressLimit takes the address locks of rows and counts each
// address's sends of the last day, as Insert does under an address limit.
func rawAddressLimit(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	js, err := addressJSON(rows)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT
		hashtextextended('invites.address:' || length(r->>0) || ':' || (r->>0) || ':' || (r->>1), 0) AS h
		FROM jsonb_array_elements($1::jsonb) AS r ORDER BY h OFFSET 0) AS s`, string(js)); err != nil {
		return err
	}
	res, err := tx.Query(ctx, `SELECT k.t, k.n, (SELECT count(*) FROM invites AS i
			JOIN invites_events AS e ON e.invite_id = i.id
			WHERE i.tenant_id = k.t AND i.email_norm = k.n AND e.type IN ('created', 'resent') AND e.at > $2)
		FROM (SELECT r->>0 AS t, (r->>1) COLLATE "C" AS n FROM jsonb_array_elements($1::jsonb) AS r) AS k`,
		string(js), now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	counts := map[[2]string]int{}
	for res.Next() {
		var (
			k [2]string
			n int
		)
		if err := res.Scan(&k[0], &k[1], &n); err != nil {
			return err
		}
		counts[k] = n
	}
	return res.Err()
}

func rawExpireJSON(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	js, err := addressJSON(rows)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE invites SET status = 'expired', status_updated_at = $1, updated_at = $1
		WHERE status = 'pending' AND expires_at <= $1 AND (tenant_id, email_norm) IN
		(SELECT r->>0, (r->>1) COLLATE "C" FROM jsonb_array_elements($2::jsonb) AS r)`, now, string(js))
	return err
}

// rawOutbox writes the outbox rows and the created events of the CTE ins.
const rawOutbox = `outbox AS (INSERT INTO invites_deliveries (id, invite_id, tenant_id, kind, state, attempt, due_at, created_at)
	SELECT latest_delivery_id, id, tenant_id, 'invitation', 'queued', 0, last_sent_at, last_sent_at FROM ins),
	events AS (INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at)
	SELECT id, tenant_id, 'created', created_by_user_id, last_sent_at, last_sent_at FROM ins)
	SELECT id FROM ins`

// collectAll reads the ids the insert returned and checks all were stored.
func collectAll(rows pgx.Rows, want int) error {
	stored, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	if len(stored) != want {
		return fmt.Errorf("stored %d of %d", len(stored), want)
	}
	return nil
}

func rawInsertJSON(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	type row struct {
		ID              uuid.UUID `json:"id"`
		TenantID        string    `json:"tenant_id"`
		Email           string    `json:"email"`
		EmailNorm       string    `json:"email_norm"`
		FirstName       string    `json:"first_name"`
		LastName        string    `json:"last_name"`
		FirstFold       string    `json:"first_name_fold"`
		LastFold        string    `json:"last_name_fold"`
		Locale          string    `json:"locale"`
		Data            *string   `json:"data"`
		Roles           []string  `json:"roles"`
		StatusUpdatedAt time.Time `json:"status_updated_at"`
		ExpiresAt       time.Time `json:"expires_at"`
		LastSentAt      time.Time `json:"last_sent_at"`
		LatestDelivery  uuid.UUID `json:"latest_delivery_id"`
		CreatedBy       string    `json:"created_by_user_id"`
		CreatedAt       time.Time `json:"created_at"`
		UpdatedAt       time.Time `json:"updated_at"`
	}
	batch := make([]row, len(rows))
	for i, r := range rows {
		batch[i] = row{r.ID, r.TenantID, r.Email, r.EmailNorm(), r.FirstName, r.LastName,
			strings.ToLower(r.FirstName), strings.ToLower(r.LastName), r.Locale, nil, r.Roles,
			r.StatusUpdatedAt, r.ExpiresAt, now, uuid.Must(uuid.NewV7()), r.CreatedByUserID, r.CreatedAt, r.UpdatedAt}
	}
	js, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	ids, err := tx.Query(ctx, `WITH ins AS (INSERT INTO invites (id, tenant_id, email, email_norm, first_name,
		last_name, first_name_fold, last_name_fold, locale, data, roles, status, status_updated_at, expires_at,
		send_count, last_sent_at, delivery_status, delivery_error, latest_delivery_id, created_by_user_id,
		created_at, updated_at)
		SELECT id, tenant_id, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
			locale, data, roles, 'pending', status_updated_at, expires_at, 1, last_sent_at, 'queued', '',
			latest_delivery_id, created_by_user_id, created_at, updated_at
		FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, tenant_id text, email text, email_norm text,
			first_name text, last_name text, first_name_fold text, last_name_fold text, locale text,
			data jsonb, roles jsonb, status_updated_at timestamptz, expires_at timestamptz,
			last_sent_at timestamptz, latest_delivery_id uuid, created_by_user_id text,
			created_at timestamptz, updated_at timestamptz)
		ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING
		RETURNING id, tenant_id, latest_delivery_id, last_sent_at, created_by_user_id), `+rawOutbox, string(js))
	if err != nil {
		return err
	}
	return collectAll(ids, len(rows))
}

func rawInsertValues(ctx context.Context, tx pgx.Tx, now time.Time, rows []invites.Invite) error {
	var q strings.Builder
	var args []any
	q.WriteString("WITH ins AS (INSERT INTO invites (id, tenant_id, email, email_norm, first_name, last_name, " +
		"first_name_fold, last_name_fold, locale, data, roles, status, status_updated_at, expires_at, send_count, " +
		"last_sent_at, delivery_status, delivery_error, latest_delivery_id, created_by_user_id, created_at, updated_at) VALUES ")
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		p := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, 'pending', $%d, $%d, 1, $%d, 'queued', '', $%d, $%d, $%d, $%d)",
			p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11, p+12, p+13, p+14, p+15, p+16, p+17, p+18)
		args = append(args, r.ID, r.TenantID, r.Email, r.EmailNorm(), r.FirstName, r.LastName,
			strings.ToLower(r.FirstName), strings.ToLower(r.LastName), r.Locale, nil, r.Roles,
			r.StatusUpdatedAt, r.ExpiresAt, now, uuid.Must(uuid.NewV7()), r.CreatedByUserID, r.CreatedAt, r.UpdatedAt)
	}
	q.WriteString(" ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING " +
		"RETURNING id, tenant_id, latest_delivery_id, last_sent_at, created_by_user_id), " + rawOutbox)
	ids, err := tx.Query(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	return collectAll(ids, len(rows))
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
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
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
		var (
			inv            invites.Invite
			status, dstat  string
			data, accepted *string
			roles          []string
		)
		err := pool.QueryRow(ctx, `WITH u AS (UPDATE invites
			SET status = $1, accepted_by_user_id = $2, status_updated_at = $3, updated_at = $3
			WHERE (id, latest_delivery_id) = (SELECT invite_id, delivery_id FROM invites_tokens WHERE digest = $4)
				AND status = 'pending' AND expires_at > $3
			RETURNING id, tenant_id, email, first_name, last_name, locale, data, roles, status, status_updated_at,
				expires_at, send_count, last_sent_at, delivery_status, delivery_error, created_by_user_id,
				accepted_by_user_id, created_at, updated_at),
			e AS (INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at)
				SELECT id, tenant_id, 'accepted', $2, $3, $3 FROM u)
			SELECT * FROM u`,
			"accepted", "user", now, digest(2*i+1)).Scan(&inv.ID, &inv.TenantID, &inv.Email, &inv.FirstName,
			&inv.LastName, &inv.Locale, &data, &roles, &status, &inv.StatusUpdatedAt, &inv.ExpiresAt, &inv.SendCount,
			&inv.LastSentAt, &dstat, &inv.DeliveryError, &inv.CreatedByUserID, &accepted, &inv.CreatedAt, &inv.UpdatedAt)
		if err != nil || status != "accepted" {
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

// addressJSON is the (tenant, address) pairs of rows as one JSON array.
func addressJSON(rows []invites.Invite) ([]byte, error) {
	keys := make([][2]string, len(rows))
	for i, r := range rows {
		keys[i] = [2]string{r.TenantID, r.EmailNorm()}
	}
	return json.Marshal(keys)
}
