// Package sqlitedb opens a SQLite database for bunstore the way concurrent
// use needs it. It is a package of its own so that hosts on PostgreSQL do
// not link a SQLite driver.
package sqlitedb

import (
	"database/sql"
	"fmt"
	"net/url"
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
func DSN(path string) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	return "file:" + strings.ReplaceAll(path, "?", "%3F") + "?" + q.Encode()
}

// Open opens (creating if need be) the SQLite database at path for bun,
// with the settings of DSN, on a single connection. Run bunstore.Migrate on
// it before use.
//
// SQLite runs one writer at a time, and its busy handler is no queue: with
// hundreds of writers waiting on busy_timeout, some starve past it. One
// connection makes the process's statements queue in database/sql instead,
// in order, bounded only by their contexts. The cost: reads queue too, and
// code inside Config.OnAccept must use bunstore.Tx, not the *bun.DB, or it
// waits for its own transaction.
func Open(path string) (*bun.DB, error) {
	sqldb, err := sql.Open(sqliteshim.ShimName, DSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: %w", err)
	}
	if err := sqldb.Ping(); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlitedb: opening %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(1)
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}
