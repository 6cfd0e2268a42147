package invites_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// listSpy is a Store whose List records what the Service asked and, with
// block set, waits for its context to end, as a store scanning a large
// tenant would.
type listSpy struct {
	invites.Store
	got   invites.ListParams
	block bool
}

func (s *listSpy) List(ctx context.Context, p invites.ListParams) ([]invites.Invite, int, error) {
	s.got = p
	if s.block {
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	return s.Store.List(ctx, p)
}

func spyService(t *testing.T, spy *listSpy, tune func(*invites.Config)) *invites.Service {
	t.Helper()
	spy.Store = memstore.New()
	cfg := invites.Config{Tokens: token.Issuer{}, AcceptURL: func(invites.Token) string { return "https://app.test/" }}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := invites.New(spy, mailertest.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestListBoundsEveryList(t *testing.T) {
	h := newHarness(t)
	over := make([]invites.Status, invites.MaxFilterValues+1)
	for i := range over {
		over[i] = invites.StatusPending // repeats count: the bound is on what was sent
	}
	for _, c := range []struct {
		q     invites.Query
		field string
	}{
		{invites.Query{Statuses: over}, "status"},
		{invites.Query{Where: invites.Filter{Status: invites.StatusFilter{ValueIn: over}}}, "status[valueIn]"},
		{invites.Query{Offset: invites.MaxOffset + 1}, "offset"},
		{invites.Query{Offset: int(^uint(0) >> 1)}, "offset"},
		{invites.Query{CreatedAfter: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "createdAfter"},
		{invites.Query{CreatedBefore: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}, "createdBefore"},
	} {
		_, err := h.svc.List(ctx, admin, c.q)
		var ie *invites.InputError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("List(%s) = %v, want ErrInvalidInput naming %s", c.field, err, c.field)
		}
	}
	for _, q := range []invites.Query{{Statuses: over[1:]}, {Offset: invites.MaxOffset}} {
		if _, err := h.svc.List(ctx, admin, q); err != nil {
			t.Errorf("List at the bound: %v", err)
		}
	}
}

func TestListDropsRepeats(t *testing.T) {
	spy := &listSpy{}
	svc := spyService(t, spy, nil)
	id := uuid.MustParse("0190d5a4-0000-7000-8000-000000000000")
	sts := []invites.Status{"pending", "expired", "pending", "expired"}
	emails := []string{"a@x.io", "b@x.io", "a@x.io"}
	q := invites.Query{Statuses: sts, Where: invites.Filter{
		ID:              invites.IDFilter{ValueIn: []uuid.UUID{id, id}, ValueNotIn: []uuid.UUID{id, id}},
		Email:           invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: emails, ValueNotIn: emails}},
		Status:          invites.StatusFilter{ValueIn: sts, ValueNotIn: sts},
		CreatedByUserID: invites.ValueFilter{ValueIn: []string{"u", "u"}},
	}}
	if _, err := svc.List(ctx, admin, q); err != nil {
		t.Fatal(err)
	}
	w := spy.got.Where
	for name, ok := range map[string]bool{
		"id":              slices.Equal(w.ID.ValueIn, []uuid.UUID{id}) && slices.Equal(w.ID.ValueNotIn, []uuid.UUID{id}),
		"email":           slices.Equal(w.Email.ValueIn, emails[:2]) && slices.Equal(w.Email.ValueNotIn, emails[:2]),
		"status":          slices.Equal(w.Status.ValueIn, sts[:2]) && slices.Equal(w.Status.ValueNotIn, sts[:2]),
		"createdByUserId": slices.Equal(w.CreatedByUserID.ValueIn, []string{"u"}),
		"caller's slices": len(sts) == 4 && sts[2] == "pending" && emails[2] == "a@x.io",
	} {
		if !ok {
			t.Errorf("%s: the store got %+v", name, spy.got)
		}
	}
}

// Query's shorthand fields reach a store as the Where operators they are
// short for, ANDed with those already there; shorthands that contradict
// Where match nothing, and the store is not asked.
func TestListFoldsShorthands(t *testing.T) {
	pending, expired := invites.StatusPending, invites.StatusExpired
	ann, bob := "ann@x.io", "bob@x.io"
	for _, c := range []struct {
		name string
		q    invites.Query
		want invites.Filter // nil pointers and lists: not set
		none bool
	}{
		{"alone", invites.Query{Statuses: []invites.Status{pending}, Email: ann, CreatedByUserID: "u1"},
			invites.Filter{Status: invites.StatusFilter{ValueIn: []invites.Status{pending}},
				Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &ann}}, CreatedByUserID: invites.ValueFilter{EqualTo: ptr("u1")}}, false},
		{"statuses intersect", invites.Query{Statuses: []invites.Status{pending, expired},
			Where: invites.Filter{Status: invites.StatusFilter{ValueIn: []invites.Status{expired, invites.StatusCanceled}}}},
			invites.Filter{Status: invites.StatusFilter{ValueIn: []invites.Status{expired}}}, false},
		{"same email", invites.Query{Email: " ANN@x.io", Where: invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &ann}}}},
			invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &ann}}}, false},
		{"disjoint statuses", invites.Query{Statuses: []invites.Status{pending},
			Where: invites.Filter{Status: invites.StatusFilter{ValueIn: []invites.Status{expired}}}}, invites.Filter{}, true},
		{"other email", invites.Query{Email: bob, Where: invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &ann}}}}, invites.Filter{}, true},
		{"other creator", invites.Query{CreatedByUserID: "u2", Where: invites.Filter{CreatedByUserID: invites.ValueFilter{EqualTo: ptr("u1")}}}, invites.Filter{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			spy := &listSpy{}
			page, err := spyService(t, spy, nil).List(ctx, admin, c.q)
			if err != nil {
				t.Fatal(err)
			}
			asked := spy.got.TenantID != ""
			if c.none {
				if asked || page.TotalCount != 0 || page.Invites == nil || len(page.Invites) != 0 {
					t.Fatalf("asked the store: %v; page %+v; want an empty page, unasked", asked, page)
				}
				return
			}
			w := spy.got.Where
			eq := func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
			if !asked || !slices.Equal(w.Status.ValueIn, c.want.Status.ValueIn) ||
				!eq(w.Email.EqualTo, c.want.Email.EqualTo) && (w.Email.EqualTo == nil || invites.NormalizeEmail(*w.Email.EqualTo) != *c.want.Email.EqualTo) ||
				!eq(w.CreatedByUserID.EqualTo, c.want.CreatedByUserID.EqualTo) {
				t.Fatalf("the store got %+v, want %+v", w, c.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestListTimeout(t *testing.T) {
	spy := &listSpy{}
	if _, err := spyService(t, spy, nil).List(ctx, admin, invites.Query{}); err != nil || spy.got.Timeout != 5*time.Second {
		t.Fatalf("default: Timeout %v, %v; want 5s", spy.got.Timeout, err)
	}

	spy.block = true
	svc := spyService(t, spy, func(c *invites.Config) { c.ListTimeout = 20 * time.Millisecond })
	start := time.Now()
	_, err := svc.List(ctx, admin, invites.Query{})
	if !errors.Is(err, invites.ErrUnavailable) || spy.got.Timeout != 20*time.Millisecond {
		t.Fatalf("slow list = %v (Timeout %v), want ErrUnavailable", err, spy.got.Timeout)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the slow list took %v", d)
	}

	// The caller's own end is the caller's, not the store's unavailability.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	svc = spyService(t, spy, func(c *invites.Config) { c.ListTimeout = time.Minute })
	if _, err := svc.List(cctx, admin, invites.Query{}); errors.Is(err, invites.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller's deadline = %v, want context.DeadlineExceeded only", err)
	}
}
