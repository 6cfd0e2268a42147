package bunstore

import (
	"strings"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// clauses collects the AND-ed conditions of a list and their arguments.
type clauses struct {
	b    *strings.Builder
	args []any
}

func (c *clauses) and(sql string, args ...any) {
	c.b.WriteString(" AND ")
	c.b.WriteString(sql)
	c.args = append(c.args, args...)
}

// list is "(?, ?, ...)" for n values.
func list(n int) string { return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")" }

// where adds p.Where, as invites.Filter defines it. Each column it reads is
// in the covering indexes of the PostgreSQL schema, so a filter costs no
// read of the table.
func (s *Store) where(c *clauses, p invites.ListParams) {
	w := p.Where
	s.ids(c, w.ID)
	st := w.Status
	for _, f := range []struct {
		not  bool
		list []invites.Status
	}{{false, one(st.EqualTo)}, {true, one(st.NotEqualTo)}, {false, st.ValueIn}, {true, st.ValueNotIn}} {
		if len(f.list) > 0 {
			sql, args := statusIn(f.list, p.Now)
			if f.not {
				sql = "NOT " + sql
			}
			c.and(sql, args...)
		}
	}
	lower := "lower(locale)" // locales are ASCII tags; lower() on them is strings.ToLower
	s.text(c, "email_norm", "email", "email_norm", w.Email, invites.NormalizeEmail)
	s.text(c, "first_name", "first_name", "first_name_fold", w.FirstName, nil)
	s.text(c, "last_name", "last_name", "last_name_fold", w.LastName, nil)
	s.text(c, "locale", "locale", lower, w.Locale, nil)
	s.text(c, "created_by_user_id", "", "", invites.StringFilter{ValueFilter: w.CreatedByUserID}, nil)
	s.text(c, "COALESCE(accepted_by_user_id, '')", "", "", invites.StringFilter{ValueFilter: w.AcceptedByUserID}, nil)
}

func one[T comparable](v T) []T {
	var zero T
	if v == zero {
		return nil
	}
	return []T{v}
}

func (s *Store) ids(c *clauses, f invites.IDFilter) {
	if f.EqualTo != uuid.Nil {
		c.and("id = ?", f.EqualTo)
	}
	if f.NotEqualTo != uuid.Nil {
		c.and("id <> ?", f.NotEqualTo)
	}
	for _, l := range []struct {
		op  string
		ids []uuid.UUID
	}{{"IN", f.ValueIn}, {"NOT IN", f.ValueNotIn}} {
		if len(l.ids) > 0 {
			args := make([]any, len(l.ids))
			for i, id := range l.ids {
				args[i] = id
			}
			c.and("id "+l.op+" "+list(len(args)), args...)
		}
	}
}

// text adds f's operators: the value ones on col (their operands through
// norm, when not nil), Like on raw and ILike on fold.
func (s *Store) text(c *clauses, col, raw, fold string, f invites.StringFilter, norm func(string) string) {
	if norm == nil {
		norm = func(v string) string { return v }
	}
	if f.EqualTo != nil {
		c.and(col+" = ?", norm(*f.EqualTo))
	}
	if f.NotEqualTo != nil {
		c.and(col+" <> ?", norm(*f.NotEqualTo))
	}
	for _, l := range []struct {
		op   string
		vals []string
	}{{"IN", f.ValueIn}, {"NOT IN", f.ValueNotIn}} {
		if len(l.vals) > 0 {
			args := make([]any, len(l.vals))
			for i, v := range l.vals {
				args[i] = norm(v)
			}
			c.and(col+" "+l.op+" "+list(len(args)), args...)
		}
	}
	if f.Like != "" {
		c.and(s.like(raw, f.Like))
	}
	if f.ILike != "" {
		c.and(s.like(fold, strings.ToLower(f.ILike)))
	}
}

// like is the condition that col matches an invites.StringFilter pattern:
// LIKE with the escape '!' on PostgreSQL; GLOB on SQLite, whose LIKE
// ignores ASCII case.
func (s *Store) like(col, pattern string) (string, any) {
	var b strings.Builder
	esc := false
	for _, r := range pattern {
		switch {
		case esc:
			esc = false
			s.literal(&b, r)
		case r == '\\':
			esc = true
		case r == '%' && s.pg, r == '_' && s.pg:
			b.WriteRune(r)
		case r == '%':
			b.WriteByte('*')
		case r == '_':
			b.WriteByte('?')
		default:
			s.literal(&b, r)
		}
	}
	if s.pg {
		return col + " LIKE ? ESCAPE '!'", b.String()
	}
	return col + " GLOB ?", b.String()
}

// literal writes r to a LIKE (PostgreSQL) or GLOB (SQLite) pattern so that
// it matches only itself.
func (s *Store) literal(b *strings.Builder, r rune) {
	switch {
	case s.pg && (r == '%' || r == '_' || r == '!'):
		b.WriteByte('!')
		b.WriteRune(r)
	case !s.pg && (r == '*' || r == '?' || r == '['):
		b.WriteByte('[')
		b.WriteRune(r)
		b.WriteByte(']')
	default:
		b.WriteRune(r)
	}
}
