package mailer_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/uptrace/bun"
)

// The outbox end to end: Services on bunstore, as hosts run them, deliver
// through the SMTP mailer into one in-process server.

// outboxDB opens a migrated database of kind ("PostgreSQL" or "SQLite").
func outboxDB(tb testing.TB, kind string) *bun.DB {
	tb.Helper()
	var db *bun.DB
	if kind == "SQLite" {
		db = testdb.SQLite(tb)
	} else {
		db = testdb.Postgres(tb)
	}
	if err := bunstore.Migrate(context.Background(), db); err != nil {
		tb.Fatal(err)
	}
	return db
}

// samePool opens another pool on the database of db, as another process
// would have.
func samePool(tb testing.TB, db *bun.DB) *bun.DB {
	tb.Helper()
	if db.Dialect().Name().String() == "sqlite" {
		var file string
		if err := db.QueryRowContext(context.Background(), "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
			tb.Fatal(err)
		}
		return testdb.SQLiteAt(tb, file)
	}
	var schema string
	if err := db.QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		tb.Fatal(err)
	}
	return testdb.PostgresSchema(tb, schema)
}

// capture is the SMTP mailer keeping every message it sent.
type capture struct {
	*mailer.SMTP
	mu   sync.Mutex
	msgs []invites.Message
}

func (c *capture) Send(ctx context.Context, m invites.Message) error {
	err := c.SMTP.Send(ctx, m)
	if err == nil {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}
	return err
}

func (c *capture) take() []invites.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.msgs
	c.msgs = nil
	return out
}

// outboxService is a Service on db with its own SMTP mailer of 4
// connections to srv, at the default delivery settings.
func outboxService(tb testing.TB, db *bun.DB, srv *smtptest.Server) (*invites.Service, *capture) {
	tb.Helper()
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: srv.Addr, From: "Acme <invites@acme.test>", TLS: mailer.TLSNone, PoolSize: 4})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	c := &capture{SMTP: m}
	svc, err := invites.New(bunstore.New(db, bunstore.WithReader(testdb.Reader(tb, db))), c, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return "https://app.test/accept?token=" + t.Reveal() },
		Logger:    slog.New(slog.DiscardHandler),
		// A batch of 1,000 on SQLite under -race on a loaded machine can
		// outlast the default bound; these tests are about the outbox.
		StoreTimeout: 30 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, c
}

// queue sends n invitations of round, in batches of 1,000.
func queue(tb testing.TB, svc *invites.Service, round, n int) {
	tb.Helper()
	locales := []string{"en-US", "de-AT", "fr", "es"}
	for i := 0; i < n; {
		items := make([]invites.NewInvite, 0, 1000)
		for ; i < n && len(items) < 1000; i++ {
			items = append(items, invites.NewInvite{Email: fmt.Sprintf("r%d-user%05d@example.test", round, i), Locale: locales[i%len(locales)]})
		}
		res, err := svc.Send(context.Background(), admin, items)
		if err != nil || len(res.Errors) > 0 {
			tb.Fatalf("Send: %v, %+v", err, res.Errors)
		}
	}
}

// drain runs svcs until srv has got n more messages and db has recorded
// every outcome, then stops them, and returns how long the email took.
func drain(tb testing.TB, srv *smtptest.Server, db *bun.DB, n int, svcs ...*invites.Service) time.Duration {
	tb.Helper()
	want := srv.Stats().Messages + n
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for _, svc := range svcs {
		wg.Go(func() { svc.Run(ctx) })
	}
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := srv.Await(actx, func(s smtptest.Stats) bool { return s.Messages >= want })
	took := time.Since(start)
	for err == nil && unsent(tb, db) > 0 {
		if actx.Err() != nil {
			tb.Fatalf("%d outcomes not recorded", unsent(tb, db))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if err != nil {
		tb.Fatalf("after %s the server has %+v, want %d messages: %v", took, srv.Stats(), want, err)
	}
	return took
}

// checkOnce fails unless srv got exactly one email per address of the n
// queued, and every invite's delivery is recorded as sent.
func checkOnce(tb testing.TB, srv *smtptest.Server, db *bun.DB, n int) {
	tb.Helper()
	var to []string
	for _, m := range srv.Messages() {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if len(to) != n || len(slices.Compact(to)) != n {
		tb.Fatalf("the server got %d emails to %d addresses, want %d, one each", len(to), len(slices.Compact(to)), n)
	}
	if n := unsent(tb, db); n != 0 {
		tb.Fatalf("%d invites are not recorded as sent", n)
	}
}

// unsent counts the invites of db whose email is not recorded as sent.
func unsent(tb testing.TB, db *bun.DB) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(),
		"SELECT count(*) FROM invites WHERE delivery_status <> 'sent'").Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// Four Services, each on its own pool as separate processes are, drain one
// outbox: every email goes out exactly once.
func TestServicesShareOutbox(t *testing.T) {
	for _, kind := range []string{"SQLite", "PostgreSQL"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			const n = 600
			db := outboxDB(t, kind)
			srv := smtptest.New(t, smtptest.Options{})
			first, _ := outboxService(t, db, srv)
			queue(t, first, 0, n)
			svcs := []*invites.Service{first}
			for range 3 {
				svc, _ := outboxService(t, samePool(t, db), srv)
				svcs = append(svcs, svc)
			}
			drain(t, srv, db, n, svcs...)
			checkOnce(t, srv, db, n)
		})
	}
}

// BenchmarkDeliverEndToEnd queues 10,000 invitations, then times Run
// delivering them through bunstore into the in-process SMTP server, and
// the mailer alone sending the same messages over the same 4 connections.
// It reports emails/s end to end and ours/mailer, the ratio of the two
// rates. services4 drains 20,000 with four Services on their own pools
// against one Service, and reports x_one, four's drain time over one's.
func BenchmarkDeliverEndToEnd(b *testing.B) {
	const n = 10000
	for _, kind := range []string{"PostgreSQL", "SQLite"} {
		b.Run(kind, func(b *testing.B) {
			db := outboxDB(b, kind)
			srv := smtptest.New(b, smtptest.Options{})
			svc, m := outboxService(b, db, srv)
			var ours, alone time.Duration
			for round := range b.N {
				queue(b, svc, round, n)
				srv.Reset()
				ours += drain(b, srv, db, n, svc)
				msgs := m.take()
				srv.Reset()
				start := time.Now()
				sendAll(b, m.SMTP, msgs)
				alone += time.Since(start)
			}
			b.ReportMetric(float64(b.N*n)/ours.Seconds(), "emails/s")
			b.ReportMetric(alone.Seconds()/ours.Seconds(), "ours/mailer")
		})
	}
	b.Run("PostgreSQL/services4", func(b *testing.B) {
		const n = 20000
		var one, four time.Duration
		for round := range b.N {
			for _, procs := range []int{1, 4} {
				db := outboxDB(b, "PostgreSQL")
				srv := smtptest.New(b, smtptest.Options{})
				first, _ := outboxService(b, db, srv)
				queue(b, first, round, n)
				svcs := []*invites.Service{first}
				for range procs - 1 {
					svc, _ := outboxService(b, samePool(b, db), srv)
					svcs = append(svcs, svc)
					warmUp(b, svc)
				}
				took := drain(b, srv, db, n, svcs...)
				checkOnce(b, srv, db, n)
				if procs == 1 {
					one += took
				} else {
					four += took
				}
			}
		}
		b.ReportMetric(float64(b.N*n)/four.Seconds(), "emails/s")
		b.ReportMetric(four.Seconds()/one.Seconds(), "x_one")
	})
}

// warmUp has svc use its store once, as the Service that queued the
// invites has, so a drain times the same work for each: a Store checks
// its pool at first use, opening up to 8 connections.
func warmUp(tb testing.TB, svc *invites.Service) {
	tb.Helper()
	if _, err := svc.List(context.Background(), admin, invites.Query{Limit: 1}); err != nil {
		tb.Fatal(err)
	}
}

// sendAll sends msgs from 4 goroutines, as the worker's 4 senders would.
func sendAll(b *testing.B, m *mailer.SMTP, msgs []invites.Message) {
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(msgs); i += 4 {
				if err := m.Send(context.Background(), msgs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
