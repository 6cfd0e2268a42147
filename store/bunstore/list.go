package bunstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// List implements invites.Store in one statement: the page, each row
// carrying the count of all that match the filters. Every filter starts at
// the tenant, so the tenant's paging index bounds the rows it reads; the
// keyset cursor seeks in that index instead of counting past rows. On
// PostgreSQL a filtered, offset or status-ordered page is picked by id
// before its rows are read (a deferred join): its paging indexes cover the
// filtered columns, so the page reads from the table only the rows it
// returns (status, computed at Now, is read one status at a time: see
// statusPage). A page with nothing to skip reads only its rows anyway, in
// one pass, as SQLite always does: its indexes cover nothing, and the join
// costs it a temporary sort, and PostgreSQL more planning than reading.
func (s *Store) List(ctx context.Context, p invites.ListParams) (_ []invites.Invite, _ int, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	db, ok := s.reader.(*bun.DB)
	if !s.pg || p.Timeout <= 0 || !ok || !mayScan(p) {
		// SQLite stops a statement when ctx ends, which the Service bounds
		// by p.Timeout. On a bun.Tx, SET LOCAL would outlast the list in
		// the host's transaction.
		return s.list(ctx, s.reader, s.listQuery(p))
	}
	// pgx cancels a statement whose context ends by asking the server on a
	// second connection, which may come too late or not at all; the
	// server's own statement_timeout stops the scan where it runs. SET
	// LOCAL holds it to this transaction, whose connection goes back to
	// the pool as it was.
	var (
		out     []invites.Invite
		total   int
		listErr error // wrapped by list already
	)
	lq := s.listQuery(p)
	if stmt := lq.prepared(s); stmt != "" && s.prepares(db) {
		s.warm(ctx, stmt) // before the transaction holds a connection
	}
	bounded := func() error {
		return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			ms := max(1, p.Timeout.Milliseconds()) // 0 would turn the bound off
			if _, err := on(tx).ExecContext(ctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(ms, 10)); err != nil {
				return err
			}
			out, total, listErr = s.list(ctx, tx, lq)
			return listErr
		})
	}
	err = bounded()
	if s.prep != nil && lost(err) {
		// The server lost the prepared page, before running it: as inTx.
		s.stopPreparing(ctx, err)
		listErr = nil
		err = bounded()
	}
	switch {
	case listErr != nil:
		return nil, 0, listErr
	case err != nil:
		return nil, 0, wrap(err)
	}
	return out, total, nil
}

// mayScan tells the lists whose filters compare every row of the tenant
// (patterns, search, not-equal and not-in, status as read at Now) or that
// skip many rows: those PostgreSQL bounds on the server. A plain page is
// served from the tenant's index in a few rows, and its three round trips
// of BEGIN, SET LOCAL and COMMIT would cost it more than the list itself
// (GET / through the HTTP adapter fell from 0.76 of bare pgx to 0.57-0.72);
// it stays bounded by its context, which the Service ends at p.Timeout.
func mayScan(p invites.ListParams) bool {
	w := p.Where
	st := w.Status
	if p.Search != "" || p.Order.Field == invites.OrderStatus || p.Offset > 1000 ||
		w.ID.NotEqualTo != uuid.Nil || len(w.ID.ValueNotIn) > 0 ||
		st.EqualTo != "" || st.NotEqualTo != "" || len(st.ValueIn) > 0 || len(st.ValueNotIn) > 0 {
		return true
	}
	for _, f := range []invites.StringFilter{w.Email, w.FirstName, w.LastName, w.Locale,
		{ValueFilter: w.CreatedByUserID}, {ValueFilter: w.AcceptedByUserID}} {
		if f.Like != "" || f.ILike != "" || f.NotEqualTo != nil || len(f.ValueNotIn) > 0 {
			return true
		}
	}
	return false
}

// listQuery is the statement of a List, built once for where it runs.
type listQuery struct {
	q, where  string
	all, args []any // of q, and of where alone
}

// prepared returns the statement to prepare for q, or "" for none: a page
// with no filter but its tenant, the most asked for, in a few dozen texts
// (order, direction, cursor, offset, and in status order the statuses
// left after the cursor).
func (lq listQuery) prepared(s *Store) string {
	if !s.pg || len(lq.args) != 1 {
		return ""
	}
	return numbered(lq.q)
}

// listQuery builds the statement of p.
func (s *Store) listQuery(p invites.ListParams) listQuery {
	where, args := s.filters(p)

	key := "created_at"
	switch p.Order.Field {
	case invites.OrderUpdatedAt:
		key = "updated_at"
	case invites.OrderEmail:
		key = "email_norm"
	case invites.OrderStatus:
		key = s.statusAt()
	case invites.OrderFirstName:
		key = "first_name_fold"
	case invites.OrderLastName:
		key = "last_name_fold"
	case invites.OrderLocale:
		key = "locale"
	}
	dir, cmp := " ASC", ">"
	if p.Order.Desc {
		dir, cmp = " DESC", "<"
	}

	page := where
	pageArgs := append([]any(nil), args...)
	if p.After != nil {
		page += " AND (" + key + ", id) " + cmp + " (?, ?)"
		if p.Order.Field == invites.OrderStatus {
			pageArgs = append(pageArgs, at(p.Now))
		}
		var v any = p.After.Text
		if key == "created_at" || key == "updated_at" {
			v = at(p.After.Time)
		}
		pageArgs = append(pageArgs, v, p.After.ID)
	}
	if p.Order.Field == invites.OrderStatus {
		pageArgs = append(pageArgs, at(p.Now)) // the inner ORDER BY's
	}
	sort := " ORDER BY " + key + dir + ", id" + dir
	var limit string
	if p.Limit > 0 {
		pageArgs = limitTo(&limit, pageArgs, p.Limit)
	} else {
		limit = " " + s.noLimit()
	}
	if p.Offset > 0 {
		limit += " OFFSET ?"
		pageArgs = append(pageArgs, p.Offset)
	}
	count := "SELECT " + inviteCols + ", (SELECT count(*) FROM invites WHERE " + where + ") FROM invites WHERE "
	all := append(append([]any(nil), args...), pageArgs...)
	q := count + page + sort + limit
	switch {
	case s.pg && p.Order.Field == invites.OrderStatus:
		ids, idArgs := statusPage(p, where, args)
		q = count + "id IN (" + ids + ")" + sort
		all = slices.Concat(args, idArgs, []any{at(p.Now)})
	case s.pg && (len(args) > 1 || p.Offset > 0):
		q = count + "id IN (SELECT id FROM invites WHERE " + page + sort + limit + ")" + sort
	}
	return listQuery{q: q, where: where, all: all, args: args}
}

// list runs lq on db: prepared where lq allows and db is the Store's own
// pool or a transaction of it (see List).
func (s *Store) list(ctx context.Context, db bun.IDB, lq listQuery) ([]invites.Invite, int, error) {
	where, args, q, all := lq.where, lq.args, lq.q, lq.all
	out := []invites.Invite{}
	total := -1
	each := func(r scanner) error {
		var n int
		inv, err := scanInvite(scanExtra{r, &n})
		out, total = append(out, inv), n
		return err
	}
	var err error
	stmt := lq.prepared(s)
	tx, inTx := db.(bun.Tx)
	switch {
	case stmt != "" && s.prepares(db):
		err = s.queryEach(ctx, stmt, all, each)
	case stmt != "" && inTx && s.prepares(s.reader):
		// List's transaction on the reader, the Store's own pool.
		err = s.queryIn(ctx, tx, stmt, all, each)
	default:
		var rows *sql.Rows
		if rows, err = on(db).QueryContext(ctx, q, all...); err == nil {
			err = eachRow(rows, each)
		}
	}
	if err != nil {
		return nil, 0, wrap(err)
	}
	if total < 0 {
		// An empty page carries no count: ask for it alone.
		if err := on(db).QueryRowContext(ctx, "SELECT count(*) FROM invites WHERE "+where, args...).Scan(&total); err != nil {
			return nil, 0, wrap(err)
		}
	}
	return out, total, nil
}

func (s *Store) noLimit() string {
	if s.pg {
		return "LIMIT ALL"
	}
	return "LIMIT -1"
}

// filters is the WHERE clause of p's filters, paging aside.
func (s *Store) filters(p invites.ListParams) (string, []any) {
	var b strings.Builder
	b.WriteString("tenant_id = ?")
	c := &clauses{b: &b, args: []any{p.TenantID}}
	if p.Search != "" {
		pat := contains(fold(p.Search))
		c.and("(email_norm LIKE ? ESCAPE '!' OR first_name_fold LIKE ? ESCAPE '!' OR last_name_fold LIKE ? ESCAPE '!')",
			pat, pat, pat)
	}
	if !p.CreatedAfter.IsZero() {
		c.and("created_at >= ?", at(p.CreatedAfter))
	}
	if !p.CreatedBefore.IsZero() {
		c.and("created_at < ?", at(p.CreatedBefore))
	}
	s.where(c, p)
	return b.String(), c.args
}

// statusIn is the condition that the status as read at now is one of sts.
func statusIn(sts []invites.Status, now time.Time) (string, []any) {
	var b strings.Builder
	var args []any
	b.WriteString("(")
	for i, st := range sts {
		if i > 0 {
			b.WriteString(" OR ")
		}
		switch st {
		case invites.StatusPending:
			b.WriteString("(status = 'pending' AND expires_at > ?)")
			args = append(args, at(now))
		case invites.StatusExpired:
			b.WriteString("(status = 'expired' OR (status = 'pending' AND expires_at <= ?))")
			args = append(args, at(now))
		default:
			b.WriteString("status = ?")
			args = append(args, string(st))
		}
	}
	b.WriteString(")")
	return b.String(), args
}

// scanExtra reads inviteCols and one column more.
type scanExtra struct {
	r     scanner
	extra any
}

func (x scanExtra) Scan(dest ...any) error { return x.r.Scan(append(dest, x.extra)...) }
