package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
)

// These cases run the Service on the store: validation is the Service's,
// but what it lets through must be what every store can keep (PostgreSQL's
// jsonb refuses a lone surrogate that SQLite and memstore take), and the
// stores must agree on the normalized address they compute in Go.
var inputCases = []testCase{
	{"Input/MixedBatch", testInputMixedBatch},
	{"Input/SameAddress", testInputSameAddress},
}

// service is a Service on s at t0 whose Mailer records what it sends.
func service(t *testing.T, s invites.Store, tune func(*invites.Config)) (*invites.Service, *mailertest.Mailer) {
	t.Helper()
	mail := mailertest.New()
	cfg := invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "/accept?token=" + tok.Reveal() },
		Now:       func() time.Time { return t0 },
	}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := invites.New(s, mail, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, mail
}

// nested is a data object whose arrays nest it depth levels deep.
func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

// One batch of good items and of items validation refuses: each bad item
// is its own item error with its code, the good ones are stored and read
// back as validated, and the batch as a whole never fails.
func testInputMixedBatch(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	svc, _ := service(t, s, nil)
	good := `{"smile":"\ud83d\ude00","deep":` + nested(invites.MaxDataDepth-1) + `}`
	items := []struct {
		item invites.NewInvite
		code string // "" for stored
	}{
		{invites.NewInvite{Email: "ann@x.io", FirstName: "Zoë", LastName: "علي", Data: []byte(good)}, ""},
		{invites.NewInvite{Email: "k@x.io"}, ""},
		{invites.NewInvite{Email: "\u212A@x.io"}, invites.CodeInvalidEmail}, // Kelvin sign
		{invites.NewInvite{Email: "K@X.IO"}, invites.CodeDuplicateInBatch},
		{invites.NewInvite{Email: "Bo@BÜCHER.de"}, ""},
		{invites.NewInvite{Email: "fa@x.io", FirstName: "فاطمه\u200cزهرا", LastName: "क्\u200dष"}, ""}, // joiners where RFC 5892 allows them
		{invites.NewInvite{Email: "bo@xn--bcher-kva.de"}, invites.CodeDuplicateInBatch},
		{invites.NewInvite{Email: "lone@x.io", Data: []byte(`{"a":"\ud800"}`)}, invites.CodeInvalidData},
		{invites.NewInvite{Email: "lonekey@x.io", Data: []byte(`{"x":{"\udc00":1}}`)}, invites.CodeInvalidData},
		{invites.NewInvite{Email: "unpaired@x.io", Data: []byte(`{"a":["\ud800\u0041"]}`)}, invites.CodeInvalidData},
		{invites.NewInvite{Email: "huge-number@x.io", Data: []byte(`{"n":1e999999}`)}, invites.CodeInvalidData},
		{invites.NewInvite{Email: "dupkey@x.io", Data: []byte(`{"a":1,"a":2}`)}, invites.CodeInvalidData},
		{invites.NewInvite{Email: "deep@x.io", Data: []byte(nested(invites.MaxDataDepth + 1))}, invites.CodeInvalidData},
		{invites.NewInvite{Email: "bidi@x.io", FirstName: "\u202Eevil"}, invites.CodeInvalidName},
		{invites.NewInvite{Email: "zw@x.io", LastName: "a\u200Bb"}, invites.CodeInvalidName},
		{invites.NewInvite{Email: "ls@x.io", LastName: "a\u2028b"}, invites.CodeInvalidName},
		{invites.NewInvite{Email: "link@x.io", FirstName: "Locked! Log in at evil.example/login"}, invites.CodeInvalidName},
		{invites.NewInvite{Email: "zwnj@x.io", LastName: "ب\u200c a"}, invites.CodeInvalidName},
		{invites.NewInvite{Email: "a\u200B@x.io"}, invites.CodeInvalidEmail},
		{invites.NewInvite{Email: "a@localhost"}, invites.CodeInvalidEmail},
		{invites.NewInvite{Email: "a@[127.0.0.1]"}, invites.CodeInvalidEmail},
	}
	batch := make([]invites.NewInvite, len(items))
	var want []string
	for i, it := range items {
		batch[i] = it.item
		if it.code != "" {
			want = append(want, it.code)
		}
	}
	res, err := svc.Send(t.Context(), as(tenantA), batch)
	if err != nil {
		t.Fatalf("Send of the mixed batch: %v, want item errors only", err)
	}
	var codes []string
	for _, e := range res.Errors {
		if items[e.Index].code != e.Code {
			t.Errorf("item %d (%q): code %s, want %q", e.Index, items[e.Index].item.Email, e.Code, items[e.Index].code)
		}
		codes = append(codes, e.Code)
	}
	if !slices.Equal(codes, want) {
		t.Fatalf("item error codes %v, want %v", codes, want)
	}
	var emails []string
	for _, inv := range res.Success {
		emails = append(emails, inv.Email)
		checkInvite(t, "Get of a stored item", get(t, s, tenantA, inv.ID), inv)
	}
	if want := []string{"ann@x.io", "k@x.io", "Bo@bücher.de", "fa@x.io"}; !slices.Equal(emails, want) {
		t.Fatalf("stored %q, want %q", emails, want)
	}
	if ann := get(t, s, tenantA, res.Success[0].ID); ann.FirstName != "Zoë" || !sameJSON(ann.Data, []byte(good)) {
		t.Fatalf("the good item reads back as %q, %s", ann.FirstName, ann.Data)
	}
}

// Every store keeps one pending invite per normalized address across
// batches, finds it by any spelling NormalizeEmail folds together, and
// accepts it under RequireEmailMatch only for such a spelling: never for
// the Kelvin sign's look-alike of k.
func testInputSameAddress(t *testing.T, newStore func(*testing.T) invites.Store) {
	ctx := t.Context()
	s := newStore(t)
	svc, mail := service(t, s, func(c *invites.Config) { c.RequireEmailMatch = true })
	first, err := svc.Send(ctx, as(tenantA), []invites.NewInvite{{Email: "Kate@X.io"}, {Email: "ann@bücher.de"}})
	if err != nil || len(first.Success) != 2 {
		t.Fatalf("first Send = %+v, %v", first, err)
	}
	again, err := svc.Send(ctx, as(tenantA), []invites.NewInvite{{Email: "kate@x.io"}, {Email: "ANN@XN--BCHER-KVA.DE"}})
	if err != nil || len(again.Errors) != 2 || again.Errors[0].Code != invites.CodeAlreadyInvited ||
		again.Errors[1].Code != invites.CodeAlreadyInvited || again.Errors[1].InviteID != first.Success[1].ID {
		t.Fatalf("second Send = %+v, %v; want both already_invited", again, err)
	}
	byEmail := func(q invites.Query) []string {
		t.Helper()
		page, err := svc.List(ctx, as(tenantA), q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, inv := range page.Invites {
			out = append(out, inv.Email)
		}
		return out
	}
	kate := "KATE@x.IO"
	for _, c := range []struct {
		q    invites.Query
		want []string
	}{
		{invites.Query{Email: "ann@xn--bcher-kva.de"}, []string{"ann@bücher.de"}},
		{invites.Query{Email: "\u212Aate@x.io"}, nil},
		{invites.Query{Where: invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &kate}}}}, []string{"Kate@x.io"}},
	} {
		if got := byEmail(c.q); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %q, want %q", c.q, got, c.want)
		}
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		invite, by string
		want       error
	}{
		{"kate@x.io", "\u212Aate@x.io", invites.ErrEmailMismatch},
		{"kate@x.io", "kate@x\u200B.io", invites.ErrEmailMismatch},
		{"kate@x.io", " KATE@X.IO", nil},
		{"ann@bücher.de", "ann@xn--bcher-kva.de", nil},
	} {
		_, err := svc.Accept(ctx, mail.TokenFor(c.invite), invites.Acceptor{UserID: "u", Email: c.by})
		if !errors.Is(err, c.want) {
			t.Errorf("Accept of %s by %q: %v, want %v", c.invite, c.by, err, c.want)
		}
	}
}
