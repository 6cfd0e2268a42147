package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"

	"github.com/uptrace/bun"
)

// cannotWrite reports whether err is the server saying it cannot write
// now: SQLSTATE 25006 read_only_sql_transaction, which a primary demoted
// to read-only (default_transaction_read_only, as pg_auto_failover sets
// it) and a hot standby ("cannot execute INSERT in a read-only
// transaction") answer alike. The request is fine; the node is not the
// primary, or not yet again.
func cannotWrite(err error) bool {
	return sqlState(err) == "25006"
}

// discardWait bounds how long settle waits for the pool to hand over its
// idle connections.
const discardWait = time.Second

// settle, deferred by each method that writes, discards the idle
// connections of the Store's pools when the method failed because the
// server cannot write, so the next call opens a new one and the driver's
// host selection runs again: with a multi-host DSN and
// target_session_attrs=read-write, pgx then finds the writable host. The
// connection the call used is idle again by then (the method's
// transaction or statement has released it); one another call holds
// meets the same answer at its next write and goes then. It works on any
// *sql.DB the host built, with any driver: database/sql closes a
// connection whose Conn.Raw answers driver.ErrBadConn.
func (s *Store) settle(err *error) {
	if *err == nil || !s.pg || !cannotWrite(*err) {
		return
	}
	seen := map[*sql.DB]bool{}
	for _, idb := range []bun.IDB{s.db, s.reader} {
		if db, ok := idb.(*bun.DB); ok && !seen[db.DB] {
			seen[db.DB] = true
			discardIdle(db.DB)
		}
	}
}

// discardIdle closes the connections db holds idle, taking each out of
// the pool at once so none is handed out twice, and opening none: it
// asks for no more than the pool says it has idle.
func discardIdle(db *sql.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), discardWait)
	defer cancel()
	for _, c := range takeConns(ctx, db, db.Stats().Idle) {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
	}
}
