package httpadapter_test

// BenchmarkHTTP measures requests per second through the handler on a
// loopback server, against a bare net/http handler running the same raw
// SQL on the same migrated schema through database/sql, with SQLite and
// with PostgreSQL. The sides serve the same requests from the same
// parallel keep-alive clients, in rounds taking turns, so all see the same
// machine; ours/bare is the ratio of their requests per second. On
// PostgreSQL, bare-simple is the bare handler on pgx's simple protocol, as
// bun runs (ours/bare-simple): what is left between the two is not the
// protocol's. Ours runs its delivery worker beside the requests, sending
// every invitation through the SMTP mailer to an in-process server, on a
// pool two connections larger than the clients need, as docs/production.md tells
// hosts; the bare handler sends no email. Run:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench HTTP -benchtime 2000x ./internal/e2e/httpadapter/

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
)

const (
	benchClients = 8    // parallel keep-alive clients
	benchRound   = 200  // requests per side per turn
	benchSeed    = 1000 // invites of the listed tenant
	benchTenant  = "acme"
)

func BenchmarkHTTP(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		db := testdb.SQLite(b)
		// One connection, as sqlitedb opens it: the bare side shares it.
		benchStore(b, db, false, map[string]*sql.DB{"bare": db.DB})
	})
	b.Run("PostgreSQL", func(b *testing.B) {
		db := testdb.Postgres(b)
		var schema string
		if err := db.QueryRowContext(b.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
			b.Fatal(err)
		}
		// bare uses pgx's default mode, which prepares and caches each
		// statement: the fastest database/sql gets on PostgreSQL.
		bare := rawPostgres(b, schema)
		simple := rawPostgres(b, schema, "default_query_exec_mode", "simple_protocol")
		// Every pool keeps a connection per client: database/sql keeps 2
		// idle by default, and the rest would reconnect on every request.
		for _, p := range []*sql.DB{bare, simple} {
			p.SetMaxOpenConns(benchClients)
			p.SetMaxIdleConns(benchClients)
		}
		db.SetMaxOpenConns(benchClients + 2) // the worker holds at most two
		db.SetMaxIdleConns(benchClients + 2)
		benchStore(b, db, true, map[string]*sql.DB{"bare": bare, "bare-simple": simple})
	})
}

// rawPostgres opens database/sql on pgx, on the test server's schema,
// with extra connection parameters.
func rawPostgres(b *testing.B, schema string, params ...string) *sql.DB {
	dsn, err := testdb.WithParams(testdb.PostgresDSN(b), append([]string{"search_path", schema}, params...)...)
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// side is one server a benchmark sends its requests to.
type side struct{ name, url string }

// benchStore migrates db, seeds the listed tenant, and compares the routes
// of ours with a bare handler on each of raws.
func benchStore(b *testing.B, db *bun.DB, pg bool, raws map[string]*sql.DB) {
	m, srv := benchMailer(b, db)
	svc, ours := benchOurs(b, db, m, nil)
	seedTenant(b, db, svc)
	benchWorker(b, svc)
	sides := []side{{"ours", ours.URL}}
	for _, name := range slices.Sorted(maps.Keys(raws)) {
		bare := httptest.NewServer(&bareHandler{db: raws[name], pg: pg})
		b.Cleanup(bare.Close)
		sides = append(sides, side{name, bare.URL})
	}
	benchRoutes(b, sides, 1, srv)
}

// benchMailer migrates db and returns the SMTP mailer, on a pool two
// connections larger than the clients need, and the server it sends to.
func benchMailer(b *testing.B, db *bun.DB) (*mailer.SMTP, *smtptest.Server) {
	if err := bunstore.Migrate(b.Context(), db); err != nil {
		b.Fatal(err)
	}
	srv := smtptest.New(b, smtptest.Options{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: srv.Addr, From: "Acme <invites@acme.test>", TLS: mailer.TLSNone, PoolSize: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m, srv
}

// benchOurs returns a Service on db with obs and a server of its handler.
func benchOurs(b *testing.B, db *bun.DB, m invites.Mailer, obs invites.Observer) (*invites.Service, *httptest.Server) {
	svc, err := invites.New(bunstore.New(db, bunstore.WithReader(testdb.Reader(b, db))), m, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return "http://app.test/invite?token=" + t.Reveal() },
		Logger:    slog.New(slog.DiscardHandler),
		Observer:  obs,
	})
	if err != nil {
		b.Fatal(err)
	}
	ours := httptest.NewServer(httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(r *http.Request) (invites.Actor, error) { return benchActor(r.Header.Get("X-Tenant")), nil },
		Logger:       slog.New(slog.DiscardHandler),
	}))
	b.Cleanup(ours.Close)
	return svc, ours
}

// seedTenant gives the listed tenant benchSeed delivered invites, and
// analyzes the tables.
func seedTenant(b *testing.B, db *bun.DB, svc *invites.Service) {
	sendSeed(b, svc)
	// Statistics, as autovacuum keeps them on a live database; see
	// BenchmarkHTTPNeverAnalyzed for the same without.
	if err := testdb.Analyze(b.Context(), db); err != nil {
		b.Fatal(err)
	}
}

// sendSeed gives the listed tenant benchSeed delivered invites.
func sendSeed(b *testing.B, svc *invites.Service) {
	ctx := b.Context()
	seed := make([]invites.NewInvite, benchSeed)
	for i := range seed {
		seed[i] = invites.NewInvite{Email: fmt.Sprintf("seed%d@example.com", i), FirstName: "Seed"}
	}
	if res, err := svc.Send(ctx, benchActor(benchTenant), seed); err != nil || len(res.Success) != benchSeed {
		b.Fatalf("seeding: %v (%d stored)", err, len(res.Success))
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		b.Fatal(err)
	}
}

// benchWorker runs svc's delivery worker until b ends.
func benchWorker(b *testing.B, svc *invites.Service) {
	wctx, stop := context.WithCancel(context.Background())
	worker := make(chan struct{})
	go func() { defer close(worker); svc.Run(wctx) }()
	b.Cleanup(func() { stop(); <-worker })
}

// benchRoutes compares sides on a list's first page (GET) and a send of
// one invite (POST); the first mailing sides are ours, whose emails go to
// srv.
func benchRoutes(b *testing.B, sides []side, mailing int, srv *smtptest.Server) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	b.Cleanup(client.CloseIdleConnections)

	b.Run("GET", func(b *testing.B) {
		compare(b, client, func(base string) *http.Request {
			return request(b, "GET", base+"/", benchTenant, nil)
		}, sides)
	})
	var sent atomic.Int64
	b.Run("POST", func(b *testing.B) {
		before := srv.Stats().Messages
		compare(b, client, func(base string) *http.Request {
			body := fmt.Appendf(nil, `{"userInvites":[{"email":"new%d@example.com"}]}`, sent.Add(1))
			// A tenant of its own, so the list stays benchSeed long.
			return request(b, "POST", base+"/", "posts", body)
		}, sides)
		// Emails the worker delivered while the requests ran, per request
		// ours answered: near 1 when it keeps up.
		b.ReportMetric(float64(srv.Stats().Messages-before)/float64(mailing*(b.N+benchRound)), "emails/req")
	})
}

func benchActor(tenant string) invites.Actor {
	return invites.Actor{UserID: "admin", TenantID: tenant, Roles: []string{"admin"}}
}

// request is a request to url as an actor of tenant, or nil after failing
// b (it runs on the clients' goroutines, where b.Fatal may not).
func request(b *testing.B, method, url, tenant string, body []byte) *http.Request {
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return nil
	}
	r.Header.Set("X-Tenant", tenant)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// compare sends b.N requests to each side, benchRound at a time from
// benchClients goroutines, the side going first turning by round, after
// one untimed round each (connections open, statements are prepared,
// caches fill). It reports each side's requests per second and the ratio
// of the first side's to each other's (ours/bare).
func compare(b *testing.B, c *http.Client, req func(base string) *http.Request, sides []side) {
	for _, s := range sides {
		burst(b, c, req, s.url, benchRound)
	}
	took := make([]time.Duration, len(sides))
	b.ResetTimer()
	for done := 0; done < b.N; done += benchRound {
		n := min(benchRound, b.N-done)
		first := done / benchRound
		for k := range sides {
			i := (first + k) % len(sides)
			took[i] += burst(b, c, req, sides[i].url, n)
		}
	}
	for i, s := range sides {
		b.ReportMetric(float64(b.N)/took[i].Seconds(), s.name+"-req/s")
		if i > 0 {
			b.ReportMetric(took[i].Seconds()/took[0].Seconds(), sides[0].name+"/"+s.name)
		}
	}
}

// burst sends n requests to base from benchClients goroutines and returns
// how long they took; an answer other than 200 fails b.
func burst(b *testing.B, c *http.Client, req func(base string) *http.Request, base string, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				r := req(base)
				if r == nil {
					return
				}
				res, err := c.Do(r)
				if err != nil {
					b.Error(err)
					return
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					b.Errorf("%s %s: %d %v", res.Request.Method, base, res.StatusCode, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
