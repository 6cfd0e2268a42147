package storetest

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

var listCases = []testCase{
	{"List/Filters", testListFilters},
	{"List/ShorthandViaService", testListShorthand},
	{"List/Orders", testListOrders},
	{"List/OffsetLimit", testListOffsetLimit},
	{"List/Keyset", testListKeyset},
	{"List/Where", testListWhere},
	{"List/WhereLimits", testListWhereLimits},
	{"List/FoldedOrders", testListFoldedOrders},
	{"List/AtBounds", testListAtBounds},
	{"List/StatusOrder", testListStatusOrder},
}

// listNow is when the list fixture is read: eve and kim have expired.
var listNow = t0.Add(48 * time.Hour)

// listFixture is a tenant of invites in every status, with ties in every
// order field, plus another tenant's invites that must never show.
type listFixture struct {
	s    invites.Store
	byID map[uuid.UUID]string      // key of each invite of tenantA
	inv  map[string]invites.Invite // as Get returns them after setup
	all  []invites.Invite          // tenantA's, in no particular order
}

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func buildListFixture(t *testing.T, s invites.Store) *listFixture {
	t.Helper()
	ctx := t.Context()
	type spec struct {
		key, email, first, last, by string
		created                     time.Time
	}
	main := []spec{
		{"ann", "ann.smith@example.com", "Ann", "Smith", "u1", day(-10)},
		{"bob", "bob@example.com", "Bob", "Jones", "u1", day(-9)},
		{"cat", "cat@example.org", "Cat", "Smithers", "u2", day(-9)},
		{"dan", "dan@example.com", "Dan", "ÖZTÜRK", "u2", day(-8)},
		{"fay", "fay@example.com", "Fay", "Smith", "u3", day(-7)},
		{"gus", "gus@example.com", "Gus", "Green", "u3", day(-6)},
		{"hal", "hal_x@example.com", "Hal", "White", "u1", day(-5)},
		{"ian", "halax@example.com", "Ian", "Grey", "u1", day(-5)},
		{"jo", "jo@example.com", "JOANNA", "O'Neil", "u3", day(-4)},
	}
	later := []spec{ // inserted at t0+1h, never minted: eve and kim expire at t0+2h
		{"eve", "Eve@Example.com", "Eve", "Black", "u1", day(-7)},
		{"kim", "kim@example.com", "Kim", "Young", "u2", day(-3)},
		{"gus2", "Gus@example.com", "Gus", "Green", "u3", day(-2)},
	}
	// Locales in every shape Filter.Locale meets; the rest are en-US.
	locales := map[string]string{"bob": "de-AT", "cat": "de", "dan": "fr", "fay": "de-AT"}
	mk := func(sp spec, now time.Time) invites.Invite {
		return newInvite(tenantA, sp.email, now, func(i *invites.Invite) {
			i.FirstName, i.LastName, i.CreatedByUserID = sp.first, sp.last, sp.by
			i.Locale = cmp.Or(locales[sp.key], i.Locale)
			i.CreatedAt, i.UpdatedAt, i.StatusUpdatedAt = sp.created, sp.created, sp.created
		})
	}
	f := &listFixture{s: s, byID: map[uuid.UUID]string{}, inv: map[string]invites.Invite{}}
	rng := rand.New(rand.NewPCG(1, 2))
	var batch []invites.Invite
	for _, sp := range main {
		inv := mk(sp, t0)
		f.byID[inv.ID] = sp.key
		batch = append(batch, inv)
	}
	// Insert in an order unrelated to ids and creation times.
	rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	insertOK(t, s, t0, batch...)
	// Another tenant, with the same addresses: never listed for tenantA.
	insertOK(t, s, t0, newInvite(tenantB, "ann.smith@example.com", t0), newInvite(tenantB, "gus@example.com", t0, func(i *invites.Invite) {
		i.FirstName, i.LastName, i.CreatedByUserID = "Smith", "Smith", "u1"
	}))
	digests := mintAll(t, s, t0)
	key := func(k string) uuid.UUID {
		for id, kk := range f.byID {
			if kk == k {
				return id
			}
		}
		t.Fatalf("no fixture invite %q", k)
		return uuid.Nil
	}
	op := t0.Add(time.Hour)
	if _, err := accept(ctx, s, digests[key("bob")], "acceptor", op, okHook); err != nil {
		t.Fatalf("fixture: Accept bob: %v", err)
	}
	if _, err := decline(ctx, s, digests[key("cat")], op); err != nil {
		t.Fatalf("fixture: Decline cat: %v", err)
	}
	for _, k := range []string{"dan", "gus"} {
		if _, err := cancelIn(ctx, s, tenantA, key(k), op); err != nil {
			t.Fatalf("fixture: Cancel %s: %v", k, err)
		}
	}
	batch = batch[:0]
	for _, sp := range later {
		inv := mk(sp, op)
		if sp.key != "gus2" {
			inv.ExpiresAt = t0.Add(2 * time.Hour)
		}
		f.byID[inv.ID] = sp.key
		batch = append(batch, inv)
	}
	insertOK(t, s, op, batch...)
	for id, k := range f.byID {
		inv := get(t, s, tenantA, id)
		f.inv[k] = inv
		f.all = append(f.all, inv)
	}
	return f
}

// keys names invites by their fixture keys, for messages.
func (f *listFixture) keys(invs []invites.Invite) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		if k, ok := f.byID[inv.ID]; ok {
			out[i] = k
		} else {
			out[i] = fmt.Sprintf("%s(%s)", inv.ID, inv.TenantID)
		}
	}
	return out
}

// list calls List for tenantA at listNow.
func (f *listFixture) list(t *testing.T, q invites.ListParams, after *invites.Cursor) ([]invites.Invite, int) {
	t.Helper()
	if q.Order.Field == "" {
		q.Order.Field = invites.OrderCreatedAt
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	q.TenantID, q.Now, q.After = tenantA, listNow, after
	got, total, err := f.s.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v, after %+v): %v", q, after, err)
	}
	for _, inv := range got {
		if want, ok := f.inv[f.byID[inv.ID]]; !ok {
			t.Fatalf("List(%+v) returned invite %s of tenant %q, not one of tenant %q", q, inv.ID, inv.TenantID, tenantA)
		} else {
			checkInvite(t, "List", inv, want)
		}
	}
	return got, total
}

// compareBy is the order o as the contract defines it, ties by id.
func compareBy(o invites.Order, now time.Time) func(a, b invites.Invite) int {
	return func(a, b invites.Invite) int {
		var c int
		switch o.Field {
		case invites.OrderCreatedAt:
			c = a.CreatedAt.Compare(b.CreatedAt)
		case invites.OrderUpdatedAt:
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		default:
			c = strings.Compare(invites.OrderText(o.Field, a, now), invites.OrderText(o.Field, b, now))
		}
		if c == 0 {
			c = bytes.Compare(a.ID[:], b.ID[:])
		}
		if o.Desc {
			c = -c
		}
		return c
	}
}

// sorted returns the fixture invites with the given keys (all when keys
// is nil) in order o.
func (f *listFixture) sorted(o invites.Order, keys []string) []invites.Invite {
	var out []invites.Invite
	for _, inv := range f.all {
		if keys == nil || slices.Contains(keys, f.byID[inv.ID]) {
			out = append(out, inv)
		}
	}
	slices.SortFunc(out, compareBy(o, listNow))
	return out
}

// checkKeys fails unless got lists exactly want, in order.
func (f *listFixture) checkKeys(t *testing.T, what string, got, want []invites.Invite) {
	t.Helper()
	if g, w := f.keys(got), f.keys(want); !slices.Equal(g, w) {
		t.Fatalf("%s:\n\tgot  %v\n\twant %v", what, g, w)
	}
}

func testListFilters(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildListFixture(t, newStore(t))
	all := []string{"ann", "bob", "cat", "dan", "eve", "fay", "gus", "gus2", "hal", "ian", "jo", "kim"}
	cases := []struct {
		name string
		q    invites.ListParams
		want []string
	}{
		{"none", invites.ListParams{}, all},
		{"pending (expired excluded)", invites.ListParams{Where: statusIn(invites.StatusPending)},
			[]string{"ann", "fay", "gus2", "hal", "ian", "jo"}},
		{"expired (derived at Now)", invites.ListParams{Where: statusIn(invites.StatusExpired)}, []string{"eve", "kim"}},
		{"accepted or declined", invites.ListParams{Where: statusIn(invites.StatusAccepted, invites.StatusDeclined)}, []string{"bob", "cat"}},
		{"canceled", invites.ListParams{Where: statusIn(invites.StatusCanceled)}, []string{"dan", "gus"}},
		{"email normalized", invites.ListParams{Where: invites.Filter{Email: emailIs(" GUS@Example.COM ")}}, []string{"gus", "gus2"}},
		{"email stored mixed-case", invites.ListParams{Where: invites.Filter{Email: emailIs("eve@example.com")}}, []string{"eve"}},
		{"email unknown", invites.ListParams{Where: invites.Filter{Email: emailIs("nobody@example.com")}}, []string{}},
		{"search last name, any case", invites.ListParams{Search: "SMITH"}, []string{"ann", "cat", "fay"}},
		{"search first name", invites.ListParams{Search: "joanna"}, []string{"jo"}},
		{"search email domain", invites.ListParams{Search: "Example.ORG"}, []string{"cat"}},
		{"search with _ taken literally", invites.ListParams{Search: "l_x"}, []string{"hal"}},
		{"search with % taken literally", invites.ListParams{Search: "%"}, []string{}},
		{"search apostrophe", invites.ListParams{Search: "o'neil"}, []string{"jo"}},
		{"search non-ASCII, any case", invites.ListParams{Search: "Öztürk"}, []string{"dan"}},
		{"created by", invites.ListParams{Where: invites.Filter{CreatedByUserID: invites.ValueFilter{EqualTo: ptr("u2")}}}, []string{"cat", "dan", "kim"}},
		{"created after, inclusive", invites.ListParams{CreatedAfter: day(-5)}, []string{"gus2", "hal", "ian", "jo", "kim"}},
		{"created before, exclusive", invites.ListParams{CreatedBefore: day(-7)}, []string{"ann", "bob", "cat", "dan"}},
		{"created range", invites.ListParams{CreatedAfter: day(-9), CreatedBefore: day(-5)}, []string{"bob", "cat", "dan", "eve", "fay", "gus"}},
		{"combined", invites.ListParams{Search: "example.com", Where: invites.Filter{
			Status:          invites.StatusFilter{ValueIn: []invites.Status{invites.StatusPending, invites.StatusExpired}},
			CreatedByUserID: invites.ValueFilter{EqualTo: ptr("u1")}}}, []string{"ann", "eve", "hal", "ian"}},
	}
	for _, c := range cases {
		for _, o := range []invites.Order{{Field: invites.OrderCreatedAt}, {Field: invites.OrderEmail, Desc: true}} {
			q := c.q
			q.Order = o
			got, total := f.list(t, q, nil)
			what := fmt.Sprintf("List filtered by %s, order %s desc=%t", c.name, o.Field, o.Desc)
			f.checkKeys(t, what, got, f.sorted(o, c.want))
			if total != len(c.want) {
				t.Fatalf("%s: total %d, want %d", what, total, len(c.want))
			}
		}
	}

	got, total, err := f.s.List(t.Context(), invites.ListParams{TenantID: "nobody", Now: listNow,
		Order: invites.Order{Field: invites.OrderCreatedAt}, Limit: 100})
	if err != nil || len(got) != 0 || total != 0 {
		t.Fatalf("List of a tenant with no invites: %d invites, total %d, error %v", len(got), total, err)
	}
}

// The Service folds Query's shorthand fields (Statuses, Email,
// CreatedByUserID) into Where: they filter as they always did.
func testListShorthand(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildListFixture(t, newStore(t))
	svc := rule.at(t, f.s, listNow)
	for _, c := range []struct {
		name string
		q    invites.Query
		want []string
	}{
		{"pending (expired excluded)", invites.Query{Statuses: []invites.Status{invites.StatusPending}},
			[]string{"ann", "fay", "gus2", "hal", "ian", "jo"}},
		{"expired (derived at Now)", invites.Query{Statuses: []invites.Status{invites.StatusExpired}}, []string{"eve", "kim"}},
		{"email normalized", invites.Query{Email: " GUS@Example.COM "}, []string{"gus", "gus2"}},
		{"created by", invites.Query{CreatedByUserID: "u2"}, []string{"cat", "dan", "kim"}},
		{"combined", invites.Query{Statuses: []invites.Status{invites.StatusPending, invites.StatusExpired},
			CreatedByUserID: "u1", Search: "example.com"}, []string{"ann", "eve", "hal", "ian"}},
		{"shorthand and Where", invites.Query{Statuses: []invites.Status{invites.StatusPending, invites.StatusCanceled},
			Where: statusIn(invites.StatusCanceled, invites.StatusAccepted)}, []string{"dan", "gus"}},
	} {
		page, err := svc.List(t.Context(), as(tenantA), c.q)
		if err != nil {
			t.Fatalf("Service.List %s: %v", c.name, err)
		}
		o := invites.Order{Field: invites.OrderCreatedAt}
		f.checkKeys(t, "Service.List "+c.name, page.Invites, f.sorted(o, c.want))
		if page.TotalCount != len(c.want) {
			t.Fatalf("Service.List %s: total %d, want %d", c.name, page.TotalCount, len(c.want))
		}
	}
}

var allOrders = func() []invites.Order {
	var os []invites.Order
	for _, f := range []invites.OrderField{invites.OrderCreatedAt, invites.OrderUpdatedAt, invites.OrderEmail, invites.OrderStatus,
		invites.OrderFirstName, invites.OrderLastName, invites.OrderLocale} {
		os = append(os, invites.Order{Field: f}, invites.Order{Field: f, Desc: true})
	}
	return os
}()

func orderName(o invites.Order) string {
	if o.Desc {
		return "-" + string(o.Field)
	}
	return string(o.Field)
}

func testListOrders(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildListFixture(t, newStore(t))
	for _, o := range allOrders {
		want := f.sorted(o, nil)
		// The fixture must hold ties, or the id tie-break goes untested.
		byField := compareBy(invites.Order{Field: o.Field}, listNow)
		ties := 0
		for i := 1; i < len(want); i++ {
			a, b := want[i-1], want[i]
			a.ID, b.ID = uuid.Nil, uuid.Nil
			if byField(a, b) == 0 {
				ties++
			}
		}
		if ties == 0 {
			t.Fatalf("storetest: the list fixture has no ties in %s; the id tie-break is untested", o.Field)
		}
		got, total := f.list(t, invites.ListParams{Order: o}, nil)
		f.checkKeys(t, "List in order "+orderName(o), got, want)
		if total != len(want) {
			t.Fatalf("List in order %s: total %d, want %d", orderName(o), total, len(want))
		}
	}
}

func testListOffsetLimit(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildListFixture(t, newStore(t))
	for _, o := range allOrders {
		want := f.sorted(o, nil)
		for _, c := range []struct{ offset, limit int }{{0, 1}, {0, 5}, {3, 4}, {10, 5}, {11, 1}, {12, 5}, {50, 5}} {
			got, total := f.list(t, invites.ListParams{Order: o, Offset: c.offset, Limit: c.limit}, nil)
			lo, hi := min(c.offset, len(want)), min(c.offset+c.limit, len(want))
			f.checkKeys(t, fmt.Sprintf("List order %s offset %d limit %d", orderName(o), c.offset, c.limit), got, want[lo:hi])
			if total != len(want) {
				t.Fatalf("List order %s offset %d limit %d: total %d, want %d (paging must not change it)",
					orderName(o), c.offset, c.limit, total, len(want))
			}
		}
	}
}

// cursorAfter is the keyset position of inv in order o, as the Service
// makes it.
func cursorAfter(inv invites.Invite, o invites.Order, now time.Time) *invites.Cursor {
	c := &invites.Cursor{ID: inv.ID}
	switch o.Field {
	case invites.OrderCreatedAt:
		c.Time = inv.CreatedAt
	case invites.OrderUpdatedAt:
		c.Time = inv.UpdatedAt
	default:
		c.Text = invites.OrderText(o.Field, inv, now)
	}
	return c
}

func testListKeyset(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildListFixture(t, newStore(t))
	filters := []struct {
		name string
		q    invites.ListParams
		keys []string
	}{
		{"all", invites.ListParams{}, nil},
		{"pending or expired", invites.ListParams{Where: statusIn(invites.StatusPending, invites.StatusExpired)},
			[]string{"ann", "eve", "fay", "gus2", "hal", "ian", "jo", "kim"}},
	}
	for _, fl := range filters {
		for _, o := range allOrders {
			for _, limit := range []int{1, 3, 5} {
				want := f.sorted(o, fl.keys)
				what := fmt.Sprintf("keyset walk of %s, order %s, limit %d", fl.name, orderName(o), limit)
				q := fl.q
				q.Order, q.Limit = o, limit
				walked := walkPages(t, what, q, len(want), listNow, f.list)
				f.checkKeys(t, what, walked, want)
			}
		}
	}
}

// walkPages lists q (its Order and Limit set) page by page through
// list, each page after the cursor of the last one's last invite, until a
// short page, and returns every invite walked. Every page must count
// total: the cursor does not change the count.
func walkPages(t *testing.T, what string, q invites.ListParams, total int, now time.Time,
	list func(*testing.T, invites.ListParams, *invites.Cursor) ([]invites.Invite, int)) []invites.Invite {
	t.Helper()
	var (
		walked []invites.Invite
		after  *invites.Cursor
	)
	for page := 0; ; page++ {
		if page > total+1 {
			t.Fatalf("%s: more pages than invites; walked %d", what, len(walked))
		}
		got, n := list(t, q, after)
		if n != total {
			t.Fatalf("%s: page %d total %d, want %d (the cursor must not change it)", what, page, n, total)
		}
		walked = append(walked, got...)
		if len(got) < q.Limit {
			return walked
		}
		after = cursorAfter(got[len(got)-1], q.Order, now)
	}
}
