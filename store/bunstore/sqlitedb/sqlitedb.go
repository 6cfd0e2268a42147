// Package sqlitedb opens a SQLite database for bunstore the way concurrent
// use needs it. It is a package of its own so that hosts on PostgreSQL do
// not link a SQLite driver.
package sqlitedb

import (
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// DSN is the data source name Open uses for the file at path:
//
//   - journal_mode(WAL): readers never wait for the writer;
//   - busy_timeout(10000): a writer waits up to 10 s for another instead
//     of failing at once with SQLITE_BUSY;
//   - _txlock=immediate: a transaction takes the write lock at BEGIN, so
//     one that reads and then writes cannot fail half-way when another
//     writer got there first (SQLite cannot wait its way out of that);
//   - foreign_keys(1): SQLite checks REFERENCES only when asked;
//   - synchronous(FULL): a commit is on disk before it returns, so a
//     claimed token is durable before its email leaves and an accept the
//     host acted on survives a power loss; SynchronousNormal trades that
//     for speed.
//
// The settings are written for both drivers sqliteshim may pick:
// modernc.org/sqlite (_pragma) and, built with cgo and the cgosqlite tag,
// mattn/go-sqlite3 (_journal_mode and the like); each ignores the other's.
func DSN(path string, opts ...Option) string { return dsn(path, false, opts) }

// ReaderDSN is the data source name OpenReader uses: DSN's settings, but
// query_only(1), so no statement can write, and deferred transactions,
// which take no lock until they read (an immediate one would take the
// write lock and queue behind the writer).
func ReaderDSN(path string, opts ...Option) string { return dsn(path, true, opts) }

// Option changes a setting of DSN, ReaderDSN, Open and OpenReader.
type Option func(*settings)

type settings struct{ synchronous string }

// SynchronousNormal runs synchronous(NORMAL) instead of FULL: with WAL the
// database stays consistent, but the WAL is synced only at checkpoints, so
// an OS crash or power loss (not a crash of the process) can roll back the
// last commits. An invite a host saw accepted, and granted membership for
// in Config.OnAccept, may then be pending again, and a token already
// mailed may be unknown. Use it only where that loss is acceptable (tests,
// demos, disposable data), for the speed the package's benchmark
// BenchmarkSQLiteSynchronous measures.
func SynchronousNormal() Option { return func(s *settings) { s.synchronous = "NORMAL" } }

func dsn(path string, reader bool, opts []Option) string {
	set := settings{synchronous: "FULL"}
	for _, o := range opts {
		o(&set)
	}
	q := url.Values{}
	pragmas := []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(" + set.synchronous + ")"}
	if reader {
		pragmas = append(pragmas, "query_only(1)")
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", set.synchronous)
	if reader {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + strings.ReplaceAll(path, "?", "%3F") + "?" + q.Encode()
}

// Open opens (creating if need be) the SQLite database at path for bun,
// with the settings of DSN and opts, on a single connection. Run
// bunstore.Migrate on it before use.
//
// SQLite runs one writer at a time, and its busy handler is no queue: with
// hundreds of writers waiting on busy_timeout, some starve past it. One
// connection makes the process's statements queue in database/sql instead,
// in order, bounded only by their contexts. Reads would queue too: give
// them the pool of OpenReader (bunstore.WithReader). Code inside
// Config.OnAccept must use bunstore.TxFromContext, not the *bun.DB, or it
// waits for its own transaction.
func Open(path string, opts ...Option) (*bun.DB, error) {
	db, err := open(DSN(path, opts...), path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// readerConns is how many connections OpenReader's pool holds at most.
var readerConns = max(4, runtime.GOMAXPROCS(0))

// OpenReader opens a pool of read-only connections (GOMAXPROCS, at least
// 4), with the settings of ReaderDSN and opts, on the database at path, which Open made: pass it
// to bunstore.New with bunstore.WithReader. In WAL mode readers run beside
// each other and beside the writer, each statement on the database as its
// last commit left it, so a scan of one tenant does not hold up another
// tenant's Get.
func OpenReader(path string, opts ...Option) (*bun.DB, error) {
	db, err := open(ReaderDSN(path, opts...), path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(readerConns)
	db.SetMaxIdleConns(readerConns)
	return db, nil
}

func open(dsn, path string) (*bun.DB, error) {
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: %w", err)
	}
	if err := sqldb.Ping(); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlitedb: opening %s: %w", path, err)
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}
