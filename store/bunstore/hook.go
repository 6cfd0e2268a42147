package bunstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun"
)

// WithQueryHook runs every statement of the Store through h, as bun runs
// a statement through the hooks of its *bun.DB: for SQL spans and metrics
// on each of them, with github.com/uptrace/bun/extra/bunotel say. A hook
// of the host's *bun.DB misses the statements the Store prepares (see the
// package doc); this one sees those too, with their placeholders
// ($1, ...) in Query and their values, bound apart, in QueryArgs. The
// Store formats its other statements itself (see the package doc's
// Security): on PostgreSQL bun's hooks get them with their values in
// Query and in QueryTemplate alike.
//
// On a bun.Conn or bun.Tx, which have no hooks of their own and on which
// the Store prepares nothing, h is not used: every statement runs through
// the hooks of the *bun.DB they came from.
func WithQueryHook(h bun.QueryHook) Option { return func(s *Store) { s.hook = h } }

// installHook puts s.hook on the Store's *bun.DB (and on WithReader's),
// where bun calls it for every statement bun formats; before and after
// call it for the prepared ones.
func (s *Store) installHook() {
	if s.hook == nil {
		return
	}
	d, ok := s.db.(*bun.DB)
	if !ok {
		s.hook = nil
		return
	}
	s.db = d.WithQueryHook(s.hook)
	if r, ok := s.reader.(*bun.DB); ok {
		if r == d {
			s.reader = s.db
		} else {
			s.reader = r.WithQueryHook(s.hook)
		}
	}
}

// before calls the hook as a prepared statement of q (numbered
// placeholders) is about to run with args, and returns the context to run
// it in and the event for after; nil without a hook.
func (s *Store) before(ctx context.Context, q string, args []any) (context.Context, *bun.QueryEvent) {
	if s.hook == nil {
		return ctx, nil
	}
	e := &bun.QueryEvent{DB: s.db.(*bun.DB), Query: dollars(q), QueryTemplate: q, QueryArgs: args, StartTime: time.Now()}
	return s.hook.BeforeQuery(ctx, e), e
}

// after calls the hook as the statement of e has run.
func (s *Store) after(ctx context.Context, e *bun.QueryEvent, res sql.Result, err error) {
	if e == nil {
		return
	}
	e.Result, e.Err = res, err
	s.hook.AfterQuery(ctx, e)
}
