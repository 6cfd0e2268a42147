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
//   - synchronous(NORMAL): safe with WAL, and much faster than FULL.
//
// The settings are written for both drivers sqliteshim may pick:
// modernc.org/sqlite (_pragma) and, built with cgo and the cgosqlite tag,
// mattn/go-sqlite3 (_journal_mode and the like); each ignores the other's.
func DSN(path string) string { return dsn(path, false) }

// ReaderDSN is the data source name OpenReader uses: DSN's settings, but
// query_only(1), so no statement can write, and deferred transactions,
// which take no lock until they read (an immediate one would take the
// write lock and queue behind the writer).
func ReaderDSN(path string) string { return dsn(path, true) }

func dsn(path string, reader bool) string {
	q := url.Values{}
	pragmas := []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"}
	if reader {
		pragmas = append(pragmas, "query_only(1)")
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	if reader {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + strings.ReplaceAll(path, "?", "%3F") + "?" + q.Encode()
}

// Open opens (creating if need be) the SQLite database at path for bun,
// with the settings of DSN, on a single connection. Run bunstore.Migrate on
// it before use.
//
// SQLite runs one writer at a time, and its busy handler is no queue: with
// hundreds of writers waiting on busy_timeout, some starve past it. One
// connection makes the process's statements queue in database/sql instead,
// in order, bounded only by their contexts. Reads would queue too: give
// them the pool of OpenReader (bunstore.WithReader). Code inside
// Config.OnAccept must use bunstore.TxFromContext, not the *bun.DB, or it
// waits for its own transaction.
func Open(path string) (*bun.DB, error) {
	db, err := open(DSN(path), path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// readerConns is how many connections OpenReader's pool holds at most.
var readerConns = max(4, runtime.GOMAXPROCS(0))

// OpenReader opens a pool of read-only connections (GOMAXPROCS, at least 4), with the
// settings of ReaderDSN, on the database at path, which Open made: pass it
// to bunstore.New with bunstore.WithReader. In WAL mode readers run beside
// each other and beside the writer, each statement on the database as its
// last commit left it, so a scan of one tenant does not hold up another
// tenant's Get.
func OpenReader(path string) (*bun.DB, error) {
	db, err := open(ReaderDSN(path), path)
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
