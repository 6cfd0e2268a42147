package faultload_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/faultproxy"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

var (
	hole     = flag.Duration("hole", 20*time.Second, "how long the line is blackholed")
	readonly = flag.Duration("readonly", 20*time.Second, "how long the database is read-only")
	restart  = flag.Duration("restart", 5*time.Second, "how long a restart refuses connections")
	rate     = flag.Int("rate", 10, "sends per second")
	backlogN = flag.Int("backlog", 200, "invites queued during each fault on a line it does not reach")
	deadline = flag.Duration("deadline", 5*time.Second, "each send's deadline (the Service's StoreTimeout, when it has one)")
	settle   = 8 * time.Second // normal running between the faults
)

// mail counts the emails per invite; it never fails.
type mail struct {
	mu   sync.Mutex
	sent map[uuid.UUID]int
	dups []time.Time // when each email beyond an invite's first went
}

func (m *mail) Send(_ context.Context, msg invites.Message) error {
	m.mu.Lock()
	if m.sent[msg.Invite.ID]++; m.sent[msg.Invite.ID] > 1 {
		m.dups = append(m.dups, time.Now())
	}
	m.mu.Unlock()
	return nil
}

// dupsSince counts the duplicates sent from t on.
func (m *mail) dupsSince(t time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, at := range m.dups {
		if !at.Before(t) {
			n++
		}
	}
	return n
}

// missing counts the invites of ids without an email.
func (m *mail) missing(ids []uuid.UUID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, id := range ids {
		if m.sent[id] == 0 {
			n++
		}
	}
	return n
}

// load sends one invite at a time at rate per second and keeps what the
// Service answered.
type load struct {
	svc *invites.Service

	mu    sync.Mutex
	acked []uuid.UUID // acknowledged: stored, as the Service said
	slow  int         // answered later than deadline + 1s
	worst time.Duration
	fails int
	n     atomic.Int64
}

func (l *load) run(ctx context.Context) {
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		k := l.n.Add(1)
		wg.Go(func() { l.send(k) })
	}
}

func (l *load) send(k int64) {
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	start := time.Now()
	res, err := l.svc.Send(ctx, invites.Actor{UserID: "load", TenantID: "t-load", Roles: []string{"admin"}},
		[]invites.NewInvite{{Email: fmt.Sprintf("u%d@example.com", k)}})
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.worst = max(l.worst, took)
	if took > *deadline+time.Second {
		l.slow++
	}
	if err != nil || len(res.Success) != 1 {
		l.fails++
		return
	}
	l.acked = append(l.acked, res.Success[0].ID)
}

// backlog queues n invites through svc, on a line the fault does not
// reach, as the other servers of an application would while this one's
// worker is cut off.
func (l *load) backlog(b *testing.B, svc *invites.Service, n int) {
	const chunk = 20 // a send each store call finishes well within its bound
	for n > 0 {
		items := make([]invites.NewInvite, min(n, chunk))
		for i := range items {
			items[i].Email = fmt.Sprintf("u%d@example.com", l.n.Add(1))
		}
		res, err := svc.Send(context.Background(), invites.Actor{UserID: "load", TenantID: "t-load", Roles: []string{"admin"}}, items)
		if err != nil || len(res.Success) != len(items) {
			b.Errorf("queueing the backlog: %d of %d stored, %v", len(res.Success), len(items), err)
		}
		l.mu.Lock()
		for _, inv := range res.Success {
			l.acked = append(l.acked, inv.ID)
		}
		l.mu.Unlock()
		n -= len(items)
	}
}

func (l *load) ackedSoFar() []uuid.UUID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acked)
}

// line is the database as the Service sees it: through a proxy that can
// blackhole or cut it, on connections that open read-only while ro is set.
type line struct {
	proxy *faultproxy.Proxy
	ro    atomic.Bool
}

// open returns a bun.DB on the schema through l's proxy, set up as the
// README's failover section says (connect_timeout included).
func (l *line) open(b *testing.B, schema string) *bun.DB {
	u, err := url.Parse(testdb.SchemaDSN(b, schema))
	if err != nil {
		b.Fatal(err)
	}
	u.Host = l.proxy.Addr
	dsn, err := testdb.WithParams(u.String(), "default_query_exec_mode", "simple_protocol", "connect_timeout", "2")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	sqldb := stdlib.OpenDB(*cfg, stdlib.OptionBeforeConnect(func(_ context.Context, c *pgx.ConnConfig) error {
		if l.ro.Load() {
			c.RuntimeParams = maps.Clone(c.RuntimeParams)
			c.RuntimeParams["default_transaction_read_only"] = "on"
		}
		return nil
	}))
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(20)
	db := bun.NewDB(sqldb, pgdialect.New())
	b.Cleanup(func() { db.Close() })
	return db
}

// fault is one fault of the run and how the backlog fared after it.
type fault struct {
	name     string
	length   time.Duration
	start    func()
	end      func()
	recovery time.Duration // from the end of the fault to every email acknowledged before it sent
	left     int           // emails still missing when the measure gave up
	dups     int           // duplicates sent from its start to the next fault's
	began    time.Time
}

func BenchmarkFaults(b *testing.B) {
	direct := testdb.Postgres(b)
	if err := bunstore.Migrate(b.Context(), direct); err != nil {
		b.Fatal(err)
	}
	l := &line{proxy: faultproxy.New(b, testdb.PostgresAddr(b))}
	m := &mail{sent: map[uuid.UUID]int{}}
	cfg := invites.Config{
		Tokens:       token.Issuer{},
		AcceptURL:    func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Logger:       logger(),
		PollInterval: time.Second,
		StoreTimeout: *deadline,
	}
	svc, err := invites.New(bunstore.New(l.open(b, testdb.Schema(b, direct))), m, cfg)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	other, err := invites.New(bunstore.New(direct), m, cfg)
	if err != nil {
		b.Fatal(err)
	}
	faults := []*fault{
		{name: "blackhole", length: *hole, start: l.proxy.Blackhole, end: l.proxy.Restore},
		{name: "read-only", length: *readonly,
			start: func() { l.ro.Store(true); l.proxy.Cut(); l.proxy.Restore() },
			end:   func() { l.ro.Store(false); l.proxy.Cut(); l.proxy.Restore() }},
		{name: "restart", length: *restart, start: l.proxy.Cut, end: l.proxy.Restore},
	}
	for range b.N {
		runFaults(b, svc, other, m, faults)
	}
	explain(b, direct, m)
}

// explain prints the delivery rows of the invites still without an email,
// and the sessions left idle in a transaction, to tell why.
func explain(b *testing.B, db *bun.DB, m *mail) {
	ctx := context.Background()
	var rows []struct {
		InviteID    uuid.UUID  `bun:"invite_id"`
		State       string     `bun:"state"`
		Attempt     int        `bun:"attempt"`
		LeasedUntil *time.Time `bun:"leased_until"`
		DueAt       time.Time  `bun:"due_at"`
	}
	if err := db.NewRaw("SELECT invite_id, state, attempt, leased_until, due_at FROM invites_deliveries").Scan(ctx, &rows); err != nil {
		b.Errorf("reading the deliveries: %v", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rows {
		if m.sent[r.InviteID] == 0 {
			fmt.Fprintf(b.Output(), "unsent: invite %s state %s attempt %d leased until %v due %v\n",
				r.InviteID, r.State, r.Attempt, r.LeasedUntil, r.DueAt)
		}
	}
	var idle []string
	if err := db.NewRaw("SELECT left(query, 80) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND datname = current_database()").
		Scan(ctx, &idle); err != nil {
		b.Errorf("reading the sessions: %v", err)
	}
	for _, q := range idle {
		fmt.Fprintf(b.Output(), "idle in transaction: %s\n", q)
	}
}

// logger logs the Service's warnings to stderr when -test.v is set.
func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// runFaults runs the load through svc, whose worker delivers, and the
// faults one by one; during each, other queues a backlog of *backlogN.
func runFaults(b *testing.B, svc, other *invites.Service, m *mail, faults []*fault) {
	ctx, stop := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	for range 2 {
		workers.Go(func() { _ = svc.Run(ctx) })
	}
	ld := &load{svc: svc}
	loadCtx, stopLoad := context.WithCancel(ctx)
	loading := make(chan struct{})
	go func() { ld.run(loadCtx); close(loading) }()

	time.Sleep(settle / 2)
	for _, f := range faults {
		f.began = time.Now()
		f.start()
		time.Sleep(f.length / 2)
		ld.backlog(b, other, *backlogN)
		time.Sleep(f.length - f.length/2)
		f.end()
		back := time.Now()
		due := ld.ackedSoFar()
		for m.missing(due) > 0 && time.Since(back) < 30*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		f.recovery, f.left = time.Since(back), m.missing(due)
		time.Sleep(max(0, settle-time.Since(back)))
	}
	stopLoad()
	<-loading
	acked := ld.ackedSoFar()
	for end := time.Now().Add(30 * time.Second); m.missing(acked) > 0 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a late duplicate has its chance to show
	stop()
	workers.Wait()

	lost := m.missing(acked)
	m.mu.Lock()
	dup := 0
	for _, k := range m.sent {
		dup += k - 1
	}
	m.mu.Unlock()
	for i, f := range faults {
		f.dups = m.dupsSince(f.began)
		if i+1 < len(faults) {
			f.dups -= m.dupsSince(faults[i+1].began)
		}
	}
	report(b.Output(), ld, faults, len(acked), lost, dup)
	worst := 0.0
	for _, f := range faults {
		worst = max(worst, f.recovery.Seconds())
	}
	b.ReportMetric(float64(len(acked)), "acked")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(dup), "duplicated")
	b.ReportMetric(float64(ld.slow), "slow")
	b.ReportMetric(worst, "recovery-s")
}

func report(w io.Writer, ld *load, faults []*fault, acked, lost, dup int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "fault\tlength\tbacklog sent after recovery\tstill missing\tduplicated\n")
	for _, f := range faults {
		fmt.Fprintf(tw, "%s\t%v\t%.2fs\t%d\t%d\n", f.name, f.length, f.recovery.Seconds(), f.left, f.dups)
	}
	fmt.Fprintf(tw, "\nsends\t%d\n", ld.n.Load())
	fmt.Fprintf(tw, "acknowledged\t%d\n", acked)
	fmt.Fprintf(tw, "refused (ErrUnavailable or other)\t%d\n", ld.fails)
	fmt.Fprintf(tw, "lost (acknowledged, never sent)\t%d\n", lost)
	fmt.Fprintf(tw, "duplicated (emails beyond one)\t%d\n", dup)
	fmt.Fprintf(tw, "answered later than %v + 1s\t%d (slowest %v)\n", *deadline, ld.slow, ld.worst.Round(time.Millisecond))
	tw.Flush()
}
