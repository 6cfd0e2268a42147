package memstore

import (
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// prepare returns w with its operands compared as matchWhere reads them:
// email's values normalized and every ILike lower-cased, once per list
// rather than once per invite (a list of invites.MaxFilterValues values
// normalized per row held the lock for half a second on 5,000 invites).
// The slices are new: the caller's stay as they were.
func prepare(w invites.Filter) invites.Filter {
	e := &w.Email.ValueFilter
	for _, p := range []**string{&e.EqualTo, &e.NotEqualTo} {
		if *p != nil {
			v := invites.NormalizeEmail(**p)
			*p = &v
		}
	}
	for _, l := range []*[]string{&e.ValueIn, &e.ValueNotIn} {
		if *l != nil {
			n := make([]string, len(*l))
			for i, v := range *l {
				n[i] = invites.NormalizeEmail(v)
			}
			*l = n
		}
	}
	for _, f := range []*invites.StringFilter{&w.Email, &w.FirstName, &w.LastName, &w.Locale} {
		f.ILike = strings.ToLower(f.ILike)
	}
	return w
}

// matchWhere applies p.Where, as invites.Filter defines it, once prepare
// made it ready.
func matchWhere(inv *invites.Invite, p *invites.ListParams) bool {
	w := &p.Where
	if !matchID(inv.ID, w.ID) || !matchStatus(inv.StatusAt(p.Now), w.Status) {
		return false
	}
	norm := inv.EmailNorm()
	return matchString(inv.Email, norm, norm, w.Email) &&
		matchString(inv.FirstName, inv.FirstName, strings.ToLower(inv.FirstName), w.FirstName) &&
		matchString(inv.LastName, inv.LastName, strings.ToLower(inv.LastName), w.LastName) &&
		matchString(inv.Locale, inv.Locale, strings.ToLower(inv.Locale), w.Locale) &&
		matchValue(inv.CreatedByUserID, w.CreatedByUserID) &&
		matchValue(inv.AcceptedByUserID, w.AcceptedByUserID)
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

// matchString matches raw with Like, folded with ILike (lower-cased by
// prepare), and cmp (raw, or the normalized email) with the value operators.
func matchString(raw, cmp, folded string, f invites.StringFilter) bool {
	return matchValue(cmp, f.ValueFilter) &&
		(f.Like == "" || like(raw, f.Like)) &&
		(f.ILike == "" || like(folded, f.ILike))
}

func matchValue(v string, f invites.ValueFilter) bool {
	return (f.EqualTo == nil || v == *f.EqualTo) &&
		(f.NotEqualTo == nil || v != *f.NotEqualTo) &&
		(len(f.ValueIn) == 0 || slices.Contains(f.ValueIn, v)) &&
		!slices.Contains(f.ValueNotIn, v)
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
