package memstore

import (
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// matchWhere applies p.Where, as invites.Filter defines it.
func matchWhere(inv *invites.Invite, p *invites.ListParams) bool {
	w := &p.Where
	if !matchID(inv.ID, w.ID) || !matchStatus(inv.StatusAt(p.Now), w.Status) {
		return false
	}
	norm := inv.EmailNorm()
	return matchString(inv.Email, norm, norm, w.Email, invites.NormalizeEmail) &&
		matchString(inv.FirstName, inv.FirstName, strings.ToLower(inv.FirstName), w.FirstName, nil) &&
		matchString(inv.LastName, inv.LastName, strings.ToLower(inv.LastName), w.LastName, nil) &&
		matchString(inv.Locale, inv.Locale, strings.ToLower(inv.Locale), w.Locale, nil) &&
		matchValue(inv.CreatedByUserID, w.CreatedByUserID, nil) &&
		matchValue(inv.AcceptedByUserID, w.AcceptedByUserID, nil)
}

func matchID(id uuid.UUID, f invites.IDFilter) bool {
	return (f.EqualTo == uuid.Nil || id == f.EqualTo) &&
		(f.NotEqualTo == uuid.Nil || id != f.NotEqualTo) &&
		(len(f.ValueIn) == 0 || slices.Contains(f.ValueIn, id)) &&
		!slices.Contains(f.ValueNotIn, id)
}

func matchStatus(st invites.Status, f invites.StatusFilter) bool {
	return (f.EqualTo == "" || st == f.EqualTo) &&
		(f.NotEqualTo == "" || st != f.NotEqualTo) &&
		(len(f.ValueIn) == 0 || slices.Contains(f.ValueIn, st)) &&
		!slices.Contains(f.ValueNotIn, st)
}

// matchString matches raw with Like, folded with ILike, and cmp (raw, or
// the normalized email) with the value operators, whose operands norm
// (when not nil) normalizes first.
func matchString(raw, cmp, folded string, f invites.StringFilter, norm func(string) string) bool {
	return matchValue(cmp, f.ValueFilter, norm) &&
		(f.Like == "" || like(raw, f.Like)) &&
		(f.ILike == "" || like(folded, strings.ToLower(f.ILike)))
}

func matchValue(v string, f invites.ValueFilter, norm func(string) string) bool {
	if norm == nil {
		norm = func(s string) string { return s }
	}
	in := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return norm(s) == v })
	}
	return (f.EqualTo == nil || v == norm(*f.EqualTo)) &&
		(f.NotEqualTo == nil || v != norm(*f.NotEqualTo)) &&
		(len(f.ValueIn) == 0 || in(f.ValueIn)) &&
		!in(f.ValueNotIn)
}

// like reports whether s matches the SQL LIKE pattern of invites.StringFilter:
// % any run, _ any one character, \ makes the next one literal. It walks
// both once, going back only to the last %, as the SQL engines do.
func like(s, pattern string) bool {
	str, pat := []rune(s), []rune(pattern)
	si, pi := 0, 0
	star, mark := -1, 0 // position after the last %, and where s stood then
	for si < len(str) {
		if pi < len(pat) {
			switch c := pat[pi]; {
			case c == '%':
				pi++
				star, mark = pi, si
				continue
			case c == '_':
				pi, si = pi+1, si+1
				continue
			case c == '\\' && pi+1 < len(pat):
				if pat[pi+1] == str[si] {
					pi, si = pi+2, si+1
					continue
				}
			case c == str[si]:
				pi, si = pi+1, si+1
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, si = star, mark
	}
	for pi < len(pat) && pat[pi] == '%' {
		pi++
	}
	return pi == len(pat)
}
