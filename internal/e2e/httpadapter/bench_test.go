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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
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
	if _, err := db.ExecContext(b.Context(), "ANALYZE"); err != nil {
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

// bareHandler is what a host would write by hand for the same two routes:
// the tenant from a header, a strict JSON decode, an address check, the
// SQL the bun store runs, and JSON out. pg picks PostgreSQL's placeholders
// and time values over SQLite's.
type bareHandler struct {
	db *sql.DB
	pg bool
}

func (h *bareHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant := r.Header.Get("X-Tenant")
	if tenant == "" || r.URL.Path != "/" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var out any
	var err error
	switch r.Method {
	case "GET":
		out, err = h.list(r.Context(), tenant)
	case "POST":
		out, err = h.send(w, r, tenant)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// q turns ? placeholders into $n on PostgreSQL.
func (h *bareHandler) q(s string) string {
	if !h.pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// at is a time as each database's column takes it: timestamptz, or
// SQLite's fixed-width UTC text.
func (h *bareHandler) at(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if h.pg {
		return t
	}
	return t.Format(sqliteTime)
}

const sqliteTime = "2006-01-02 15:04:05.000000"

const benchCols = "id, tenant_id, email, first_name, last_name, locale, data, roles, status, " +
	"status_updated_at, expires_at, send_count, last_sent_at, delivery_status, delivery_error, " +
	"created_by_user_id, accepted_by_user_id, created_at, updated_at"

// list is a first page of 20 by createdAt with the total count, in one
// statement.
func (h *bareHandler) list(ctx context.Context, tenant string) (any, error) {
	rows, err := h.db.QueryContext(ctx, h.q("SELECT "+benchCols+
		", (SELECT count(*) FROM invites WHERE tenant_id = ?) FROM invites WHERE tenant_id = ? "+
		"ORDER BY created_at, id LIMIT 21"), tenant, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type page struct {
		Data       []bareInvite `json:"data"`
		TotalCount int          `json:"totalCount"`
		NextCursor string       `json:"nextCursor,omitempty"`
	}
	p := page{Data: []bareInvite{}}
	for rows.Next() {
		var (
			inv             invites.Invite
			data, roles     []byte
			status, dstatus string
			accepted        sql.NullString
		)
		if err := rows.Scan(&inv.ID, &inv.TenantID, &inv.Email, &inv.FirstName, &inv.LastName, &inv.Locale,
			&data, &roles, &status, timeCol{&inv.StatusUpdatedAt}, timeCol{&inv.ExpiresAt}, &inv.SendCount,
			timeCol{&inv.LastSentAt}, &dstatus, &inv.DeliveryError, &inv.CreatedByUserID, &accepted,
			timeCol{&inv.CreatedAt}, timeCol{&inv.UpdatedAt}, &p.TotalCount); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(roles, &inv.Roles); err != nil {
			return nil, err
		}
		inv.Data = data
		inv.Status, inv.DeliveryStatus = invites.Status(status), invites.DeliveryStatus(dstatus)
		b := bareInvite{plainInvite: plainInvite(inv)}
		if accepted.Valid {
			b.AcceptedByUserID = &accepted.String
		}
		p.Data = append(p.Data, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(p.Data) > 20 {
		p.Data = p.Data[:20]
		last := p.Data[19]
		p.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + " " + last.ID.String()))
	}
	return p, nil
}

// bareInvite is the JSON of an invite as a hand-written handler would
// keep it: a plain struct, acceptedByUserId null until accepted.
type bareInvite struct {
	plainInvite
	AcceptedByUserID *string `json:"acceptedByUserId"`
}

type plainInvite invites.Invite

// timeCol scans timestamptz or SQLite's time text.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*c.t = v
		return nil
	case string:
		t, err := time.Parse(sqliteTime, v)
		*c.t = t
		return err
	}
	return fmt.Errorf("time column of type %T", v)
}

// send stores one invite in one transaction as the store must, the
// address's daily limit included (its delivery written as dropped, so
// ours's worker, sharing the schema, has only ours's email to send): the
// address's stale pending invite expires, the unique pending index
// decides, and the invite's outbox row and event go with it.
func (h *bareHandler) send(w http.ResponseWriter, r *http.Request, tenant string) (any, error) {
	var body struct {
		UserInvites []struct {
			Email     string          `json:"email"`
			FirstName string          `json:"firstName"`
			LastName  string          `json:"lastName"`
			Locale    string          `json:"locale"`
			Data      json.RawMessage `json:"data"`
			Roles     []string        `json:"roles"`
		} `json:"userInvites"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, httpadapter.DefaultMaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.UserInvites) != 1 {
		return nil, fmt.Errorf("bad body: %v", err)
	}
	it := body.UserInvites[0]
	if a, err := mail.ParseAddress(it.Email); err != nil || a.Name != "" {
		return nil, fmt.Errorf("bad email")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	inv := invites.Invite{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, Email: strings.TrimSpace(it.Email),
		Locale: "en-US", Roles: []string{"admin"}, Status: invites.StatusPending, StatusUpdatedAt: now,
		CreatedByUserID: "admin", ExpiresAt: now.Add(7 * 24 * time.Hour), SendCount: 1, LastSentAt: now,
		DeliveryStatus: invites.DeliveryQueued, CreatedAt: now, UpdatedAt: now}
	did := uuid.Must(uuid.NewV7())
	tx, err := h.db.BeginTx(r.Context(), nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ctx := r.Context()
	// The address's daily limit (Config.MaxSendsPerAddressPerDay, on by
	// default): its lock, then its count.
	if h.pg {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('invites.address:' || length($1::text) || ':' || $1 || ':' || $2, 0))`,
			tenant, inv.EmailNorm()); err != nil {
			return nil, err
		}
	}
	var sends int
	if err := tx.QueryRowContext(ctx, h.q(`SELECT count(*) FROM invites AS i JOIN invites_events AS e ON e.invite_id = i.id
		WHERE i.tenant_id = ? AND i.email_norm = ? AND e.type IN ('created', 'resent') AND e.at > ?`),
		tenant, inv.EmailNorm(), h.at(now.Add(-24*time.Hour))).Scan(&sends); err != nil {
		return nil, err
	}
	if sends >= 10 { // Config.MaxSendsPerAddressPerDay by default
		return nil, fmt.Errorf("address limit")
	}
	// The address's pending invite past its expiry gives way, with its event.
	stale, err := tx.QueryContext(ctx, h.q(`UPDATE invites SET status = 'expired', status_updated_at = expires_at,
		updated_at = ? WHERE tenant_id = ? AND email_norm = ? AND status = 'pending' AND expires_at <= ?
		RETURNING id, expires_at`), h.at(now), tenant, inv.EmailNorm(), h.at(now))
	if err != nil {
		return nil, err
	}
	var expired []any
	for stale.Next() {
		var id string
		var exp any
		if err := stale.Scan(&id, &exp); err != nil {
			return nil, err
		}
		expired = append(expired, id, exp)
	}
	if err := stale.Close(); err != nil {
		return nil, err
	}
	for i := 0; i < len(expired); i += 2 {
		if _, err := tx.ExecContext(ctx, h.q(`INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at)
			VALUES (?, ?, 'expired', '', ?, ?)`), expired[i], tenant, expired[i+1], expired[i+1]); err != nil {
			return nil, err
		}
	}
	// One pending invite per address: a conflict stores nothing.
	var stored string
	err = tx.QueryRowContext(ctx, h.q(`INSERT INTO invites (id, tenant_id, email, email_norm,
		first_name, last_name, first_name_fold, last_name_fold, locale, roles, status, status_updated_at,
		expires_at, send_count, last_sent_at, delivery_status, latest_delivery_id, created_by_user_id,
		created_at, updated_at) VALUES (?, ?, ?, ?, '', '', '', '', ?, ?, 'pending', ?, ?, 1, ?, 'queued', ?, ?, ?, ?)
		ON CONFLICT (tenant_id, email_norm) WHERE status = 'pending' DO NOTHING RETURNING id`),
		inv.ID.String(), tenant, inv.Email, inv.EmailNorm(), inv.Locale, `["admin"]`, h.at(now),
		h.at(inv.ExpiresAt), h.at(now), did.String(), inv.CreatedByUserID, h.at(now), h.at(now)).Scan(&stored)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, h.q(`INSERT INTO invites_deliveries (id, invite_id, tenant_id,
		kind, state, attempt, due_at, created_at) VALUES (?, ?, ?, 'invitation', 'dropped', 0, ?, ?)`),
		did.String(), inv.ID.String(), tenant, h.at(now), h.at(now)); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, h.q(`INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at)
		VALUES (?, ?, 'created', ?, ?, ?)`), inv.ID.String(), tenant, inv.CreatedByUserID, h.at(now), h.at(now)); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return map[string]any{"success": []bareInvite{{plainInvite: plainInvite(inv)}}, "errors": []invites.ItemError{}}, nil
}
