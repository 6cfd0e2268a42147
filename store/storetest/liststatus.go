package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// statusFixture is a tenant with invites in every status, expired both
// ways (stored by ExpireDue, and pending past expires_at at now), with ids
// chosen so the two kinds interleave in id order.
type statusFixture struct {
	s   invites.Store
	now time.Time
	all []invites.Invite
	key map[uuid.UUID]string
}

func buildStatusFixture(t *testing.T, s invites.Store) *statusFixture {
	t.Helper()
	ctx := t.Context()
	f := &statusFixture{s: s, now: t0.Add(4 * time.Hour), key: map[uuid.UUID]string{}}
	specs := []struct {
		key     string
		id      byte // the id's first byte: its place in id order
		expires time.Duration
	}{
		{"stored1", 0x10, time.Hour}, {"derived1", 0x20, 3 * time.Hour}, {"stored2", 0x30, time.Hour}, {"derived2", 0x40, 3 * time.Hour},
		{"pending1", 0x15, ttl}, {"pending2", 0x25, ttl}, {"pending3", 0x35, ttl},
		{"accepted1", 0x12, ttl}, {"accepted2", 0x32, ttl}, {"declined", 0x22, ttl}, {"canceled1", 0x18, ttl}, {"canceled2", 0x38, ttl},
	}
	ids := map[string]uuid.UUID{}
	mk := func(keys ...string) []invites.Invite {
		var out []invites.Invite
		for _, sp := range specs {
			if !slices.Contains(keys, sp.key) {
				continue
			}
			inv := newInvite(tenantA, sp.key+"@example.com", t0, func(i *invites.Invite) {
				i.ID[0] = sp.id
				i.ExpiresAt = t0.Add(sp.expires)
			})
			ids[sp.key], f.key[inv.ID] = inv.ID, sp.key
			out = append(out, inv)
		}
		return out
	}
	// Only those to accept or decline get tokens: minting renews expiry.
	insertOK(t, s, t0, mk("accepted1", "accepted2", "declined")...)
	digests := mintAll(t, s, t0)
	op := t0.Add(30 * time.Minute)
	for _, k := range []string{"accepted1", "accepted2"} {
		if _, err := accept(ctx, s, digests[ids[k]], "acceptor", op, okHook); err != nil {
			t.Fatalf("fixture: Accept %s: %v", k, err)
		}
	}
	if _, err := decline(ctx, s, digests[ids["declined"]], op); err != nil {
		t.Fatalf("fixture: Decline: %v", err)
	}
	insertOK(t, s, t0, append(mk("stored1", "derived1", "stored2", "derived2", "pending1", "pending2", "pending3",
		"canceled1", "canceled2"), newInvite(tenantB, "other@example.com", t0))...)
	for _, k := range []string{"canceled1", "canceled2"} {
		if _, err := cancelIn(ctx, s, tenantA, ids[k], op); err != nil {
			t.Fatalf("fixture: Cancel %s: %v", k, err)
		}
	}
	if n, err := s.ExpireDue(ctx, invites.ExpireParams{Now: t0.Add(2 * time.Hour), Limit: 100}); err != nil || n != 2 {
		t.Fatalf("fixture: ExpireDue = %d, %v; want the two stored expired", n, err)
	}
	for _, id := range ids {
		f.all = append(f.all, get(t, s, tenantA, id))
	}
	return f
}

// want is the fixture's invites that pass keep, in order o, past after.
func (f *statusFixture) want(o invites.Order, after *invites.Cursor, keep func(invites.Status) bool) []string {
	var out []invites.Invite
	for _, inv := range f.all {
		if keep != nil && !keep(inv.StatusAt(f.now)) {
			continue
		}
		if after != nil {
			c := strings.Compare(invites.OrderText(o.Field, inv, f.now), after.Text)
			if c == 0 {
				c = bytes.Compare(inv.ID[:], after.ID[:])
			}
			if o.Desc {
				c = -c
			}
			if c <= 0 {
				continue
			}
		}
		out = append(out, inv)
	}
	slices.SortFunc(out, compareBy(o, f.now))
	return f.keys(out)
}

func (f *statusFixture) keys(invs []invites.Invite) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = f.key[inv.ID]
	}
	return out
}

func (f *statusFixture) list(t *testing.T, q invites.ListParams, after *invites.Cursor) ([]invites.Invite, int) {
	t.Helper()
	q.TenantID, q.Now, q.After = tenantA, f.now, after
	got, total, err := f.s.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v, after %+v): %v", q, after, err)
	}
	return got, total
}

// In status order, stored expired invites and pending ones past their
// expiry read as one status, interleaved by id: a keyset walk of every page
// size (its cursors crossing each status boundary), every offset, status
// filters, and a cursor whose text is no status at all, both ways.
func testListStatusOrder(t *testing.T, newStore func(*testing.T) invites.Store) {
	f := buildStatusFixture(t, newStore(t))
	asc := f.want(invites.Order{Field: invites.OrderStatus}, nil, nil)
	if w := []string{"stored1", "derived1", "stored2", "derived2"}; !slices.Equal(asc[5:9], w) {
		t.Fatalf("storetest: the status fixture's expired invites are %v, want them interleaved as %v", asc[5:9], w)
	}
	in := func(sts ...invites.Status) func(invites.Status) bool {
		return func(s invites.Status) bool { return slices.Contains(sts, s) }
	}
	filters := []struct {
		name string
		q    invites.ListParams
		keep func(invites.Status) bool
	}{
		{"all", invites.ListParams{}, nil},
		{"pending or expired", invites.ListParams{Where: statusIn(invites.StatusPending, invites.StatusExpired)},
			in(invites.StatusPending, invites.StatusExpired)},
		{"expired", invites.ListParams{Where: invites.Filter{Status: invites.StatusFilter{EqualTo: invites.StatusExpired}}},
			in(invites.StatusExpired)},
		{"not canceled nor expired", invites.ListParams{Where: invites.Filter{Status: invites.StatusFilter{NotEqualTo: invites.StatusCanceled,
			ValueNotIn: []invites.Status{invites.StatusExpired}}}},
			in(invites.StatusPending, invites.StatusAccepted, invites.StatusDeclined)},
		{"accepted or pending", invites.ListParams{Where: invites.Filter{Status: invites.StatusFilter{
			ValueIn: []invites.Status{invites.StatusAccepted, invites.StatusPending}}}},
			in(invites.StatusAccepted, invites.StatusPending)},
	}
	for _, desc := range []bool{false, true} {
		o := invites.Order{Field: invites.OrderStatus, Desc: desc}
		for _, fl := range filters {
			want := f.want(o, nil, fl.keep)
			for limit := 1; limit <= len(want)+1; limit++ {
				what := fmt.Sprintf("status order desc=%t, %s, keyset walk by %d", desc, fl.name, limit)
				q := fl.q
				q.Order, q.Limit = o, limit
				walked := walkPages(t, what, q, len(want), f.now, f.list)
				if got := f.keys(walked); !slices.Equal(got, want) {
					t.Fatalf("%s:\n\tgot  %v\n\twant %v", what, got, want)
				}
			}
			for offset := 0; offset <= len(want); offset++ {
				q := fl.q
				q.Order, q.Limit, q.Offset = o, 3, offset
				got, _ := f.list(t, q, nil)
				if g, w := f.keys(got), want[offset:min(offset+3, len(want))]; !slices.Equal(g, w) {
					t.Fatalf("status order desc=%t, %s, offset %d:\n\tgot  %v\n\twant %v", desc, fl.name, offset, g, w)
				}
			}
		}
		for _, text := range []string{"", "d", "expired", "f", "pending", "q"} {
			for _, id := range []uuid.UUID{{0x01}, {0x28}, uuid.Max} {
				after := &invites.Cursor{Text: text, ID: id}
				got, _ := f.list(t, invites.ListParams{Order: o, Limit: 100}, after)
				if g, w := f.keys(got), f.want(o, after, nil); !slices.Equal(g, w) {
					t.Fatalf("status order desc=%t after (%q, %s):\n\tgot  %v\n\twant %v", desc, text, id, g, w)
				}
			}
		}
	}
}
