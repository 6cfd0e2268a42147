package memstore

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// List implements invites.Store. It scans the tenant's invites: fine for
// the sizes an in-memory store is meant for.
func (s *Store) List(_ context.Context, p invites.ListParams) ([]invites.Invite, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	search := strings.ToLower(p.Search)
	p.Where = prepare(p.Where)
	var rows []*record
	for _, id := range s.byTenant[p.TenantID] {
		r := s.invites[id]
		if matches(&r.inv, &p, search) {
			rows = append(rows, r)
		}
	}
	total := len(rows)

	key := orderKey(p)
	slices.SortFunc(rows, func(a, b *record) int {
		return key.compare(key.of(&a.inv), a.inv.ID, key.of(&b.inv), b.inv.ID)
	})
	if p.After != nil {
		after := sortValue{t: p.After.Time, s: p.After.Text}
		i, _ := slices.BinarySearchFunc(rows, p.After.ID, func(r *record, id uuid.UUID) int {
			c := key.compare(key.of(&r.inv), r.inv.ID, after, id)
			if c == 0 {
				return -1 // the cursor row itself is not after the cursor
			}
			return c
		})
		rows = rows[i:]
	}
	if p.Offset > 0 {
		rows = rows[min(p.Offset, len(rows)):]
	}
	if p.Limit > 0 && len(rows) > p.Limit {
		rows = rows[:p.Limit]
	}
	out := make([]invites.Invite, len(rows))
	for i, r := range rows {
		out[i] = clone(r.inv)
	}
	return out, total, nil
}

// matches applies every filter of p but the paging ones.
func matches(inv *invites.Invite, p *invites.ListParams, search string) bool {
	if search != "" &&
		!strings.Contains(strings.ToLower(inv.Email), search) &&
		!strings.Contains(strings.ToLower(inv.FirstName), search) &&
		!strings.Contains(strings.ToLower(inv.LastName), search) {
		return false
	}
	if !p.CreatedAfter.IsZero() && inv.CreatedAt.Before(p.CreatedAfter) {
		return false
	}
	if !p.CreatedBefore.IsZero() && !inv.CreatedAt.Before(p.CreatedBefore) {
		return false
	}
	return matchWhere(inv, p)
}

// sortValue is the order value of a row, in the shape of a Cursor: a time
// for the time fields, invites.OrderText for the others.
type sortValue struct {
	t time.Time
	s string
}

type orderer struct {
	field invites.OrderField
	desc  bool
	now   time.Time
}

func orderKey(p invites.ListParams) orderer {
	f := p.Order.Field
	if f == "" {
		f = invites.OrderCreatedAt
	}
	return orderer{field: f, desc: p.Order.Desc, now: p.Now}
}

func (o orderer) of(inv *invites.Invite) sortValue {
	switch o.field {
	case invites.OrderCreatedAt:
		return sortValue{t: inv.CreatedAt}
	case invites.OrderUpdatedAt:
		return sortValue{t: inv.UpdatedAt}
	default:
		return sortValue{s: invites.OrderText(o.field, *inv, o.now)}
	}
}

// compare orders (value, id) pairs, ties broken by id in the same
// direction as the field.
func (o orderer) compare(a sortValue, aid uuid.UUID, b sortValue, bid uuid.UUID) int {
	c := a.t.Compare(b.t)
	if c == 0 {
		c = cmp.Compare(a.s, b.s)
	}
	if c == 0 {
		c = bytes.Compare(aid[:], bid[:])
	}
	if o.desc {
		return -c
	}
	return c
}
