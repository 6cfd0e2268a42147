// Package bunstore is the invites.Store on a SQL database through bun:
// PostgreSQL (pgdialect) or SQLite (sqlitedialect), one package for both,
// branching on the dialect only where the SQL must differ.
//
// Create the tables with Migrate (or apply Migrations with your own tool,
// and call Renormalize once after 20261206000008_renormalize), then build the Store on a *bun.DB, or on a bun.Tx to make the Store's
// writes part of a transaction of your own:
//
//	if err := bunstore.Migrate(ctx, db); err != nil { ... }
//	svc, err := invites.New(bunstore.New(db), mailer, cfg)
//
// Every method is one statement, or one short transaction; none holds a
// transaction open across anything slow but the host's code a Change runs:
// Config.Authorize, which decides under the invite's row lock, and
// Config.OnAccept, which runs inside the accepting transaction so that the
// host's own writes (a membership row, say) commit or roll back with the
// accept. TxFromContext gives the hook that transaction.
//
// On PostgreSQL, queries are sent as text with their values inlined (see
// Security); open pgx with default_query_exec_mode=simple_protocol (see
// docs/storage.md) so it does not prepare each of them. The exceptions are the
// hot paths: the changes by rule (accepting or declining through a link,
// canceling: see invites.ChangeParams), Insert, a page of List filtered
// by tenant alone, and the outbox's claim and outcomes. On a *bun.DB the
// Store prepares them through database/sql, once per connection, with their values bound, since
// planning them anew costs as much as running them. Behind a pooler in
// transaction mode that does not keep prepared statements (PgBouncer
// before 1.21, or without max_prepared_statements) the server soon
// reports one lost; the Store then runs that statement again unprepared,
// logs once, and prepares nothing more. Prepared statements bypass bun's
// query hooks; WithQueryHook sees them too. A Store on a bun.Conn or
// bun.Tx prepares nothing. On SQLite, open the database
// with sqlitedb.Open, which sets WAL, a busy timeout and immediate
// transactions, without which concurrent writers meet SQLITE_BUSY.
//
// On PostgreSQL the Store's plans do not wait for statistics: every
// statement of the Service's hot paths and of its worker's polling reads
// its tables through an index by its shape (a partial index's predicate
// spelled as the index has it, ORDER BY ... LIMIT in an index's order,
// ids passed as an array the planner cannot count), whether or not the
// tables were ever analyzed, as after a bulk load on a server whose
// autovacuum is off or lags behind; TestPlansWithoutStatistics checks
// each one, and its generic plan, on tables of 100,000 rows never
// analyzed. The Store runs no ANALYZE of its own.
//
// # Failover
//
// A write that PostgreSQL refuses because the node cannot write
// (SQLSTATE 25006: a primary demoted to read-only, as pg_auto_failover
// leaves it, or a hot standby) answers invites.ErrUnavailable, and the
// Store then closes the idle sessions of its pools (database/sql's
// Conn.Raw answering driver.ErrBadConn, which works on any *sql.DB the
// host opened), so the next call connects anew. For that to reach the
// new primary, open pgx with every node in the DSN and
// target_session_attrs=read-write
// (postgres://a,b/db?target_session_attrs=read-write), connect_timeout
// set (2 s: database/sql dials for waiting calls with no deadline of
// its own, so without it one attempt the network swallows holds the
// pool until the kernel gives up on its socket; the Store logs a
// warning when a pgx pool has none), and bound each session's life with
// SetConnMaxLifetime (minutes) so none outlives a switchover by much.
// The Service bounds each call by its context
// (invites.Config.StoreTimeout), and pgx closes a session whose call
// ran out; the Store then closes the idle ones in the background, which
// a network that swallowed one has swallowed too; to have the server
// drop a transaction a lost client left open (and its row locks), set
// idle_in_transaction_session_timeout for the application's role (ALTER
// ROLE app SET idle_in_transaction_session_timeout = '30s'), which
// works behind PgBouncer too.
//
// # Security
//
// No value changes what a statement does, whatever the server's settings.
// The Store writes every text, bytea and JSON value it inlines on
// PostgreSQL as an escape string, E'...' with each backslash and quote
// doubled, which PostgreSQL reads the same whether
// standard_conforming_strings is on or off: bun's own '...', safe only
// while it is on, would let a value ending in a backslash close its
// literal when a session has it off (for the database or role, after a
// configuration reload, left by another client of a pooler, or by SET
// LOCAL in the host's transaction), and read another tenant's invites.
// The hot paths are prepared, their values bound. Bound parameters everywhere
// were the other way: they need the Store's every statement prepared or
// sent through the extended protocol, which the simple protocol the
// docs/storage.md recommends does not do, since there pgx itself inlines the
// values, with the quoting of '...'. So the Store checks no setting: in
// the simple protocol pgx refuses a query (not the Store) in a session
// whose standard_conforming_strings it saw turned off. A value holding
// NUL, which PostgreSQL text cannot hold, is refused with
// invites.ErrInvalidInput before it is sent (the Service refuses it
// first, on every store). Migrate's statements hold no backslash and need
// no check either.
package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Store is an invites.Store on a bun database. It is safe for concurrent
// use as far as its bun.IDB is: a *bun.DB is; a bun.Tx is not.
type Store struct {
	db bun.IDB
	// reader runs the pure reads (Get, List, Lookup, History): db, or the
	// pool of WithReader.
	reader bun.IDB
	pg     bool
	// forUpdate locks the rows a read-then-write transaction reads: FOR NO
	// KEY UPDATE on PostgreSQL, which the foreign keys of tokens and events
	// do not wait for. SQLite needs none: its immediate transactions
	// exclude other writers whole.
	forUpdate string
	// prep prepares the hot writes on PostgreSQL when db is a *bun.DB.
	prep *prepared
	log  *slog.Logger
	// poolChecked runs checkPool at the first use.
	poolChecked sync.Once
	// hook is WithQueryHook's, called around the prepared statements.
	hook bun.QueryHook
	// discarding is set while settle discards idle connections after a
	// timeout, so the calls timing out together start it once.
	discarding atomic.Bool
}

var (
	_ invites.Store       = (*Store)(nil)
	_ invites.UpkeepStore = (*Store)(nil)
)

// Option changes how New builds a Store.
type Option func(*Store)

// WithReader runs the Store's pure reads (Get, List, Lookup, History,
// Stats) on
// r, and everything that writes on the db of New. On SQLite, where one
// connection writes, r is the read pool of sqlitedb.OpenReader on the same
// file, so a long list of one tenant does not stall another's Get.
//
// r must see every write db committed the moment it commits: the same
// database, not a replica that lags. Use it with a *bun.DB only: a Store on
// a bun.Tx must read that transaction's own writes, which r cannot see.
func WithReader(r bun.IDB) Option { return func(s *Store) { s.reader = r } }

// New returns a Store on db, which must be PostgreSQL or SQLite with the
// tables of Migrate. On a bun.Tx the Store joins that transaction: its
// writes commit or roll back with it, and its own transactions become
// savepoints.
func New(db bun.IDB, opts ...Option) *Store {
	s := &Store{db: db, reader: db, log: slog.Default()}
	if db.Dialect().Name() == dialect.PG {
		s.pg, s.forUpdate = true, " FOR NO KEY UPDATE"
	}
	if d, ok := db.(*bun.DB); ok && s.pg {
		s.prep = &prepared{db: d.DB, m: map[string]*sql.Stmt{}}
		// Closing deallocates on each connection: not on the cleanup
		// goroutine, which must not wait.
		runtime.AddCleanup(s, func(p *prepared) { go p.close() }, s.prep)
	}
	for _, o := range opts {
		o(s)
	}
	s.installHook()
	return s
}

type txKey struct{}

// TxFromContext returns the transaction the Hook of a Change
// (Config.OnAccept) runs in, from the context the hook is given, so the
// host's writes commit or roll back with the accept. ok is false outside
// the hook.
//
// Write through it, not through the *bun.DB: on SQLite another connection
// would wait for the accept's transaction to end, which waits for the hook.
func TxFromContext(ctx context.Context) (tx bun.Tx, ok bool) {
	tx, ok = ctx.Value(txKey{}).(bun.Tx)
	return tx, ok
}

// inTx runs fn in a transaction of s.db (a savepoint when s.db is a
// transaction already). A transaction that failed on a prepared statement
// the server lost (see prepared) changed nothing and ran nothing after
// that statement: the Store has stopped preparing, and fn runs again.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	err := s.db.RunInTx(ctx, nil, fn)
	if s.prep != nil && lost(err) {
		s.stopPreparing(ctx, err)
		err = s.db.RunInTx(ctx, nil, fn)
	}
	return err
}

// notFound turns sql.ErrNoRows into err; other errors pass through with
// the store's name on them.
func notFound(err error, as error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return as
	}
	return wrap(err)
}

// wrap names the store on err, and marks it ErrUnavailable when the
// database could not answer (see unavailable), keeping err in the chain.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, invites.ErrUnavailable):
		return err
	case unavailable(err):
		return fmt.Errorf("bunstore: %w: %w", invites.ErrUnavailable, err)
	}
	return fmt.Errorf("bunstore: %w", err)
}
