package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// buildFilterFixture is the list fixture and one invite more, whose
// names hold the characters a LIKE pattern escapes and whose first name
// differs from ann's only in case.
func buildFilterFixture(t *testing.T, s invites.Store) *listFixture {
	t.Helper()
	f := buildListFixture(t, s)
	pct := insertOK(t, s, t0, newInvite(tenantA, "pct@example.net", t0, func(i *invites.Invite) {
		i.FirstName, i.LastName, i.CreatedByUserID, i.Locale = "ann", `100%\Sure_`, "u4", "en-GB"
		i.CreatedAt, i.UpdatedAt, i.StatusUpdatedAt = day(-1), day(-1), day(-1)
	}))[0]
	pct = get(t, s, tenantA, pct.ID)
	f.byID[pct.ID] = "pct"
	f.inv["pct"] = pct
	f.all = append(f.all, pct)
	return f
}

func ptr(s string) *string { return &s }

// filterAll is every key of the filter fixture.
var filterAll = []string{"ann", "bob", "cat", "dan", "eve", "fay", "gus", "gus2", "hal", "ian", "jo", "kim", "pct"}

// except is filterAll without keys.
func except(keys ...string) []string {
	return slices.DeleteFunc(slices.Clone(filterAll), func(k string) bool { return slices.Contains(keys, k) })
}

type whereCase struct {
	name string
	w    invites.Filter
	want []string
}

// whereCases cover every operator of every field; ids stand for the
// fixture's invites by key.
func whereCases(id func(string) uuid.UUID) []whereCase {
	sv := func(v ...string) invites.StringFilter {
		return invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: v}}
	}
	st := invites.StatusPending
	return []whereCase{
		{"id equalTo", invites.Filter{ID: invites.IDFilter{EqualTo: id("ann")}}, []string{"ann"}},
		{"id notEqualTo", invites.Filter{ID: invites.IDFilter{NotEqualTo: id("ann")}}, except("ann")},
		{"id valueIn, with an unknown id", invites.Filter{ID: invites.IDFilter{ValueIn: []uuid.UUID{id("ann"), id("kim"), uuid.Max}}},
			[]string{"ann", "kim"}},
		{"id valueNotIn", invites.Filter{ID: invites.IDFilter{ValueNotIn: []uuid.UUID{id("ann"), id("kim")}}}, except("ann", "kim")},

		{"email equalTo normalizes", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: ptr(" GUS@Example.COM ")}}},
			[]string{"gus", "gus2"}},
		{"email notEqualTo", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: ptr("gus@example.com")}}},
			except("gus", "gus2")},
		{"email valueIn", invites.Filter{Email: sv("EVE@example.com", "bob@example.com")}, []string{"bob", "eve"}},
		{"email valueNotIn", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"eve@EXAMPLE.com", "jo@example.com"}}}},
			except("eve", "jo")},
		{"email like is case-sensitive", invites.Filter{Email: invites.StringFilter{Like: "%@example.com"}},
			[]string{"ann", "bob", "dan", "fay", "gus", "gus2", "hal", "ian", "jo", "kim"}},
		{"email like, stored case", invites.Filter{Email: invites.StringFilter{Like: "Gus%"}}, []string{"gus2"}},
		{"email iLike", invites.Filter{Email: invites.StringFilter{ILike: "%@EXAMPLE.com"}},
			[]string{"ann", "bob", "dan", "eve", "fay", "gus", "gus2", "hal", "ian", "jo", "kim"}},
		{"email like, _ any one character", invites.Filter{Email: invites.StringFilter{Like: "hal_x%"}}, []string{"hal", "ian"}},
		{`email like, \_ literal`, invites.Filter{Email: invites.StringFilter{Like: `hal\_x%`}}, []string{"hal"}},
		{"email iLike, no wildcard", invites.Filter{Email: invites.StringFilter{ILike: "CAT@EXAMPLE.ORG"}}, []string{"cat"}},

		{"firstName equalTo", invites.Filter{FirstName: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: ptr("Gus")}}},
			[]string{"gus", "gus2"}},
		{"firstName equalTo is exact", invites.Filter{FirstName: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: ptr("ann")}}},
			[]string{"pct"}},
		{"firstName notEqualTo", invites.Filter{FirstName: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: ptr("Gus")}}},
			except("gus", "gus2")},
		{"firstName valueIn", invites.Filter{FirstName: sv("Ann", "Bob")}, []string{"ann", "bob"}},
		{"firstName valueNotIn", invites.Filter{FirstName: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"Ann", "ann"}}}},
			except("ann", "pct")},
		{"firstName like upper", invites.Filter{FirstName: invites.StringFilter{Like: "J%"}}, []string{"jo"}},
		{"firstName like lower", invites.Filter{FirstName: invites.StringFilter{Like: "j%"}}, []string{}},
		{"firstName iLike", invites.Filter{FirstName: invites.StringFilter{ILike: "j%"}}, []string{"jo"}},
		{"firstName iLike, both cases stored", invites.Filter{FirstName: invites.StringFilter{ILike: "ANN"}}, []string{"ann", "pct"}},

		{"lastName equalTo", invites.Filter{LastName: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: ptr("O'Neil")}}}, []string{"jo"}},
		{"lastName notEqualTo", invites.Filter{LastName: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: ptr("Smith")}}},
			except("ann", "fay")},
		{"lastName valueIn", invites.Filter{LastName: sv("Green", "Smith")}, []string{"ann", "fay", "gus", "gus2"}},
		{"lastName valueNotIn", invites.Filter{LastName: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"Green", "Smith"}}}},
			except("ann", "fay", "gus", "gus2")},
		{"lastName like prefix", invites.Filter{LastName: invites.StringFilter{Like: "Smith%"}}, []string{"ann", "cat", "fay"}},
		{"lastName like whole", invites.Filter{LastName: invites.StringFilter{Like: "Smith"}}, []string{"ann", "fay"}},
		{"lastName like non-ASCII, stored case", invites.Filter{LastName: invites.StringFilter{Like: "%öztürk"}}, []string{}},
		{"lastName iLike non-ASCII", invites.Filter{LastName: invites.StringFilter{ILike: "%öztürk"}}, []string{"dan"}},
		{`lastName like \% literal`, invites.Filter{LastName: invites.StringFilter{Like: `%\%%`}}, []string{"pct"}},
		{"lastName like % wildcard", invites.Filter{LastName: invites.StringFilter{Like: "1%"}}, []string{"pct"}},
		{`lastName like \\ and \_`, invites.Filter{LastName: invites.StringFilter{Like: `%\\Sure\_`}}, []string{"pct"}},
		{`lastName like \_ is not any character`, invites.Filter{LastName: invites.StringFilter{Like: `%Sur\_`}}, []string{}},
		{"lastName like _ at the end", invites.Filter{LastName: invites.StringFilter{Like: "%Sure_"}}, []string{"pct"}},
		{`lastName iLike \\`, invites.Filter{LastName: invites.StringFilter{ILike: `%\\SURE\_`}}, []string{"pct"}},
		{"lastName like, SQL-looking text", invites.Filter{LastName: invites.StringFilter{Like: "%' OR '1'='1"}}, []string{}},
		{"lastName like, GLOB-looking text", invites.Filter{LastName: invites.StringFilter{Like: "[O]%*?"}}, []string{}},

		{"locale equalTo", invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: ptr("de-AT")}}}, []string{"bob", "fay"}},
		{"locale notEqualTo", invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: ptr("en-US")}}},
			[]string{"bob", "cat", "dan", "fay", "pct"}},
		{"locale valueIn", invites.Filter{Locale: sv("de", "fr")}, []string{"cat", "dan"}},
		{"locale valueNotIn", invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"en-US", "en-GB"}}}},
			[]string{"bob", "cat", "dan", "fay"}},
		{"locale like", invites.Filter{Locale: invites.StringFilter{Like: "de%"}}, []string{"bob", "cat", "fay"}},
		{"locale like, other case", invites.Filter{Locale: invites.StringFilter{Like: "DE%"}}, []string{}},
		{"locale iLike", invites.Filter{Locale: invites.StringFilter{ILike: "DE-at"}}, []string{"bob", "fay"}},
		{"locale iLike, _ wildcards", invites.Filter{Locale: invites.StringFilter{ILike: "%-__"}}, except("cat", "dan")},

		{"status equalTo pending (expired excluded)", invites.Filter{Status: invites.StatusFilter{EqualTo: st}},
			[]string{"ann", "fay", "gus2", "hal", "ian", "jo", "pct"}},
		{"status equalTo expired (derived at Now)", invites.Filter{Status: invites.StatusFilter{EqualTo: invites.StatusExpired}}, []string{"eve", "kim"}},
		{"status notEqualTo pending", invites.Filter{Status: invites.StatusFilter{NotEqualTo: st}},
			[]string{"bob", "cat", "dan", "eve", "gus", "kim"}},
		{"status notEqualTo expired", invites.Filter{Status: invites.StatusFilter{NotEqualTo: invites.StatusExpired}}, except("eve", "kim")},
		{"status valueIn", invites.Filter{Status: invites.StatusFilter{ValueIn: []invites.Status{invites.StatusAccepted, invites.StatusDeclined}}},
			[]string{"bob", "cat"}},
		{"status valueNotIn", invites.Filter{Status: invites.StatusFilter{ValueNotIn: []invites.Status{st, invites.StatusExpired}}},
			[]string{"bob", "cat", "dan", "gus"}},

		{"createdByUserId equalTo", invites.Filter{CreatedByUserID: invites.ValueFilter{EqualTo: ptr("u2")}}, []string{"cat", "dan", "kim"}},
		{"createdByUserId equalTo is exact", invites.Filter{CreatedByUserID: invites.ValueFilter{EqualTo: ptr("U2")}}, []string{}},
		{"createdByUserId notEqualTo", invites.Filter{CreatedByUserID: invites.ValueFilter{NotEqualTo: ptr("u1")}},
			[]string{"cat", "dan", "fay", "gus", "gus2", "jo", "kim", "pct"}},
		{"createdByUserId valueIn", invites.Filter{CreatedByUserID: invites.ValueFilter{ValueIn: []string{"u2", "u4"}}},
			[]string{"cat", "dan", "kim", "pct"}},
		{"createdByUserId valueNotIn", invites.Filter{CreatedByUserID: invites.ValueFilter{ValueNotIn: []string{"u1", "u2", "u3"}}}, []string{"pct"}},

		{"acceptedByUserId equalTo", invites.Filter{AcceptedByUserID: invites.ValueFilter{EqualTo: ptr("acceptor")}}, []string{"bob"}},
		{"acceptedByUserId equalTo empty: not accepted", invites.Filter{AcceptedByUserID: invites.ValueFilter{EqualTo: ptr("")}}, except("bob")},
		{"acceptedByUserId notEqualTo empty: accepted", invites.Filter{AcceptedByUserID: invites.ValueFilter{NotEqualTo: ptr("")}}, []string{"bob"}},
		{"acceptedByUserId notEqualTo includes the not accepted", invites.Filter{AcceptedByUserID: invites.ValueFilter{NotEqualTo: ptr("acceptor")}},
			except("bob")},
		{"acceptedByUserId valueIn with empty", invites.Filter{AcceptedByUserID: invites.ValueFilter{ValueIn: []string{"acceptor", ""}}}, filterAll},
		{"acceptedByUserId valueIn unknown", invites.Filter{AcceptedByUserID: invites.ValueFilter{ValueIn: []string{"nobody"}}}, []string{}},
		{"acceptedByUserId valueNotIn", invites.Filter{AcceptedByUserID: invites.ValueFilter{ValueNotIn: []string{"nobody"}}}, filterAll},
		{"acceptedByUserId valueNotIn empty", invites.Filter{AcceptedByUserID: invites.ValueFilter{ValueNotIn: []string{""}}}, []string{"bob"}},

		{"empty lists do not filter", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: []string{}}},
			Status: invites.StatusFilter{ValueNotIn: []invites.Status{}}}, filterAll},
		{"operators of one field AND", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{
			EqualTo: ptr("gus@example.com"), NotEqualTo: ptr("GUS@example.com")}}}, []string{}},
		{"like and iLike AND", invites.Filter{FirstName: invites.StringFilter{Like: "a%", ILike: "ANN"}}, []string{"pct"}},
		{"fields AND", invites.Filter{
			Status:          invites.StatusFilter{ValueIn: []invites.Status{st, invites.StatusExpired}},
			Email:           invites.StringFilter{ILike: "%example.com"},
			CreatedByUserID: invites.ValueFilter{NotEqualTo: ptr("u3")},
			LastName:        invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"Black"}}},
		}, []string{"ann", "hal", "ian", "kim"}},
	}
}

func testListWhere(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildFilterFixture(t, newStore(t))
	id := func(k string) uuid.UUID { return f.inv[k].ID }
	orders := []invites.Order{{Field: invites.OrderCreatedAt}, {Field: invites.OrderFirstName, Desc: true}}
	for _, c := range whereCases(id) {
		for _, o := range orders {
			got, total := f.list(t, invites.ListParams{Where: c.w, Order: o}, nil)
			what := fmt.Sprintf("List where %s, order %s", c.name, orderName(o))
			f.checkKeys(t, what, got, f.sorted(o, c.want))
			if total != len(c.want) {
				t.Fatalf("%s: total %d, want %d", what, total, len(c.want))
			}
		}
	}
}

// testListWhereLimits joins Where's operators of one field, and Where with
// Search, and pages a
// filtered list by cursor in every order.
func testListWhereLimits(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildFilterFixture(t, newStore(t))
	for _, c := range []whereCase{
		{"Where.Status ValueIn and NotEqualTo", invites.Filter{Status: invites.StatusFilter{NotEqualTo: invites.StatusPending}}, []string{}},
		{"Search and Where.FirstName", invites.Filter{FirstName: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: ptr("Fay")}}},
			[]string{"fay"}},
	} {
		w := c.w
		w.Status.ValueIn = []invites.Status{invites.StatusPending}
		q := invites.ListParams{Where: w, Search: "smith"}
		got, total := f.list(t, q, nil)
		f.checkKeys(t, "List where "+c.name, got, f.sorted(invites.Order{Field: invites.OrderCreatedAt}, c.want))
		if total != len(c.want) {
			t.Fatalf("List where %s: total %d, want %d", c.name, total, len(c.want))
		}
	}
	w := invites.Filter{Email: invites.StringFilter{ILike: "%.com"}, AcceptedByUserID: invites.ValueFilter{EqualTo: ptr("")}}
	want := []string{"ann", "dan", "eve", "fay", "gus", "gus2", "hal", "ian", "jo", "kim"}
	for _, o := range allOrders {
		exp := f.sorted(o, want)
		var walked []invites.Invite
		var after *invites.Cursor
		for page := 0; page <= len(exp); page++ {
			got, total := f.list(t, invites.ListParams{Where: w, Order: o, Limit: 3}, after)
			if total != len(exp) {
				t.Fatalf("filtered keyset walk in order %s: total %d, want %d", orderName(o), total, len(exp))
			}
			walked = append(walked, got...)
			if len(got) < 3 {
				break
			}
			after = cursorAfter(got[len(got)-1], o, listNow)
		}
		f.checkKeys(t, "filtered keyset walk in order "+orderName(o), walked, exp)
	}
}

// testListFoldedOrders pins the name orders to the lower-cased names:
// "ann" sits beside "Ann", not after every capital.
func testListFoldedOrders(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildFilterFixture(t, newStore(t))
	// Ties go by id, and uuid.NewV7 makes ids in creation order.
	for _, c := range []struct {
		o    invites.Order
		want string
	}{
		{invites.Order{Field: invites.OrderFirstName}, "ann pct bob cat dan eve fay gus gus2 hal ian jo kim"},
		{invites.Order{Field: invites.OrderLastName, Desc: true}, "dan kim hal cat fay ann jo bob ian gus2 gus eve pct"},
		{invites.Order{Field: invites.OrderLocale}, "cat bob fay pct ann gus hal ian jo eve kim gus2 dan"},
	} {
		got, _ := f.list(t, invites.ListParams{Order: c.o}, nil)
		if g := strings.Join(f.keys(got), " "); g != c.want {
			t.Fatalf("List in order %s:\n\tgot  %s\n\twant %s", orderName(c.o), g, c.want)
		}
	}
}
