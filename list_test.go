package invites_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

func TestListPaging(t *testing.T) {
	h := newHarness(t)
	var ids []uuid.UUID
	for i := range 45 {
		ids = append(ids, h.send(admin, fmt.Sprintf("p%02d@example.com", i))[0].ID)
		h.advance(time.Second)
	}
	for _, order := range []invites.Order{{Field: invites.OrderCreatedAt}, {Field: invites.OrderEmail, Desc: true}} {
		var got []uuid.UUID
		q := invites.Query{Order: order}
		for pages := 0; ; pages++ {
			page, err := h.svc.List(ctx, admin, q)
			if err != nil {
				t.Fatal(err)
			}
			if page.TotalCount != 45 || pages > 3 {
				t.Fatalf("%v: total %d after %d pages", order, page.TotalCount, pages)
			}
			for _, inv := range page.Invites {
				got = append(got, inv.ID)
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if len(got) != 45 {
			t.Fatalf("%v: walked %d invites", order, len(got))
		}
		for i := range got {
			want := ids[i]
			if order.Desc {
				want = ids[len(ids)-1-i]
			}
			if got[i] != want {
				t.Fatalf("%v: position %d is %v, want %v", order, i, got[i], want)
			}
		}
	}
	page, err := h.svc.List(ctx, admin, invites.Query{Limit: 5, Offset: 40})
	if err != nil || len(page.Invites) != 5 || page.Invites[0].ID != ids[40] || page.NextCursor != "" {
		t.Fatalf("offset page = %d invites, next %q, %v", len(page.Invites), page.NextCursor, err)
	}
}

func TestListFilters(t *testing.T) {
	h := newHarness(t)
	h.send(admin, "zed@alpha.io", "amy@beta.io")
	h.advance(time.Hour)
	bob := invites.Actor{UserID: "u-bob", TenantID: "acme", Roles: []string{"member"}}
	res, err := h.svc.Send(ctx, bob, []invites.NewInvite{{Email: "kim@alpha.io", FirstName: "Kimberly", LastName: "Alphaville"}})
	if err != nil || len(res.Success) != 1 {
		t.Fatal(res, err)
	}
	tests := []struct {
		name string
		q    invites.Query
		want int
	}{
		{"all", invites.Query{}, 3},
		{"email normalized", invites.Query{Email: " ZED@alpha.io"}, 1},
		{"search email", invites.Query{Search: "ALPHA"}, 2},
		{"search name", invites.Query{Search: "berl"}, 1},
		{"created by", invites.Query{CreatedByUserID: "u-bob"}, 1},
		{"created after", invites.Query{CreatedAfter: t0.Add(time.Hour)}, 1},
		{"created before", invites.Query{CreatedBefore: t0.Add(time.Hour)}, 2},
		{"status", invites.Query{Statuses: []invites.Status{invites.StatusPending}}, 3},
		{"status none", invites.Query{Statuses: []invites.Status{invites.StatusAccepted}}, 0},
	}
	for _, tt := range tests {
		page, err := h.svc.List(ctx, admin, tt.q)
		if err != nil || page.TotalCount != tt.want || len(page.Invites) != tt.want {
			t.Errorf("%s: %d/%d invites, %v; want %d", tt.name, len(page.Invites), page.TotalCount, err, tt.want)
		}
	}
}

func TestListRejectsBadQueries(t *testing.T) {
	h := newHarness(t)
	for i := range 3 {
		h.send(admin, fmt.Sprintf("q%d@example.com", i))
	}
	first, err := h.svc.List(ctx, admin, invites.Query{Limit: 1})
	if err != nil || first.NextCursor == "" {
		t.Fatal(first, err)
	}
	bad := []invites.Query{
		{Limit: 101}, {Limit: -1}, {Offset: -1},
		{Statuses: []invites.Status{"lost"}},
		{Order: invites.Order{Field: "password"}},
		{Cursor: "!!!"}, {Cursor: "e30"},
		{Cursor: first.NextCursor, Offset: 1},
		{Cursor: first.NextCursor, Order: invites.Order{Field: invites.OrderEmail}},
		{Cursor: first.NextCursor, Order: invites.Order{Desc: true}},
		// Control characters and broken UTF-8, which no SQL text holds.
		{Search: "a\x00b"}, {Search: "\xff"}, {Email: "a\x00@x.io"}, {CreatedByUserID: "u\x01"},
		// A forged cursor of the right order carrying a NUL.
		{Cursor: base64.RawURLEncoding.EncodeToString([]byte(`{"f":"email","s":"a\u0000","i":"01900000-0000-7000-8000-000000000000"}`)),
			Order: invites.Order{Field: invites.OrderEmail}},
	}
	for _, q := range bad {
		if _, err := h.svc.List(ctx, admin, q); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("List(%+v) = %v, want ErrInvalidInput", q, err)
		}
	}
}
