package bunstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"
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

// discardWait bounds how long discardIdle waits for each idle connection:
// pgx checks one idle for over a second with a ping, which a connection
// the network swallowed never answers, and failing it closes it too.
const discardWait = 100 * time.Millisecond

// settle, deferred by each method, discards the idle connections of the
// Store's pools when the method failed in a way that dooms them too.
//
// When the server cannot write, so the next call opens a new connection
// and the driver's host selection runs again: with a multi-host DSN and
// target_session_attrs=read-write, pgx then finds the writable host. The
// connection the call used is idle again by then (the method's
// transaction or statement has released it); one another call holds
// meets the same answer at its next write and goes then.
//
// When the call's deadline passed, in the background: the network may
// have swallowed its connection (a blackhole keeps the socket open and
// silent), and then the idle ones too, each of which would cost a later
// call its whole deadline, after the network is back as well. A timeout
// from a slow statement costs the pool a reconnection per idle session.
//
// It works on any *sql.DB the host built, with any driver: database/sql
// closes a connection whose Conn.Raw answers driver.ErrBadConn.
func (s *Store) settle(err *error) {
	if *err == nil || !s.pg {
		return
	}
	switch {
	case cannotWrite(*err):
		s.discardIdle()
	case errors.Is(*err, context.DeadlineExceeded) && s.discarding.CompareAndSwap(false, true):
		go func() {
			defer s.discarding.Store(false)
			s.discardIdle()
		}()
	}
}

// discardIdle closes the connections the Store's pools hold idle, one at
// a time, each within discardWait. It stops once a pool shows none idle
// rather than open a connection or wait for one in use.
func (s *Store) discardIdle() {
	for _, db := range s.pools() {
		for n := db.Stats().Idle; n > 0 && db.Stats().Idle > 0; n-- {
			ctx, cancel := context.WithTimeout(context.Background(), discardWait)
			if c, err := db.Conn(ctx); err == nil {
				_ = c.Raw(func(any) error { return driver.ErrBadConn })
				c.Close()
			}
			cancel()
		}
	}
}
