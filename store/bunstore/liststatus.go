package bunstore

import (
	"slices"
	"strconv"
	"strings"

	"github.com/invitekit/invites"
)

// readStatuses are the statuses an invite reads as, in the status order's
// ascending (byte) order.
var readStatuses = slices.Sorted(slices.Values([]invites.Status{invites.StatusPending, invites.StatusAccepted,
	invites.StatusDeclined, invites.StatusCanceled, invites.StatusExpired}))

// statusPage is the SQL, and its arguments, of the ids of a page in status
// order on PostgreSQL, whose filters are where (with args): a UNION ALL of
// one branch per status as read at p.Now, in the order's direction, each a
// range of invites_tenant_status_idx read in id order and cut at the
// page's end (offset included). So the page reads about its own rows, not
// all the tenant's sorted by a status computed row by row. Expired is two
// ranges merged by id: stored expired, and pending past expires_at; live
// pending is the pending range less those. Branches the cursor has passed,
// or the status filters rule out, are left out.
func statusPage(p invites.ListParams, where string, args []any) (string, []any) {
	dir, cmp := "", " > "
	if p.Order.Desc {
		dir, cmp = " DESC", " < "
	}
	sts := allowedStatuses(p)
	if p.Order.Desc {
		slices.Reverse(sts)
	}
	var (
		b   strings.Builder
		out []any
	)
	// ids writes one index range of the tenant's: the invites of where
	// and cond (with its arguments), past id when after is set.
	ids := func(cond string, after bool, cargs ...any) {
		b.WriteString("(SELECT id FROM invites WHERE " + where + " AND " + cond)
		out = append(append(out, args...), cargs...)
		if after {
			b.WriteString(" AND id" + cmp + "?")
			out = append(out, p.After.ID)
		}
		b.WriteString(" ORDER BY id" + dir)
		out = limit(&b, out, p.Limit+max(p.Offset, 0), p.Limit > 0)
		b.WriteString(")")
	}
	n := 0
	for _, st := range sts {
		after := false
		if p.After != nil {
			c := strings.Compare(string(st), p.After.Text)
			if p.Order.Desc {
				c = -c
			}
			if c < 0 {
				continue // the cursor is past this status
			}
			after = c == 0
		}
		if n > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("(SELECT id, " + strconv.Itoa(n) + " AS k FROM ")
		n++
		switch st {
		case invites.StatusExpired:
			b.WriteString("(SELECT id FROM (")
			ids("status = 'expired'", after)
			b.WriteString(" UNION ALL ")
			ids("status = 'pending' AND expires_at <= ?", after, at(p.Now))
			b.WriteString(") AS x ORDER BY id" + dir)
			out = limit(&b, out, p.Limit+max(p.Offset, 0), p.Limit > 0)
			b.WriteString(")")
		case invites.StatusPending:
			ids("status = 'pending' AND expires_at > ?", after, at(p.Now))
		default:
			ids("status = ?", after, string(st))
		}
		b.WriteString(" AS r)")
	}
	if n == 0 {
		return "SELECT NULL::uuid WHERE FALSE", nil
	}
	q := "SELECT id FROM (" + b.String() + ") AS b ORDER BY k, id" + dir
	if p.Limit > 0 {
		return q + " LIMIT ? OFFSET ?", append(out, p.Limit, max(p.Offset, 0))
	}
	return q + " OFFSET ?", append(out, max(p.Offset, 0))
}

// limit writes " LIMIT ?" for n when on.
func limit(b *strings.Builder, args []any, n int, on bool) []any {
	if !on {
		return args
	}
	var sql string
	args = limitTo(&sql, args, n)
	b.WriteString(sql)
	return args
}

// servicePage is how many rows the Service asks a page for: its default
// page and one more, to tell whether a next page exists.
const servicePage = invites.DefaultLimit + 1

// limitTo sets *sql to a LIMIT of n and returns args with its argument:
// the Service's page size is written as a literal, so a prepared page's
// plan does not hang on a value PostgreSQL cannot see when it plans, and
// it keeps one generic plan instead of planning each call anew.
func limitTo(sql *string, args []any, n int) []any {
	if n == servicePage {
		*sql = " LIMIT " + strconv.Itoa(n)
		return args
	}
	*sql = " LIMIT ?"
	return append(args, n)
}

// allowedStatuses is readStatuses less those p's status filters rule out:
// their branches would read a range only to drop every row of it.
func allowedStatuses(p invites.ListParams) []invites.Status {
	st := p.Where.Status
	keep := func(s invites.Status) bool {
		in := func(l []invites.Status) bool { return len(l) == 0 || slices.Contains(l, s) }
		return in(st.ValueIn) && in(one(st.EqualTo)) &&
			s != st.NotEqualTo && !slices.Contains(st.ValueNotIn, s)
	}
	var out []invites.Status
	for _, s := range readStatuses {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}
