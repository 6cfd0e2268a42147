package bunstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// prepared holds the statements of one *sql.DB that the Store prepares
// instead of having bun inline their values (the hot paths: see the
// package doc), whose plans PostgreSQL would otherwise make anew on every
// call, as much server time as running them.
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
// statement, formatted by bun. A prepared statement runs through the
// hook of WithQueryHook (see before), not bun's.
func (s *Store) queryRow(ctx context.Context, db bun.IDB, q string, args ...any) scanner {
	if s.prep == nil || s.prep.off.Load() {
		return on(db).QueryRowContext(ctx, q, args...)
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
		// the transaction: the Store stops preparing, and inTx runs it
		// again.
		if st := s.prep.cached(q); st != nil {
			ctx, e := s.before(ctx, q, args)
			return txRow{s, ctx, e, d.Tx.StmtContext(ctx, st).QueryRowContext(ctx, bound(args)...)}
		}
	}
	return on(db).QueryRowContext(ctx, q, args...)
}

// queryEach runs q, with numbered placeholders, on the Store's own
// *bun.DB outside any transaction, and calls each for every row: prepared,
// with its values bound, on PostgreSQL; should the server have lost the
// statement, once more unprepared, as fallback does.
func (s *Store) queryEach(ctx context.Context, q string, args []any, each func(scanner) error) error {
	if s.prep != nil && !s.prep.off.Load() {
		err := s.eachPrepared(ctx, q, args, each)
		if !lost(err) {
			return err
		}
		s.stopPreparing(ctx, err)
	}
	rows, err := on(s.db).QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, each)
}

// prepares reports whether a statement run on db may run prepared: db is
// the Store's own *bun.DB, on PostgreSQL, and the server keeps prepared
// statements.
func (s *Store) prepares(db bun.IDB) bool {
	d, ok := db.(*bun.DB)
	return ok && s.prep != nil && !s.prep.off.Load() && d.DB == s.prep.db
}

// numbered returns q with its ? placeholders numbered in order (?0, ?1,
// ...), as the prepared statements take them. q must hold no ? but its
// placeholders.
func numbered(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 32)
	n := 0
	for _, part := range strings.SplitAfter(q, "?") {
		b.WriteString(part)
		if strings.HasSuffix(part, "?") {
			b.WriteString(strconv.Itoa(n))
			n++
		}
	}
	return b.String()
}

// eachPrepared runs the statement of q and calls f for every row.
func (s *Store) eachPrepared(ctx context.Context, q string, args []any, f func(scanner) error) error {
	st, err := s.prep.stmt(ctx, q)
	if err != nil {
		return err
	}
	ctx, e := s.before(ctx, q, args)
	rows, err := st.QueryContext(ctx, bound(args)...)
	s.after(ctx, e, nil, err)
	if err != nil {
		return err
	}
	return eachRow(rows, f)
}

// eachRow calls f for every row of rows, and closes them.
func eachRow(rows *sql.Rows, f func(scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// warm prepares the statements of qs, outside any transaction, so a
// transaction can then run them prepared (see execIn) without waiting
// for a second connection to prepare on.
func (s *Store) warm(ctx context.Context, qs ...string) {
	if s.prep == nil || s.prep.off.Load() {
		return
	}
	for _, q := range qs {
		if _, err := s.prep.stmt(ctx, q); lost(err) {
			s.stopPreparing(ctx, err)
		}
	}
}

// execIn runs q, with numbered placeholders, in tx, a transaction of the
// Store's *bun.DB: prepared once warm, else formatted by bun.
func (s *Store) execIn(ctx context.Context, tx bun.Tx, q string, args ...any) error {
	if s.prep != nil && !s.prep.off.Load() {
		if st := s.prep.cached(q); st != nil {
			ctx, e := s.before(ctx, q, args)
			res, err := tx.Tx.StmtContext(ctx, st).ExecContext(ctx, bound(args)...)
			s.after(ctx, e, res, err)
			return err
		}
	}
	_, err := on(tx).ExecContext(ctx, q, args...)
	return err
}

// queryIn runs q, with numbered placeholders, in tx, a transaction of the
// Store's *bun.DB, and calls each for every row: prepared once warm, else
// formatted by bun.
func (s *Store) queryIn(ctx context.Context, tx bun.Tx, q string, args []any, each func(scanner) error) error {
	if s.prep != nil && !s.prep.off.Load() {
		if st := s.prep.cached(q); st != nil {
			ctx, e := s.before(ctx, q, args)
			rows, err := tx.Tx.StmtContext(ctx, st).QueryContext(ctx, bound(args)...)
			s.after(ctx, e, nil, err)
			if err != nil {
				return err
			}
			return eachRow(rows, each)
		}
	}
	rows, err := on(tx).QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, each)
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
		ctx, e := f.s.before(f.ctx, f.q, f.args)
		err = st.QueryRowContext(ctx, bound(f.args)...).Scan(dest...)
		f.s.after(ctx, e, nil, err)
	}
	if !lost(err) {
		return err
	}
	f.s.stopPreparing(f.ctx, err)
	return on(f.db).QueryRowContext(f.ctx, f.q, f.args...).Scan(dest...)
}

// txRow is a prepared statement's row inside a transaction, and the
// hook's event of it (see before).
type txRow struct {
	s   *Store
	ctx context.Context
	e   *bun.QueryEvent
	row *sql.Row
}

func (r txRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	r.s.after(r.ctx, r.e, nil, err)
	if lost(err) {
		r.s.stopPreparing(context.Background(), err) // inTx runs the transaction again
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
		switch v := a.(type) {
		case ts:
			a = time.Time(v)
		case byteaArray:
			a = [][]byte(v)
		case textArray:
			a = []string(v)
		case jsonText:
			a = nil
			if !v.none() {
				a = string(v)
			}
		case roleList:
			a = v.json()
		}
		out[i] = a
	}
	return out
}

// byteaArray is a bytea[] value: bound as it is to a prepared statement,
// written by bun as an ARRAY of bytea literals.
type byteaArray [][]byte

// AppendQuery writes the array as a SQL literal.
func (a byteaArray) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	b = append(b, "ARRAY["...)
	for i, v := range a {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = gen.Dialect().AppendBytes(b, v)
	}
	return append(b, "]::bytea[]"...), nil
}

// textArray is a text[] value: bound as it is to a prepared statement,
// written by bun as an ARRAY of string literals.
type textArray []string

// AppendQuery writes the array as a SQL literal.
func (a textArray) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	b = append(b, "ARRAY["...)
	for i, v := range a {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = gen.Dialect().AppendString(b, v)
	}
	return append(b, "]::text[]"...), nil
}
