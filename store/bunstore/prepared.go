package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// prepared holds the statements of one *sql.DB that the Store prepares
// instead of having bun inline their values: the accept of a link (and
// decline, and cancel), whose plan PostgreSQL would otherwise make anew on
// every call, at about twice the server time of running it prepared.
// Each is prepared on first use; database/sql then prepares it once on
// each connection it runs on.
type prepared struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// off is set once the server lost a statement the pool prepared: a
	// pooler in transaction mode (PgBouncer before 1.21) hands each
	// transaction another server connection, which never saw it. From
	// then on every statement goes unprepared.
	off atomic.Bool
}

// lost reports whether err says the connection does not have, or already
// has, a statement the pool prepared (SQLSTATE 26000, 42P05): raised
// before the statement runs, so running it again unprepared is safe.
func lost(err error) bool {
	switch sqlState(err) {
	case "26000", "42P05":
		return true
	}
	return false
}

// cached returns the statement of q if it is prepared already.
func (p *prepared) cached(q string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[q]
}

// stmt returns the statement of q, whose placeholders are numbered as
// bun's (?0, ?1, ...), preparing it the first time. Preparing takes a
// connection of the pool, so it holds no lock meanwhile, and a caller
// holding a connection (a transaction) must not call it: with the pool
// exhausted it would wait for itself.
func (p *prepared) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := p.cached(q); st != nil {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, dollars(q))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	old, ok := p.m[q]
	if !ok {
		p.m[q] = st
	}
	p.mu.Unlock()
	if ok { // another caller prepared it meanwhile
		st.Close()
		return old, nil
	}
	return st, nil
}

// close closes the statements, on each connection they were prepared on.
func (p *prepared) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.m {
		st.Close()
	}
	clear(p.m)
}

// dollars turns bun's numbered placeholders ?0, ?1, ... into PostgreSQL's
// $1, $2, .... A ? followed by no digit is left alone.
func dollars(q string) string {
	b := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if q[i] != '?' || j == i+1 {
			b = append(b, q[i])
			continue
		}
		n, _ := strconv.Atoi(q[i+1 : j]) // digits only, so no error
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(n+1), 10)
		i = j - 1
	}
	return string(b)
}

// queryRow runs q, with numbered placeholders, on db: prepared, with its
// values bound, when db is the Store's *bun.DB, or a transaction of it once
// the statement is prepared (on PostgreSQL); otherwise, as every other
// statement, formatted by bun. A prepared statement bypasses bun's query
// hooks.
func (s *Store) queryRow(ctx context.Context, db bun.IDB, q string, args ...any) scanner {
	if s.prep == nil || s.prep.off.Load() {
		return db.QueryRowContext(ctx, q, args...)
	}
	switch d := db.(type) {
	case *bun.DB:
		if d.DB == s.prep.db {
			return fallback{s, ctx, db, q, args}
		}
	case bun.Tx:
		// A transaction of s.db's, from inTx (the Store's own db is a
		// *bun.DB whenever prep is set): it runs the statement on its
		// connection, prepared there if need be. A lost statement aborts
		// the transaction: the Store stops preparing, and the caller may
		// try again.
		if st := s.prep.cached(q); st != nil {
			return txRow{s, d.Tx.StmtContext(ctx, st).QueryRowContext(ctx, bound(args)...)}
		}
	}
	return db.QueryRowContext(ctx, q, args...)
}

// fallback runs its statement prepared and, should the server have lost
// it, once more unprepared, the Store preparing nothing from then on.
type fallback struct {
	s    *Store
	ctx  context.Context
	db   bun.IDB
	q    string
	args []any
}

func (f fallback) Scan(dest ...any) error {
	st, err := f.s.prep.stmt(f.ctx, f.q)
	if err == nil {
		err = st.QueryRowContext(f.ctx, bound(f.args)...).Scan(dest...)
	}
	if !lost(err) {
		return err
	}
	f.s.stopPreparing(f.ctx, err)
	return f.db.QueryRowContext(f.ctx, f.q, f.args...).Scan(dest...)
}

// txRow is a prepared statement's row inside a transaction.
type txRow struct {
	s   *Store
	row *sql.Row
}

func (r txRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if lost(err) {
		r.s.stopPreparing(context.Background(), err)
		return fmt.Errorf("%w: the server lost a prepared statement; try again: %w", invites.ErrUnavailable, err)
	}
	return err
}

// stopPreparing turns the Store's prepared statements off for good, and
// says so once.
func (s *Store) stopPreparing(ctx context.Context, err error) {
	if s.prep.off.CompareAndSwap(false, true) {
		s.log.WarnContext(ctx, "bunstore: the server lost a prepared statement, as behind a pooler in transaction mode "+
			"(PgBouncer before 1.21); the Store sends every statement unprepared from now on", "err", err)
	}
}

// bound turns the values bun formats itself into ones a driver binds.
func bound(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if t, ok := a.(ts); ok {
			a = time.Time(t)
		}
		out[i] = a
	}
	return out
}
