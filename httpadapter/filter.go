package httpadapter

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The operators of ROQ's list filters: the value ones on every field,
// the patterns only on text a user reads (ids are compared whole).
var (
	valueOps     = []string{"equalTo", "notEqualTo", "valueIn", "valueNotIn"}
	textOps      = []string{"equalTo", "notEqualTo", "valueIn", "valueNotIn", "like", "iLike"}
	filterFields = []struct {
		name string
		ops  []string
	}{
		{"id", valueOps}, {"email", textOps}, {"firstName", textOps}, {"lastName", textOps},
		{"locale", textOps}, {"status", valueOps}, {"createdByUserId", valueOps}, {"acceptedByUserId", valueOps},
	}
)

// filterParams returns the query parameters of the filters: field[op].
func filterParams() []string {
	var out []string
	for _, f := range filterFields {
		for _, op := range f.ops {
			out = append(out, f.name+"["+op+"]")
		}
	}
	return out
}

// setFilter reads one field[op] parameter into w. Its value is taken as
// given, so email[equalTo]= compares with the empty string; valueIn and
// valueNotIn are comma-separated. An id or a status is never empty.
func setFilter(w *invites.Filter, name, v string) error {
	field, op, _ := strings.Cut(strings.TrimSuffix(name, "]"), "[")
	list := []string{v}
	if op == "valueIn" || op == "valueNotIn" {
		if err := checkListLen(name, v); err != nil {
			return err
		}
		list = strings.Split(v, ",")
	}
	switch field {
	case "id":
		ids := make([]uuid.UUID, len(list))
		for i, s := range list {
			id, err := uuid.Parse(s)
			if err != nil || id == uuid.Nil {
				return invalidRequest(name, name+" must be invite ids (UUIDs), comma-separated for a list.")
			}
			ids[i] = id
		}
		setOp(op, ids, &w.ID.EqualTo, &w.ID.NotEqualTo, &w.ID.ValueIn, &w.ID.ValueNotIn)
	case "status":
		sts := make([]invites.Status, len(list))
		for i, s := range list {
			if s == "" {
				return invalidRequest(name, name+" must be statuses, comma-separated for a list.")
			}
			sts[i] = invites.Status(s) // the Service refuses unknown ones, naming name
		}
		st := &w.Status
		setOp(op, sts, &st.EqualTo, &st.NotEqualTo, &st.ValueIn, &st.ValueNotIn)
	case "createdByUserId":
		setValue(&w.CreatedByUserID, op, list)
	case "acceptedByUserId":
		setValue(&w.AcceptedByUserID, op, list)
	default:
		sf := map[string]*invites.StringFilter{"email": &w.Email, "firstName": &w.FirstName,
			"lastName": &w.LastName, "locale": &w.Locale}[field]
		switch op {
		case "like":
			sf.Like = v
		case "iLike":
			sf.ILike = v
		default:
			setValue(&sf.ValueFilter, op, list)
		}
	}
	return nil
}

// checkListLen refuses a comma-separated list of more than
// invites.MaxFilterValues values before it is split, as the Service would
// after, so a long one costs no slice.
func checkListLen(name, v string) error {
	if strings.Count(v, ",") >= invites.MaxFilterValues {
		return invalidRequest(name, fmt.Sprintf("%s has more than %d values.", name, invites.MaxFilterValues))
	}
	return nil
}

// setOp stores values under op: one value for the equality operators, the
// list for the set ones.
func setOp[T any](op string, values []T, eq, ne *T, in, notIn *[]T) {
	switch op {
	case "equalTo":
		*eq = values[0]
	case "notEqualTo":
		*ne = values[0]
	case "valueIn":
		*in = values
	case "valueNotIn":
		*notIn = values
	}
}

func setValue(f *invites.ValueFilter, op string, list []string) {
	var eq, ne string
	setOp(op, list, &eq, &ne, &f.ValueIn, &f.ValueNotIn)
	switch op {
	case "equalTo":
		f.EqualTo = &eq
	case "notEqualTo":
		f.NotEqualTo = &ne
	}
}
