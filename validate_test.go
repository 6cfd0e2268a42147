package invites_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// nestedData is a data object whose arrays nest it depth levels deep.
func nestedData(depth int) []byte {
	return []byte(`{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
}

// Names, roles and data are refused item by item, with the item's code.
func TestSendRefusesHiddenCharactersAndBadData(t *testing.T) {
	tests := []struct {
		name string
		item invites.NewInvite
		code string
	}{
		{"RLO in first name", invites.NewInvite{FirstName: "\u202Egnp.exe"}, invites.CodeInvalidName},
		{"LRE in last name", invites.NewInvite{LastName: "a\u202Ab"}, invites.CodeInvalidName},
		{"PDF", invites.NewInvite{LastName: "a\u202Cb"}, invites.CodeInvalidName},
		{"RLI isolate", invites.NewInvite{FirstName: "a\u2067b"}, invites.CodeInvalidName},
		{"PDI", invites.NewInvite{FirstName: "a\u2069b"}, invites.CodeInvalidName},
		{"RLM", invites.NewInvite{FirstName: "a\u200Fb"}, invites.CodeInvalidName},
		{"Arabic letter mark", invites.NewInvite{FirstName: "a\u061Cb"}, invites.CodeInvalidName},
		{"zero-width space", invites.NewInvite{FirstName: "a\u200Bb"}, invites.CodeInvalidName},
		{"zero-width non-joiner", invites.NewInvite{FirstName: "a\u200Cb"}, invites.CodeInvalidName},
		{"zero-width joiner", invites.NewInvite{FirstName: "a\u200Db"}, invites.CodeInvalidName},
		{"word joiner", invites.NewInvite{LastName: "a\u2060b"}, invites.CodeInvalidName},
		{"BOM", invites.NewInvite{LastName: "\uFEFFab"}, invites.CodeInvalidName},
		{"line separator", invites.NewInvite{LastName: "a\u2028b"}, invites.CodeInvalidName},
		{"paragraph separator", invites.NewInvite{LastName: "a\u2029b"}, invites.CodeInvalidName},
		{"role with a zero-width space", invites.NewInvite{Roles: []string{"adm\u200Bin"}}, invites.CodeInvalidRoles},
		{"lone high surrogate", invites.NewInvite{Data: []byte(`{"a":"\ud800"}`)}, invites.CodeInvalidData},
		{"lone low surrogate in a key", invites.NewInvite{Data: []byte(`{"b":[{"\uDC00":1}]}`)}, invites.CodeInvalidData},
		{"high surrogate then a letter", invites.NewInvite{Data: []byte(`{"a":"\ud83d\u0041"}`)}, invites.CodeInvalidData},
		{"high surrogate at the end", invites.NewInvite{Data: []byte(`{"a":"x\ud83d"}`)}, invites.CodeInvalidData},
		{"pair reversed", invites.NewInvite{Data: []byte(`{"a":"\ude00\ud83d"}`)}, invites.CodeInvalidData},
		{"two highs", invites.NewInvite{Data: []byte(`{"a":"\ud83d\ud83d\ude00"}`)}, invites.CodeInvalidData},
		{"too deep", invites.NewInvite{Data: nestedData(invites.MaxDataDepth + 1)}, invites.CodeInvalidData},
		{"number past PostgreSQL's numeric", invites.NewInvite{Data: []byte(`{"a":1e999999}`)}, invites.CodeInvalidData},
		{"number past a float64", invites.NewInvite{Data: []byte(`{"a":[-1.5e309]}`)}, invites.CodeInvalidData},
		{"number below a float64", invites.NewInvite{Data: []byte(`{"a":{"b":1e-400}}`)}, invites.CodeInvalidData},
		{"duplicate key", invites.NewInvite{Data: []byte(`{"a":1,"a":2}`)}, invites.CodeInvalidData},
		{"duplicate key once escaped", invites.NewInvite{Data: []byte(`{"a":1,"b":[],"\u0061":2}`)}, invites.CodeInvalidData},
		{"duplicate key nested", invites.NewInvite{Data: []byte(`{"a":[{"b":{},"c":1,"b":null}]}`)}, invites.CodeInvalidData},
		{"too deep in objects", invites.NewInvite{Data: []byte(strings.Repeat(`{"a":`, invites.MaxDataDepth+1) + "1" + strings.Repeat("}", invites.MaxDataDepth+1))}, invites.CodeInvalidData},
	}
	h := newHarness(t)
	items := make([]invites.NewInvite, len(tests))
	for i, tt := range tests {
		items[i] = tt.item
		items[i].Email = strings.Repeat("a", i+1) + "@x.io"
	}
	res, err := h.svc.Send(ctx, admin, items)
	if err != nil || len(res.Success) != 0 || len(res.Errors) != len(tests) {
		t.Fatalf("Send = %+v, %v; want %d item errors", res, err, len(tests))
	}
	for i, tt := range tests {
		if e := res.Errors[i]; e.Index != i || e.Code != tt.code {
			t.Errorf("%s: %+v, want code %s", tt.name, e, tt.code)
		}
	}
}

// What passes is kept as sent: letters of every script, surrogate pairs,
// a backslash before "ud800", nesting up to MaxDataDepth.
func TestSendKeepsGoodNamesAndData(t *testing.T) {
	tests := []struct {
		name string
		item invites.NewInvite
		data string // compacted; "" for none
	}{
		{"Arabic name", invites.NewInvite{FirstName: "علي", LastName: "Zoë"}, ""},
		{"emoji name", invites.NewInvite{FirstName: "Ann 🎉"}, ""},
		{"surrogate pair", invites.NewInvite{Data: []byte(`{"\ud83d\ude00": "\uD83D\uDE00"}`)}, `{"\ud83d\ude00":"\uD83D\uDE00"}`},
		{"escaped backslash", invites.NewInvite{Data: []byte(`{"a":"\\ud800"}`)}, `{"a":"\\ud800"}`},
		{"deepest allowed", invites.NewInvite{Data: nestedData(invites.MaxDataDepth)}, string(nestedData(invites.MaxDataDepth))},
		{"numbers within a float64", invites.NewInvite{Data: []byte(`{"a":[1.7e308,-0.0,0e999,5e-324,12.5,-3]}`)}, `{"a":[1.7e308,-0.0,0e999,5e-324,12.5,-3]}`},
		{"same key in different objects", invites.NewInvite{Data: []byte(`{"a":{"a":1},"b":[{"a":2},{"a":3}],"c":"a"}`)}, `{"a":{"a":1},"b":[{"a":2},{"a":3}],"c":"a"}`},
		{"keys differing in case", invites.NewInvite{Data: []byte(`{"a":1,"A":2}`)}, `{"a":1,"A":2}`},
		{"brackets in strings", invites.NewInvite{Data: []byte(`{"a":"[[[[{{{{\"]]"}`)}, `{"a":"[[[[{{{{\"]]"}`},
	}
	h := newHarness(t)
	for i, tt := range tests {
		tt.item.Email = strings.Repeat("g", i+1) + "@x.io"
		res, err := h.svc.Send(ctx, admin, []invites.NewInvite{tt.item})
		if err != nil || len(res.Success) != 1 {
			t.Fatalf("%s: Send = %+v, %v", tt.name, res, err)
		}
		got := h.get(admin, res.Success[0])
		if got.FirstName != tt.item.FirstName || got.LastName != tt.item.LastName || string(got.Data) != tt.data {
			t.Errorf("%s: stored %q %q %s", tt.name, got.FirstName, got.LastName, got.Data)
		}
	}
}

// Update refuses the same names and data with ErrInvalidInput (a 400 over
// HTTP) and changes nothing.
func TestUpdateRefusesHiddenCharactersAndBadData(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "up@x.io")[0]
	rlo, zw, ls := "\u202Eevil", "a\u200Bb", "a\u2028b"
	for _, u := range []invites.Update{
		{FirstName: &rlo}, {LastName: &zw}, {LastName: &ls},
		{Data: []byte(`{"a":"\ud800"}`)}, {Data: []byte(`{"\udfff":1}`)}, {Data: []byte(`{"a":1,"a":2}`)}, {Data: nestedData(invites.MaxDataDepth + 1)},
	} {
		if _, err := h.svc.Update(ctx, admin, inv.ID, u); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("Update(%+v): %v, want ErrInvalidInput", u, err)
		}
	}
	if got := h.get(admin, inv); got.FirstName != "" || got.LastName != "" || got.Data != nil || !got.UpdatedAt.Equal(inv.UpdatedAt) {
		t.Fatalf("refused updates changed the invite: %+v", got)
	}
}

// Ids are names too: an actor or acceptor id with a bidi control is refused.
func TestIDsRefuseHiddenCharacters(t *testing.T) {
	h := newHarness(t)
	for _, a := range []invites.Actor{
		{UserID: "u\u202E", TenantID: "acme"}, {UserID: "u", TenantID: "ac\u200Bme"}, {UserID: "u\u2028", TenantID: "acme"},
	} {
		if _, err := h.svc.Send(ctx, a, []invites.NewInvite{{Email: "id@x.io"}}); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("Send by %+q: %v, want ErrInvalidInput", a, err)
		}
	}
	_, tok := h.invite(admin, "acc@x.io")
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u\u2066x"}); !errors.Is(err, invites.ErrInvalidInput) {
		t.Errorf("Accept by a user id with an isolate: %v, want ErrInvalidInput", err)
	}
}
