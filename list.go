package invites

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// List: a Query checked and folded into one store call, and the cursors of
// its pages (encodeCursor, decodeCursor, OrderText).

// Page sizes of List, and the deepest offset: a store reads every row it
// skips, so deeper pages are walked with Page.NextCursor, which seeks.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	MaxOffset    = 10_000
)

// errListTimeout is the cause of a List stopped by Config.ListTimeout,
// told apart from the caller's own deadline or cancel.
var errListTimeout = errors.New("invites: list timeout")

// List returns one page of the actor's tenant's invites matching q.
func (s *Service) List(ctx context.Context, actor Actor, q Query) (page Page, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameList, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err, Count: len(page.Invites)}) }()
	if err := validActor(actor); err != nil {
		return Page{}, err
	}
	if err := s.authorize(ctx, actor, OpList, nil); err != nil {
		return Page{}, err
	}
	now := s.cfg.Now()
	p, none, err := checkQuery(q)
	if err != nil {
		return Page{}, err
	}
	if none {
		return Page{Invites: []Invite{}}, nil
	}
	p.TenantID, p.Now, p.Timeout = actor.TenantID, now, s.cfg.ListTimeout
	limit := p.Limit
	p.Limit++ // one more tells whether a next page exists
	lctx, cancel := context.WithTimeoutCause(ctx, p.Timeout, errListTimeout)
	defer cancel()
	rows, total, err := s.store.List(lctx, p)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(lctx), errListTimeout) && !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: the list ran past %s: %w", ErrUnavailable, p.Timeout, err)
		}
		return Page{}, err
	}
	page = Page{Invites: make([]Invite, 0, min(len(rows), limit)), TotalCount: total}
	for i, inv := range rows {
		if i == limit {
			page.NextCursor = encodeCursor(p.Order, rows[i-1], now)
			break
		}
		page.Invites = append(page.Invites, s.asSeenAt(inv, now))
	}
	return page, nil
}

// checkQuery checks q and resolves it for a store: the shorthand fields
// Statuses, Email and CreatedByUserID become the Where operators they
// are short for. none reports that they contradict Where, so nothing
// matches.
func checkQuery(q Query) (p ListParams, none bool, err error) {
	p = ListParams{Search: q.Search, CreatedAfter: q.CreatedAfter, CreatedBefore: q.CreatedBefore,
		Order: q.Order, Limit: q.Limit, Offset: q.Offset}
	if len(q.Statuses) > MaxFilterValues {
		return p, false, invalid("status", "has more than %d values", MaxFilterValues)
	}
	for _, st := range q.Statuses {
		if !st.Valid() {
			return p, false, invalid("status", "has an unknown status %q", st)
		}
	}
	switch q.Order.Field {
	case "":
		p.Order.Field = OrderCreatedAt
	case OrderCreatedAt, OrderUpdatedAt, OrderEmail, OrderStatus, OrderFirstName, OrderLastName, OrderLocale:
	default:
		return p, false, invalid("order", "cannot be %q: order by createdAt, updatedAt, email, status, firstName, lastName or locale, with a leading - for descending", q.Order.Field)
	}
	switch {
	case q.Limit == 0:
		p.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return p, false, invalid("limit", "must be a whole number from 1 to %d", MaxLimit)
	}
	if q.Offset < 0 || q.Offset > MaxOffset {
		return p, false, invalid("offset", "must be a whole number from 0 to %d (walk further with the cursor)", MaxOffset)
	}
	for _, f := range []struct {
		field, value string
		max          int
	}{{"email", q.Email, MaxEmailBytes}, {"search", q.Search, MaxSearch}, {"createdByUserId", q.CreatedByUserID, MaxIDBytes}} {
		if err := validText(f.field, f.value, f.max); err != nil {
			return p, false, err
		}
	}
	for _, t := range []struct {
		field string
		t     time.Time
	}{{"createdAfter", q.CreatedAfter}, {"createdBefore", q.CreatedBefore}} {
		// RFC 3339's four-digit years: SQLite's times are text, on which
		// year 10000 would sort before 2030.
		if !t.t.IsZero() && (t.t.Year() < 1 || t.t.Year() > 9999) {
			return p, false, invalid(t.field, "must be a time between the years 1 and 9999")
		}
	}
	if p.Where, err = checkFilter(q.Where); err != nil {
		return p, false, err
	}
	if q.Cursor != "" {
		if q.Offset != 0 {
			return p, false, invalid("cursor", "cannot be combined with offset")
		}
		c, err := decodeCursor(q.Cursor, p.Order)
		if err != nil {
			return p, false, err
		}
		p.After = &c
	}
	return p, !fold(&p.Where, q), nil
}

// fold ANDs the shorthand fields of q into w, and reports whether any
// invite can still match.
func fold(w *Filter, q Query) bool {
	if sts := unique(q.Statuses); len(sts) > 0 {
		if len(w.Status.ValueIn) > 0 {
			sts = slices.DeleteFunc(sts, func(st Status) bool { return !slices.Contains(w.Status.ValueIn, st) })
			if len(sts) == 0 {
				return false
			}
		}
		w.Status.ValueIn = sts
	}
	same := func(a, b string) bool { return a == b }
	sameEmail := func(a, b string) bool { return NormalizeEmail(a) == NormalizeEmail(b) }
	for _, f := range []struct {
		v    string
		eq   **string
		same func(a, b string) bool
	}{{q.Email, &w.Email.EqualTo, sameEmail}, {q.CreatedByUserID, &w.CreatedByUserID.EqualTo, same}} {
		switch {
		case f.v == "":
		case *f.eq == nil:
			*f.eq = &f.v
		case !f.same(**f.eq, f.v):
			return false
		}
	}
	return true
}

// wireCursor is the cursor as its opaque string carries it; the order is
// kept so a cursor of another order is refused, not misread.
type wireCursor struct {
	Field OrderField `json:"f"`
	Desc  bool       `json:"d,omitempty"`
	Time  time.Time  `json:"t,omitzero"`
	Text  string     `json:"s,omitempty"`
	ID    uuid.UUID  `json:"i"`
}

func encodeCursor(o Order, last Invite, now time.Time) string {
	w := wireCursor{Field: o.Field, Desc: o.Desc, ID: last.ID}
	switch o.Field {
	case OrderCreatedAt:
		w.Time = last.CreatedAt
	case OrderUpdatedAt:
		w.Time = last.UpdatedAt
	default:
		w.Text = OrderText(o.Field, last, now)
	}
	b, _ := json.Marshal(w) // cannot fail: plain fields
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, o Order) (Cursor, error) {
	bad := invalid("cursor", "is not a cursor of this query")
	if len(s) > 2048 { // a name of 200 four-byte characters, in base64
		return Cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	var w wireCursor
	if err := json.Unmarshal(b, &w); err != nil || w.Field != o.Field || w.Desc != o.Desc || w.ID == uuid.Nil ||
		validText("cursor", w.Text, MaxEmailBytes) != nil {
		return Cursor{}, bad
	}
	return Cursor{Time: w.Time, Text: w.Text, ID: w.ID}, nil
}

// OrderText returns inv's sort value in a text order f at now, as a
// Cursor's Text carries it; "" for the time orders.
func OrderText(f OrderField, inv Invite, now time.Time) string {
	switch f {
	case OrderEmail:
		return inv.EmailNorm()
	case OrderStatus:
		return string(inv.StatusAt(now))
	case OrderFirstName:
		return strings.ToLower(inv.FirstName)
	case OrderLastName:
		return strings.ToLower(inv.LastName)
	case OrderLocale:
		return inv.Locale
	}
	return ""
}
