package invites

import (
	"strings"

	"github.com/google/uuid"
)

// Filter holds ROQ's list operators per field. Every operator set on any
// field must hold (AND); an unset operator (zero value, or an empty list)
// does not filter. Text values are compared exactly as stored, except
// email's equality operators, which compare NormalizeEmail.
type Filter struct {
	ID        IDFilter
	Email     StringFilter
	FirstName StringFilter
	LastName  StringFilter
	Locale    StringFilter
	// Status compares the status as read at Now, as Query.Statuses does.
	Status          StatusFilter
	CreatedByUserID ValueFilter
	// AcceptedByUserID is "" until the invite is accepted: EqualTo "" finds
	// the invites nobody accepted, and NotEqualTo "u1" includes them.
	AcceptedByUserID ValueFilter
}

// ValueFilter compares a text field with values. EqualTo and NotEqualTo
// are pointers because the empty string is a value to compare with.
type ValueFilter struct {
	EqualTo    *string
	NotEqualTo *string
	ValueIn    []string
	ValueNotIn []string
}

// StringFilter adds SQL LIKE patterns to ValueFilter, for the fields that
// are text a user reads. In a pattern % matches any run of characters, _
// any one character, and a backslash makes the next character literal
// (`\%`, `\_`, `\\`), so a plain substring s is "%" + escaped s + "%".
// Like is case-sensitive; ILike compares strings.ToLower of the pattern
// with strings.ToLower of a name, or with NormalizeEmail of the email
// (which lower-cases only ASCII letters in the local part), the folds
// every store computes in Go.
type StringFilter struct {
	ValueFilter
	Like  string
	ILike string
}

// IDFilter compares the invite's id; uuid.Nil is unset.
type IDFilter struct {
	EqualTo    uuid.UUID
	NotEqualTo uuid.UUID
	ValueIn    []uuid.UUID
	ValueNotIn []uuid.UUID
}

// StatusFilter compares the status as read at Now; "" is unset.
type StatusFilter struct {
	EqualTo    Status
	NotEqualTo Status
	ValueIn    []Status
	ValueNotIn []Status
}

// MaxFilterValues bounds a ValueIn or ValueNotIn list (and
// Query.Statuses), repeats counted, so one request cannot make a statement
// of unbounded size nor a scan that compares each row with a long list.
const MaxFilterValues = 100

// checkFilter refuses what no store should be asked: oversized lists,
// text no stored value can hold, unknown statuses, patterns ending in a
// lone escape. Errors name the operator as the HTTP API spells it. It
// returns f with its lists' repeats dropped (in new slices: the caller's
// stay as they were).
func checkFilter(f Filter) (Filter, error) {
	if err := checkIDs("id", f.ID); err != nil {
		return f, err
	}
	for _, sf := range []struct {
		name string
		f    StringFilter
		max  int
	}{
		{"email", f.Email, MaxEmailBytes},
		{"firstName", f.FirstName, MaxNameRunes},
		{"lastName", f.LastName, MaxNameRunes},
		{"locale", f.Locale, 64},
		{"createdByUserId", StringFilter{ValueFilter: f.CreatedByUserID}, MaxIDBytes},
		{"acceptedByUserId", StringFilter{ValueFilter: f.AcceptedByUserID}, MaxIDBytes},
	} {
		if err := checkString(sf.name, sf.f, sf.max); err != nil {
			return f, err
		}
	}
	s := f.Status
	for _, st := range []struct {
		op   string
		list []Status
	}{{"equalTo", nonZero(s.EqualTo)}, {"notEqualTo", nonZero(s.NotEqualTo)}, {"valueIn", s.ValueIn}, {"valueNotIn", s.ValueNotIn}} {
		if len(st.list) > MaxFilterValues {
			return f, invalid("status["+st.op+"]", "has more than %d values", MaxFilterValues)
		}
		for _, v := range st.list {
			if !v.Valid() {
				return f, invalid("status["+st.op+"]", "has an unknown status %q", v)
			}
		}
	}
	f.ID.ValueIn, f.ID.ValueNotIn = unique(f.ID.ValueIn), unique(f.ID.ValueNotIn)
	f.Status.ValueIn, f.Status.ValueNotIn = unique(f.Status.ValueIn), unique(f.Status.ValueNotIn)
	for _, v := range []*ValueFilter{&f.Email.ValueFilter, &f.FirstName.ValueFilter, &f.LastName.ValueFilter,
		&f.Locale.ValueFilter, &f.CreatedByUserID, &f.AcceptedByUserID} {
		v.ValueIn, v.ValueNotIn = unique(v.ValueIn), unique(v.ValueNotIn)
	}
	return f, nil
}

// unique returns list without repeats, in first order, in a new slice.
// Lists are bounded before they get here, so the map stays small.
func unique[T comparable](list []T) []T {
	if list == nil {
		return nil
	}
	seen := make(map[T]bool, len(list))
	out := make([]T, 0, len(list))
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func nonZero[T comparable](v T) []T {
	var zero T
	if v == zero {
		return nil
	}
	return []T{v}
}

func checkIDs(name string, f IDFilter) error {
	if len(f.ValueIn) > MaxFilterValues {
		return invalid(name+"[valueIn]", "has more than %d values", MaxFilterValues)
	}
	if len(f.ValueNotIn) > MaxFilterValues {
		return invalid(name+"[valueNotIn]", "has more than %d values", MaxFilterValues)
	}
	return nil
}

func checkString(name string, f StringFilter, maxRunes int) error {
	for _, vs := range []struct {
		op   string
		list []string
	}{{"equalTo", ptrList(f.EqualTo)}, {"notEqualTo", ptrList(f.NotEqualTo)}, {"valueIn", f.ValueIn}, {"valueNotIn", f.ValueNotIn}} {
		if len(vs.list) > MaxFilterValues {
			return invalid(name+"["+vs.op+"]", "has more than %d values", MaxFilterValues)
		}
		for _, v := range vs.list {
			if err := validText(name+"["+vs.op+"]", v, maxRunes); err != nil {
				return err
			}
		}
	}
	for _, p := range []struct{ op, pat string }{{"like", f.Like}, {"iLike", f.ILike}} {
		// Escapes can double a pattern's length.
		if err := validText(name+"["+p.op+"]", p.pat, 2*maxRunes); err != nil {
			return err
		}
		if (len(p.pat)-len(strings.TrimRight(p.pat, `\`)))%2 == 1 {
			return invalid(name+"["+p.op+"]", `ends in a lone \ (write \\ for a backslash)`)
		}
	}
	return nil
}

func ptrList(p *string) []string {
	if p == nil {
		return nil
	}
	return []string{*p}
}
