package invites_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

func TestSendItemErrors(t *testing.T) {
	long := strings.Repeat("a", 250) + "@x.io"
	tests := []struct {
		name string
		item invites.NewInvite
		code string
	}{
		{"empty email", invites.NewInvite{Email: " "}, invites.CodeInvalidEmail},
		{"no at", invites.NewInvite{Email: "nobody"}, invites.CodeInvalidEmail},
		{"display name", invites.NewInvite{Email: "Bob <bob@x.io>"}, invites.CodeInvalidEmail},
		{"angle brackets", invites.NewInvite{Email: "<bob@x.io>"}, invites.CodeInvalidEmail},
		{"header injection", invites.NewInvite{Email: "bob@x.io\r\nBcc: eve@x.io"}, invites.CodeInvalidEmail},
		{"too long", invites.NewInvite{Email: long}, invites.CodeInvalidEmail},
		{"two addresses", invites.NewInvite{Email: "a@x.io, b@x.io"}, invites.CodeInvalidEmail},
		{"long first name", invites.NewInvite{Email: "n1@x.io", FirstName: strings.Repeat("é", 201)}, invites.CodeInvalidName},
		{"control in last name", invites.NewInvite{Email: "n2@x.io", LastName: "a\x00b"}, invites.CodeInvalidName},
		{"bad utf-8 name", invites.NewInvite{Email: "n3@x.io", FirstName: "\xff"}, invites.CodeInvalidName},
		{"bad locale", invites.NewInvite{Email: "l@x.io", Locale: "not a locale"}, invites.CodeInvalidLocale},
		{"data array", invites.NewInvite{Email: "d1@x.io", Data: []byte(`[1]`)}, invites.CodeInvalidData},
		{"data broken", invites.NewInvite{Email: "d2@x.io", Data: []byte(`{"a":`)}, invites.CodeInvalidData},
		{"data with NUL in a string", invites.NewInvite{Email: "d4@x.io", Data: []byte(`{"a":["b\u0000c"]}`)}, invites.CodeInvalidData},
		{"data with NUL in a key", invites.NewInvite{Email: "d5@x.io", Data: []byte(`{"a\u0000":1}`)}, invites.CodeInvalidData},
		{"data not UTF-8", invites.NewInvite{Email: "d6@x.io", Data: []byte("{\"a\":\"\xff\"}")}, invites.CodeInvalidData},
		{"data too big", invites.NewInvite{Email: "d3@x.io", Data: []byte(`{"a":"` + strings.Repeat("x", 16<<10) + `"}`)}, invites.CodeInvalidData},
		{"too many roles", invites.NewInvite{Email: "r1@x.io", Roles: slices.Repeat([]string{"x"}, 51)}, invites.CodeInvalidRoles},
		{"empty role", invites.NewInvite{Email: "r2@x.io", Roles: []string{""}}, invites.CodeInvalidRoles},
		{"role not held", invites.NewInvite{Email: "r3@x.io", Roles: []string{"owner"}}, invites.CodeForbiddenRole},
	}
	h := newHarness(t)
	items := []invites.NewInvite{{Email: "good@x.io"}}
	for _, tt := range tests {
		items = append(items, tt.item)
	}
	items = append(items, invites.NewInvite{Email: "GOOD@x.io "})
	res, err := h.svc.Send(ctx, admin, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Success) != 1 || res.Success[0].Email != "good@x.io" {
		t.Fatalf("success = %+v", res.Success)
	}
	if len(res.Errors) != len(tests)+1 {
		t.Fatalf("got %d errors, want %d: %+v", len(res.Errors), len(tests)+1, res.Errors)
	}
	for i, tt := range tests {
		e := res.Errors[i]
		if e.Index != i+1 || e.Code != tt.code || e.Email != tt.item.Email || e.Message == "" {
			t.Errorf("%s: error %+v, want index %d code %s", tt.name, e, i+1, tt.code)
		}
	}
	if dup := res.Errors[len(tests)]; dup.Code != invites.CodeDuplicateInBatch || dup.Index != len(items)-1 {
		t.Errorf("in-batch duplicate: %+v", dup)
	}
	// A later batch meets the stored pending invite.
	again, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "new@x.io"}, {Email: " Good@X.io"}})
	if err != nil || len(again.Success) != 1 || len(again.Errors) != 1 {
		t.Fatalf("second batch = %+v, %v", again, err)
	}
	if e := again.Errors[0]; e.Code != invites.CodeAlreadyInvited || e.InviteID != res.Success[0].ID || e.Index != 1 {
		t.Fatalf("already invited = %+v", e)
	}
}

func TestSendFields(t *testing.T) {
	h := newHarness(t)
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{
		{Email: "  Ann@Example.com ", FirstName: "Ann", LastName: "Lee", Locale: "fr-ca", Data: []byte(`{"a": 1}`)},
		{Email: "bo@example.com", Roles: []string{"member", "member"}},
	})
	if err != nil || len(res.Errors) != 0 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	a, b := res.Success[0], res.Success[1]
	if a.Email != "Ann@example.com" || a.Locale != "fr-CA" || string(a.Data) != `{"a":1}` || a.TenantID != "acme" ||
		a.CreatedByUserID != "u-admin" || a.SendCount != 1 || !a.CreatedAt.Equal(t0) || a.ID.Version() != 7 {
		t.Errorf("first invite = %+v", a)
	}
	if !slices.Equal(a.Roles, admin.Roles) {
		t.Errorf("roles not inherited from the inviter: %v", a.Roles)
	}
	if !slices.Equal(b.Roles, []string{"member"}) || b.Locale != "en-US" {
		t.Errorf("second invite = %+v", b)
	}
}

func TestSendCanGrant(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) {
		c.CanGrant = func(a invites.Actor, role string) bool { return role != "root" }
	})
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "a@x.io", Roles: []string{"owner"}}, {Email: "b@x.io", Roles: []string{"root"}}})
	if err != nil || len(res.Success) != 1 || len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeForbiddenRole {
		t.Fatalf("Send = %+v, %v", res, err)
	}
}

func TestSendWholeCallErrors(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) { c.MaxBatch = 3 })
	four := make([]invites.NewInvite, 4)
	for i := range four {
		four[i].Email = fmt.Sprintf("u%d@x.io", i)
	}
	if _, err := h.svc.Send(ctx, admin, four); !errors.Is(err, invites.ErrBatchTooLarge) {
		t.Errorf("oversized batch: %v", err)
	}
	if _, err := h.svc.Send(ctx, admin, nil); !errors.Is(err, invites.ErrInvalidInput) {
		t.Errorf("empty batch: %v", err)
	}
	for _, a := range []invites.Actor{{TenantID: "acme"}, {UserID: "u"}, {UserID: "u", TenantID: strings.Repeat("t", 256)}} {
		if _, err := h.svc.Send(ctx, a, four[:1]); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("bad actor %+v: %v", a, err)
		}
	}
	if page, _ := h.svc.List(ctx, admin, invites.Query{}); page.TotalCount != 0 {
		t.Fatalf("refused calls stored %d invites", page.TotalCount)
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := invites.New(nil, nil, invites.Config{}); err == nil {
		t.Error("New without store and mailer succeeded")
	}
	h := newHarness(t)
	for name, cfg := range map[string]invites.Config{
		"no accept url":          {Tokens: badIssuer{}},
		"bad locale":             {Tokens: badIssuer{}, AcceptURL: func(invites.Token) string { return "" }, DefaultLocale: "??"},
		"address limit below -1": {Tokens: badIssuer{}, AcceptURL: func(invites.Token) string { return "" }, MaxSendsPerAddressPerDay: -2},
	} {
		if _, err := invites.New(h.store, h.mail, cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

type badIssuer struct{}

func (badIssuer) New() (invites.Token, []byte, error) { return "", nil, errors.New("no entropy") }
func (badIssuer) Digest(string) ([]byte, error)       { return nil, invites.ErrInvalidToken }
