package bunstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"
)

// pgEscapes is pgdialect writing every text, bytea and JSON value as an
// escape string, E'...' with each backslash and quote doubled: PostgreSQL
// reads an E'...' literal the same whatever standard_conforming_strings says,
// where bun's '...' (quotes doubled, backslashes kept) is safe only while
// it is on. One is made for each statement, to note a NUL it met.
type pgEscapes struct {
	*pgdialect.Dialect
	nul bool
}

// pgBase is the pgdialect pgEscapes builds on; it has no tables of ours.
var pgBase = pgdialect.New()

// AppendString writes s as an escape string; a NUL, which PostgreSQL text
// cannot hold, is noted and left out (the statement is not sent).
func (d *pgEscapes) AppendString(b []byte, s string) []byte {
	b = append(b, "E'"...)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b = append(b, c, c)
		case 0:
			d.nul = true
		default:
			b = append(b, c)
		}
	}
	return append(b, '\'')
}

// AppendBytes writes bs as bytea's hex form in an escape string.
func (d *pgEscapes) AppendBytes(b, bs []byte) []byte {
	if bs == nil {
		return dialect.AppendNull(b)
	}
	b = append(b, `E'\\x`...)
	b = hex.AppendEncode(b, bs)
	return append(b, '\'')
}

// AppendJSON writes the JSON text as an escape string.
func (d *pgEscapes) AppendJSON(b, jsonb []byte) []byte { return d.AppendString(b, string(jsonb)) }

// errNUL refuses a text value holding NUL before it reaches PostgreSQL.
var errNUL = fmt.Errorf("%w: text holds a NUL character, which PostgreSQL cannot store", invites.ErrInvalidInput)

// format returns q with args in it as PostgreSQL reads it whatever its
// session settings, or errNUL.
func format(q string, args []any) (string, error) {
	if len(args) == 0 {
		return q, nil
	}
	d := &pgEscapes{Dialect: pgBase}
	out := string(schema.NewQueryGen(d).AppendQuery(nil, q, args...))
	if d.nul {
		return "", errNUL
	}
	return out, nil
}

// runner runs the Store's statements on db: on PostgreSQL formatted by
// format, then handed to bun whole, so bun's hooks still see them; on
// SQLite, whose literals have no escapes, formatted by bun.
type runner struct{ db bun.IDB }

// on returns the runner of db. Every statement of the Store with values
// runs through one (or is prepared, with its values bound).
func on(db bun.IDB) runner { return runner{db} }

// text returns the statement to hand bun for q and args: "?" with the
// formatted text as its one, verbatim, argument, so bun formats nothing
// in it, not even a named argument of the host's *bun.DB.
func (r runner) text(q string, args []any) (string, []any, error) {
	if r.db.Dialect().Name() != dialect.PG {
		return q, args, nil
	}
	s, err := format(q, args)
	if err != nil || !strings.Contains(s, "?") {
		return s, nil, err
	}
	return "?", []any{bun.Safe(s)}, nil
}

func (r runner) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q, args, err := r.text(q, args)
	if err != nil {
		return nil, err
	}
	return r.db.ExecContext(ctx, q, args...)
}

func (r runner) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q, args, err := r.text(q, args)
	if err != nil {
		return nil, err
	}
	return r.db.QueryContext(ctx, q, args...)
}

func (r runner) QueryRowContext(ctx context.Context, q string, args ...any) scanner {
	q, args, err := r.text(q, args)
	if err != nil {
		return failed{err}
	}
	return r.db.QueryRowContext(ctx, q, args...)
}

// failed is a row whose statement was not sent.
type failed struct{ err error }

func (f failed) Scan(...any) error { return f.err }
