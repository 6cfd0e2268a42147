package bunstore

import (
	"context"
	"database/sql"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// WithLogger gives the Store the logger of what it notices about its
// setup, such as a pool that will churn connections. Default
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// poolProbe bounds how many connections checkPool opens to see what its
// pool keeps idle.
const poolProbe = 8

// checkPool logs, once, at the Store's first use, each of its pools that
// will open and close connections under load: database/sql keeps 2 idle
// connections unless told otherwise, so a pool allowed more (or any
// number) opens a new session for each request past those and closes it
// again, a PostgreSQL backend each time. It finds what a pool keeps idle
// by opening up to poolProbe connections and handing them back. It logs
// too each pool whose connection attempts have no deadline (dialBounded).
func (s *Store) checkPool(ctx context.Context) {
	for _, db := range s.pools() {
		if !dialBounded(ctx, db) {
			s.log.WarnContext(ctx, "bunstore: the pool's connection attempts have no deadline (pgx without connect_timeout): "+
				"database/sql dials for the calls that wait on a full pool in one goroutine, so an attempt the network "+
				"swallows holds every call waiting for a connection, after the network is back too; add connect_timeout=2 "+
				"to the DSN (the README's failover section says why)")
		}
		st := db.Stats()
		if st.MaxOpenConnections == 0 {
			s.log.WarnContext(ctx, "bunstore: the pool has no bound on open connections: under load it opens one per request "+
				"past those it keeps idle and closes them again; call SetMaxOpenConns and SetMaxIdleConns with the same number "+
				"(docs/production.md, Pool sizing, says which)")
			continue
		}
		n := min(st.MaxOpenConnections, poolProbe)
		if idle := probeIdle(ctx, db, n); idle >= 0 && idle < n {
			s.log.WarnContext(ctx, "bunstore: the pool keeps fewer idle connections than it may open: under load it opens and "+
				"closes them again; call SetMaxIdleConns with the number given to SetMaxOpenConns",
				"maxOpen", st.MaxOpenConnections, "keptIdle", idle)
		}
	}
}

// pools returns the Store's pools, its db's and its reader's when each is
// a *bun.DB, each once.
func (s *Store) pools() []*sql.DB {
	var out []*sql.DB
	for _, idb := range []bun.IDB{s.db, s.reader} {
		if db, ok := idb.(*bun.DB); ok && !slices.Contains(out, db.DB) {
			out = append(out, db.DB)
		}
	}
	return out
}

// dialBounded reports whether db's connection attempts end on their own:
// false for pgx connections without a ConnectTimeout, whose attempt only
// ends with its context, and database/sql's own dialer has none. Other
// drivers, and a pool it cannot take a connection of, are not judged.
func dialBounded(ctx context.Context, db *sql.DB) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := db.Conn(ctx)
	if err != nil {
		return true
	}
	defer c.Close()
	bounded := true
	_ = c.Raw(func(dc any) error {
		if pc, ok := dc.(interface{ Conn() *pgx.Conn }); ok {
			bounded = pc.Conn().Config().ConnectTimeout > 0
		}
		return nil
	})
	return bounded
}

// probeIdle opens n connections of db at once, hands them back, and
// returns how many the pool kept idle, or -1 when it could not tell.
func probeIdle(ctx context.Context, db *sql.DB, n int) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conns := takeConns(ctx, db, n)
	for _, c := range conns {
		c.Close()
	}
	if len(conns) < n {
		return -1
	}
	return db.Stats().Idle
}

// ready checks the Store's pools at its first use (see checkPool).
func (s *Store) ready(ctx context.Context) { s.poolChecked.Do(func() { s.checkPool(ctx) }) }

// takeConns takes up to n connections of db at once, fewer when ctx ends
// or the pool fails first; the caller closes them.
func takeConns(ctx context.Context, db *sql.DB, n int) []*sql.Conn {
	conns := make([]*sql.Conn, 0, n)
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	return conns
}
