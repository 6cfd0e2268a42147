package invites_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

func TestListRejectsBadFilters(t *testing.T) {
	h := newHarness(t)
	s := func(v string) *string { return &v }
	many := make([]string, invites.MaxFilterValues+1)
	for i := range many {
		many[i] = "u"
	}
	for _, c := range []struct {
		w     invites.Filter
		field string
	}{
		{invites.Filter{ID: invites.IDFilter{ValueIn: make([]uuid.UUID, invites.MaxFilterValues+1)}}, "id[valueIn]"},
		{invites.Filter{ID: invites.IDFilter{ValueNotIn: make([]uuid.UUID, invites.MaxFilterValues+1)}}, "id[valueNotIn]"},
		{invites.Filter{Email: invites.StringFilter{ILike: `%\`}}, "email[iLike]"},
		{invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: s("a\x00")}}}, "email[equalTo]"},
		{invites.Filter{FirstName: invites.StringFilter{Like: "\xff"}}, "firstName[like]"},
		{invites.Filter{FirstName: invites.StringFilter{Like: strings.Repeat("x", 2*invites.MaxNameRunes+1)}}, "firstName[like]"},
		{invites.Filter{LastName: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: s("\n")}}}, "lastName[notEqualTo]"},
		{invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: many}}}, "locale[valueIn]"},
		{invites.Filter{CreatedByUserID: invites.ValueFilter{ValueNotIn: []string{"ok", "bad\x01"}}}, "createdByUserId[valueNotIn]"},
		{invites.Filter{AcceptedByUserID: invites.ValueFilter{EqualTo: s(strings.Repeat("u", invites.MaxIDBytes+1))}}, "acceptedByUserId[equalTo]"},
		{invites.Filter{Status: invites.StatusFilter{EqualTo: "gone"}}, "status[equalTo]"},
		{invites.Filter{Status: invites.StatusFilter{ValueNotIn: []invites.Status{"pending", ""}}}, "status[valueNotIn]"},
	} {
		_, err := h.svc.List(ctx, admin, invites.Query{Where: c.w})
		var ie *invites.InputError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("List(%+v) = %v, want ErrInvalidInput naming %s", c.w, err, c.field)
		}
	}
	// An escaped backslash at the end is a pattern, not a lone escape.
	if _, err := h.svc.List(ctx, admin, invites.Query{Where: invites.Filter{Email: invites.StringFilter{Like: `%\\`}}}); err != nil {
		t.Errorf(`like %%\\: %v`, err)
	}
}

// The cursor of a name order carries the folded name, long and non-ASCII
// as it may be.
func TestListCursorOfNameOrder(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("𝔸", invites.MaxNameRunes) // four bytes each
	var items []invites.NewInvite
	for _, e := range []string{"a@x.io", "b@x.io", "c@x.io"} {
		items = append(items, invites.NewInvite{Email: e, FirstName: long})
	}
	if res, err := h.svc.Send(ctx, admin, items); err != nil || len(res.Success) != 3 {
		t.Fatal(res, err)
	}
	q := invites.Query{Order: invites.Order{Field: invites.OrderFirstName, Desc: true}, Limit: 1}
	seen := map[uuid.UUID]bool{}
	for range 4 {
		page, err := h.svc.List(ctx, admin, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range page.Invites {
			seen[inv.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if len(seen) != 3 {
		t.Fatalf("walked %d of 3 invites", len(seen))
	}
}
