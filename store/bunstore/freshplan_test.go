package bunstore_test

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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
	"github.com/uptrace/bun"
)

// freshRows is how many invites seedFresh loads: each with a delivery, a
// token and events, so every table holds 100,000 rows or more.
const freshRows = 100_000

// freshNow is the clock of the Service of the fresh-table tests: the
// last seeded invite was created 20 seconds before it.
var freshNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// seedFresh loads, into freshly migrated tables that are never analyzed
// (autovacuum off on each, whatever the server's setting), freshRows
// invites of 100 tenants as a Service that has run for a month leaves
// them, one every 20 seconds: most ended, every fiftieth pending (most of
// those past their expiry), and the last queued pending with their first
// delivery queued and their EventCreated unhandled; every other invite
// has its delivery sent, its token, and its EventCreated and EventSent
// handled, and its send in the ledger. The address of invite g is
// userg@example.com.
func seedFresh(ctx context.Context, t *testing.T, db bun.IDB, queued int) {
	t.Helper()
	noAutovacuum(t, db)
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`CREATE TEMP TABLE fresh_seed ON COMMIT DROP AS SELECT g, md5('i' || g)::uuid AS id, md5('d' || g)::uuid AS did,
				't' || g % 100 AS tenant, 'user' || g || '@example.com' AS email,
				timestamptz '2030-06-01 12:00:00+00' - (?0 - g) * interval '20 seconds' AS c,
				g >= ?0 - ?1 AS queued,
				CASE WHEN g >= ?0 - ?1 OR g % 50 = 0 THEN 'pending'
					ELSE (ARRAY['accepted', 'declined', 'canceled', 'expired'])[1 + g % 4] END AS st
				FROM generate_series(0, ?0 - 1) AS g`,
			`INSERT INTO invites (id, tenant_id, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
				locale, roles, status, status_updated_at, expires_at, send_count, last_sent_at, delivery_status,
				latest_delivery_id, created_by_user_id, accepted_by_user_id, created_at, updated_at)
				SELECT id, tenant, email, email, 'First' || g % 5000, 'Last' || g % 1000, 'first' || g % 5000, 'last' || g % 1000,
					'en-US', '["member"]', st, CASE WHEN st = 'pending' THEN c ELSE c + interval '1 hour' END,
					c + interval '7 days', 1, c, CASE WHEN queued THEN 'queued' ELSE 'sent' END,
					did, 'inviter' || g % 7, CASE WHEN st = 'accepted' THEN 'u' || g END, c,
					CASE WHEN st = 'pending' THEN c ELSE c + interval '1 hour' END
				FROM fresh_seed`,
			`INSERT INTO invites_deliveries (id, invite_id, tenant_id, kind, state, attempt, due_at, created_at)
				SELECT did, id, tenant, 'invitation', CASE WHEN queued THEN 'queued' ELSE 'sent' END,
					CASE WHEN queued THEN 0 ELSE 1 END, c, c
				FROM fresh_seed`,
			`INSERT INTO invites_tokens (digest, invite_id, delivery_id)
				SELECT sha256(CAST('tok' || g AS bytea)), id, did FROM fresh_seed WHERE NOT queued`,
			`INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at, handled)
				SELECT id, tenant, 'created', 'inviter' || g % 7, c, c, NOT queued FROM fresh_seed
				UNION ALL
				SELECT id, tenant, 'sent', '', c + interval '1 second', c + interval '1 second', TRUE FROM fresh_seed WHERE NOT queued`,
			// The send ledger: each invite's first send, its address keyed as
			// ledgerKey keys it.
			`INSERT INTO invites_sends (tenant_id, actor_id, address, at)
				SELECT tenant, 'inviter' || g % 7, ` + seedKey("invites.ledger.v1") + `, c
				FROM fresh_seed`,
			// The suppression list: a third of the older half's addresses,
			// every other one for all tenants.
			`INSERT INTO invites_suppressions (address, tenant_id, all_tenants, reason, invite_id, at)
				SELECT ` + seedKey("invites.suppression.v1") + `, tenant, g % 6 = 1, 'hard bounce: seeded', id, c
				FROM fresh_seed WHERE g % 3 = 1 AND g < ?0 / 2`,
			`UPDATE invites_counts SET n = (SELECT count(*) FROM fresh_seed WHERE g % 3 = 1 AND g < ?0 / 2)
				WHERE name = 'suppressions'`,
		} {
			if _, err := tx.ExecContext(ctx, q, freshRows, queued); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	neverAnalyzed(t, db)
}

// seedKey is the SQL of the key of a seeded address (email) in domain, as
// the Service keys it under the zero secret (see ledgerKey): HMAC-SHA256
// spelled out with sha256, the key XORed with ipad and opad being 64
// bytes of 0x36 and of 0x5c.
func seedKey(domain string) string {
	return `substring(sha256(decode(repeat('5c', 64), 'hex') ||
		sha256(decode(repeat('36', 64), 'hex') || convert_to('` + domain + `', 'UTF8') || '\x00'::bytea ||
		convert_to(email, 'UTF8'))) FROM 1 FOR 16)`
}

// noAutovacuum turns autovacuum, and so its ANALYZE, off on the invites
// tables, whatever the server's setting.
func noAutovacuum(t *testing.T, db bun.IDB) {
	t.Helper()
	if err := testdb.NoAutovacuum(t.Context(), db); err != nil {
		t.Fatal(err)
	}
}

// neverAnalyzed fails unless the invites tables have no statistics.
func neverAnalyzed(t *testing.T, db bun.IDB) {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT (SELECT count(*) FROM pg_stats
			WHERE schemaname = current_schema() AND tablename LIKE 'invites%')
		+ (SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = current_schema()
			AND relname LIKE 'invites%' AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL))`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the invites tables have been analyzed (%d statistics)", n)
	}
}

// sqlLog keeps every statement the Store runs, as its WithQueryHook sees
// them: the prepared ones with their numbered template and values.
type sqlLog struct {
	mu     sync.Mutex
	events []bun.QueryEvent
}

func (l *sqlLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (l *sqlLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, bun.QueryEvent{Query: e.Query, QueryTemplate: e.QueryTemplate, QueryArgs: e.QueryArgs})
}

func (l *sqlLog) take() []bun.QueryEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// freshTables are the tables no statement of the Store may scan whole.
var freshTables = []string{"invites", "invites_deliveries", "invites_tokens", "invites_events", "invites_sends",
	"invites_links", "invites_link_uses", "invites_suppressions"}

// numberedArg is a numbered placeholder of a template (?0, ?1, ...).
var numberedArg = regexp.MustCompile(`\?(\d+)`)

// freshPlans EXPLAINs the statement of e as the Store sent it, with its
// values: formatted with them, as the Store sends an unprepared one; and,
// when its template has numbered placeholders (so it runs prepared),
// also as the generic plan PostgreSQL may cache for it after five runs.
// It fails if either plan scans one of freshTables whole, and returns
// the indexes they read.
func freshPlans(t *testing.T, db *bun.DB, conn *bun.Conn, n int, e bun.QueryEvent) []string {
	t.Helper()
	q := e.Query
	numbered := strings.Contains(e.QueryTemplate, "?0")
	if numbered {
		q = db.QueryGen().FormatQuery(e.QueryTemplate, e.QueryArgs...)
	}
	indexes := scanFree(t, conn, q, "EXPLAIN (FORMAT JSON) "+q)
	if !numbered {
		return indexes
	}
	lits := make([]string, len(e.QueryArgs))
	for i, a := range e.QueryArgs {
		lits[i] = db.QueryGen().FormatQuery("?", a)
	}
	name := fmt.Sprintf("fresh_%d", n)
	dollars := numberedArg.ReplaceAllStringFunc(e.QueryTemplate, func(m string) string {
		var i int
		fmt.Sscan(m[1:], &i)
		return fmt.Sprintf("$%d", i+1)
	})
	if _, err := conn.ExecContext(t.Context(), "PREPARE "+name+" AS "+dollars); err != nil {
		t.Fatalf("PREPARE %s: %v", dollars, err)
	}
	defer conn.ExecContext(t.Context(), "DEALLOCATE "+name)
	return append(indexes, scanFree(t, conn, "generic plan of "+dollars,
		"EXPLAIN (FORMAT JSON) EXECUTE "+name+"("+strings.Join(lits, ", ")+")")...)
}

// scanFree runs explain, an EXPLAIN (FORMAT JSON) of what, and fails if
// the plan scans one of freshTables whole.
func scanFree(t *testing.T, conn *bun.Conn, what, explain string) []string {
	t.Helper()
	var js string
	if err := conn.Conn.QueryRowContext(t.Context(), explain).Scan(&js); err != nil {
		t.Fatalf("%s: %v", explain, err)
	}
	var plan []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(js), &plan); err != nil || len(plan) != 1 {
		t.Fatalf("EXPLAIN output: %v", err)
	}
	var nodes []map[string]any
	planNodes(plan[0].Plan, &nodes)
	var indexes []string
	for _, n := range nodes {
		rel, _ := n["Relation Name"].(string)
		if strings.HasPrefix(n["Node Type"].(string), "Seq Scan") && slices.Contains(freshTables, rel) {
			t.Errorf("on never-analyzed tables, the plan of\n%.400s\nscans the whole table %s:\n%.3000s", what, rel, js)
		}
		if name, ok := n["Index Name"].(string); ok {
			indexes = append(indexes, name)
		}
	}
	return indexes
}

// freshService is a Service on store over tables seeded by seedFresh,
// with every quota on, retention set (which prunes most seeded invites),
// and events told.
func freshService(t *testing.T, store invites.Store, retention time.Duration) (*invites.Service, *mailertest.Mailer) {
	t.Helper()
	mail := mailertest.New()
	svc, err := invites.New(store, mail, invites.Config{
		Tokens:                    token.Issuer{},
		AcceptURL:                 func(tok invites.Token) string { return "/accept?token=" + tok.Reveal() },
		MaxPendingPerTenant:       1_000_000,
		MaxSendsPerInviterPerHour: 1_000_000,
		Retention:                 retention,
		EventRetention:            retention,
		OnEvent:                   func(context.Context, invites.Event) error { return nil },
		Now:                       func() time.Time { return freshNow },
		// The zero secret, under which seedFresh keyed the ledger and the
		// suppressions.
		LedgerSecret: make([]byte, invites.MinLedgerSecret),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, mail
}

// freshID is the id of seeded invite g, as seedFresh makes it.
func freshID(g int) uuid.UUID { return uuid.UUID(md5.Sum([]byte("i" + strconv.Itoa(g)))) }

// freshAddress is the address of seeded invite g.
func freshAddress(g int) string { return "user" + strconv.Itoa(g) + "@example.com" }

// Every statement the Store sends on the Service's hot paths and in its
// polling uses an index on tables of 100,000 rows and more that were
// never analyzed, as after a bulk load on a server whose autovacuum is
// off or lags: the plan is the statement's, not the statistics'. Each
// statement is EXPLAINed as the Store sent it, captured by its query
// hook, with its values, and, if it runs prepared, also as its generic
// plan. A new statement of the Store joins by a case here (must names
// a fragment of its text, so the case fails if it no longer runs).
func TestPlansWithoutStatistics(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := t.Context()
	if err := bunstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	seedFresh(ctx, t, db, 300)
	log := &sqlLog{}
	store := bunstore.New(db, bunstore.WithQueryHook(log))
	svc, mail := freshService(t, store, 7*24*time.Hour)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	tenant := func(g int) invites.Actor {
		return invites.Actor{UserID: "inviter" + strconv.Itoa(g%7), TenantID: "t" + strconv.Itoa(g%100), Roles: []string{"member"}}
	}
	oldestQueued := freshRows - 300 // claimed first
	batch := make([]invites.NewInvite, 50)
	for i := range batch {
		batch[i] = invites.NewInvite{Email: fmt.Sprintf("batch%d@example.com", i)}
	}
	var explained int
	for _, c := range []struct {
		name string
		run  func() error
		// must are fragments of statements the case must send.
		must []string
	}{
		{"send one", func() error {
			res, err := svc.Send(ctx, tenant(1), []invites.NewInvite{{Email: "new@example.com"}})
			if err == nil && len(res.Success) != 1 {
				err = fmt.Errorf("Send: %+v", res)
			}
			return err
		}, []string{"pg_advisory_xact_lock(h)", "UPDATE invites SET status = 'expired'", "FROM invites_sends AS s",
			"status = 'pending' AND expires_at > ", "actor_id = ", "jsonb_to_recordset"}},
		{"send a batch", func() error {
			res, err := svc.Send(ctx, tenant(2), batch)
			if err == nil && len(res.Success) != len(batch) {
				err = fmt.Errorf("Send: %+v", res)
			}
			return err
		}, []string{"unnest(CAST(", "UPDATE invites SET status = 'expired'", "FROM invites_sends AS s", "jsonb_to_recordset"}},
		{"insert over the address limit", func() error {
			// 300 addresses of ended invites, each sent to within the day.
			var over []invites.Invite
			for g := freshRows - 700; len(over) < 300; g++ {
				if g%50 == 0 {
					continue // pending
				}
				inv := pendingInvite(tenant(g).TenantID, freshAddress(g))
				inv.CreatedAt, inv.UpdatedAt, inv.StatusUpdatedAt, inv.LastSentAt = freshNow, freshNow, freshNow, freshNow
				inv.ExpiresAt = freshNow.Add(24 * time.Hour)
				over = append(over, inv)
			}
			res, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: freshNow, Invites: over,
				Quota: invites.Quota{MaxSendsPerAddressPerDay: 1}})
			if err == nil && !res[0].AddressLimited {
				err = fmt.Errorf("Insert over the address limit: %+v", res[0])
			}
			return err
		}, []string{"DELETE FROM invites_deliveries WHERE invite_id", "DELETE FROM invites WHERE id"}},
		{"send to a pending address", func() error {
			g := freshRows - 1000
			res, err := svc.Send(ctx, tenant(g), []invites.NewInvite{{Email: freshAddress(g)}})
			if err == nil && len(res.Errors) != 1 {
				err = fmt.Errorf("Send to a pending address: %+v", res)
			}
			return err
		}, []string{"(tenant_id, email_norm) IN ("}},
		{"send a batch to pending addresses", func() error {
			// 250 live pending invites of tenant t0, each fiftieth from
			// 7 days back.
			var items []invites.NewInvite
			for g := freshRows - 29900; len(items) < 250; g += 100 {
				items = append(items, invites.NewInvite{Email: freshAddress(g)})
			}
			res, err := svc.Send(ctx, tenant(0), items)
			if err == nil && len(res.Errors) != len(items) {
				err = fmt.Errorf("Send to pending addresses: %d stored", len(res.Success))
			}
			return err
		}, []string{"(tenant_id, email_norm) IN ("}},
		{"deliver", func() error {
			n, err := svc.DeliverPending(ctx)
			if err == nil && n < 200 {
				err = fmt.Errorf("DeliverPending sent %d, want a batch of 200", n)
			}
			return err
		}, []string{"FOR NO KEY UPDATE SKIP LOCKED", "ORDER BY id FOR NO KEY UPDATE", "UPDATE invites SET delivery_status",
			"UPDATE invites_deliveries SET state = v.st"}},
		{"renew leases", func() error {
			_, err := store.RenewDeliveries(ctx, invites.RenewParams{Now: freshNow, Lease: time.Minute,
				Deliveries: []invites.Delivery{{ID: uuid.UUID(md5.Sum([]byte("d" + strconv.Itoa(freshRows-1)))), Attempt: 0}}})
			return err
		}, []string{"SET leased_until"}},
		{"dispatch events", func() error {
			n, err := svc.DispatchEvents(ctx)
			if err == nil && n == 0 {
				err = fmt.Errorf("DispatchEvents told none")
			}
			return err
		}, []string{"NOT EXISTS (SELECT 1 FROM invites_events p", "handled = TRUE"}},
		{"expire", func() error {
			n, err := svc.ExpireDue(ctx)
			if err == nil && n == 0 {
				err = fmt.Errorf("ExpireDue expired none")
			}
			return err
		}, []string{"SELECT id FROM invites WHERE status = 'pending' AND expires_at <="}},
		{"check and accept", func() error {
			tok := mail.TokenFor(freshAddress(oldestQueued))
			if _, err := svc.Check(ctx, tok); err != nil {
				return err
			}
			_, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-new", Email: freshAddress(oldestQueued)})
			return err
		}, []string{"FROM invites_tokens WHERE digest"}},
		{"decline", func() error {
			_, err := svc.Decline(ctx, mail.TokenFor(freshAddress(oldestQueued+1)))
			return err
		}, []string{"FROM invites_tokens WHERE digest"}},
		{"resend", func() error {
			g := freshRows - 1000
			_, err := svc.Resend(ctx, tenant(g), freshID(g))
			return err
		}, []string{"FOR NO KEY UPDATE", "FROM invites_sends AS s", "FROM invites_suppressions AS x", "DELETE FROM invites_tokens", "state = 'superseded'"}},
		{"send to a suppressed address", func() error {
			res, err := svc.Send(ctx, tenant(1), []invites.NewInvite{{Email: freshAddress(1)}})
			if err == nil && (len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeSuppressed) {
				err = fmt.Errorf("Send to a suppressed address: %+v", res)
			}
			return err
		}, []string{"FROM invites_suppressions AS x"}},
		{"complaint", func() error {
			msg, ok := mail.LastTo(freshAddress(oldestQueued + 3))
			if !ok {
				return fmt.Errorf("no email to %s", freshAddress(oldestQueued+3))
			}
			return svc.RecordComplaint(ctx, msg.ID, "spam")
		}, []string{"INSERT INTO invites_suppressions", "UPDATE invites_counts"}},
		{"unsuppress", func() error {
			lifted, err := svc.Unsuppress(ctx, tenant(4), freshAddress(4))
			if err == nil && !lifted {
				err = fmt.Errorf("Unsuppress lifted nothing")
			}
			return err
		}, []string{"DELETE FROM invites_suppressions", "UPDATE invites_counts"}},
		{"cancel", func() error {
			g := freshRows - 2000
			_, err := svc.Cancel(ctx, tenant(g), freshID(g))
			return err
		}, []string{"status_updated_at = CASE WHEN status = "}},
		{"get and history", func() error {
			g := freshRows - 3000
			if _, err := svc.Get(ctx, tenant(g), freshID(g)); err != nil {
				return err
			}
			_, err := svc.History(ctx, tenant(g), freshID(g))
			return err
		}, []string{"FROM invites WHERE tenant_id", "FROM invites_events"}},
		{"bounce", func() error {
			msg, ok := mail.LastTo(freshAddress(oldestQueued + 2))
			if !ok {
				return fmt.Errorf("no email to %s", freshAddress(oldestQueued+2))
			}
			return svc.RecordBounce(ctx, msg.ID, true, "no such user")
		}, []string{"SELECT invite_id FROM invites_deliveries WHERE id"}},
		{"forget", func() error {
			g := freshRows - 4001
			ids, err := svc.Forget(ctx, tenant(g), freshAddress(g))
			if err == nil && len(ids) != 1 {
				err = fmt.Errorf("Forget erased %v, want one invite", ids)
			}
			return err
		}, []string{"DELETE FROM invites WHERE id IN (SELECT id FROM invites WHERE tenant_id", "DELETE FROM invites_events WHERE invite_id"}},
		{"stats", func() error {
			_, err := svc.Stats(ctx)
			return err
		}, []string{"FROM invites_deliveries WHERE state = 'queued'", "FROM invites_events e WHERE NOT", "FROM invites_counts"}},
		{"prune", func() error {
			r, err := svc.Prune(ctx)
			if err == nil && (r.Invites == 0 || r.Events == 0) {
				err = fmt.Errorf("Prune deleted %+v, want some of each", r)
			}
			return err
		}, []string{"status <> 'pending' AND status_updated_at <", "WHERE handled AND at <"}},
	} {
		t.Run(c.name, func(t *testing.T) { planCase(t, db, &conn, log, &explained, c.run, c.must) })
	}
	neverAnalyzed(t, db)
}

// planCase runs run, fails unless its statements hold each of must, and
// EXPLAINs each of them with freshPlans, counting them in explained.
func planCase(t *testing.T, db *bun.DB, conn *bun.Conn, log *sqlLog, explained *int, run func() error, must []string) {
	t.Helper()
	log.take()
	if err := run(); err != nil {
		t.Fatal(err)
	}
	evs := log.take()
	for _, m := range must {
		if !slices.ContainsFunc(evs, func(e bun.QueryEvent) bool { return strings.Contains(e.Query, m) }) {
			t.Errorf("no statement has %q", m)
		}
	}
	for _, e := range evs {
		if !strings.Contains(e.Query, "invites") || strings.HasPrefix(e.Query, "SET ") {
			continue
		}
		*explained++
		idx := freshPlans(t, db, conn, *explained, e)
		t.Logf("%.70s: %v", strings.Join(strings.Fields(e.Query), " "), idx)
	}
}
