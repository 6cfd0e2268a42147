package invites_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// An address is stored in its canonical form (the local part as given, the
// domain's U-label lower-cased) or refused as the item's invalid_email.
func TestSendEmailRules(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	// 64 + 1 + 63 + 1 + 63 + 1 + 61 = 254 bytes.
	domain189 := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	// Each A-label is 26 bytes, its U-label 60.
	aLabel := "xn--fiqaaaaaaaaaaaaaaaaaaa"
	tests := []struct {
		name, email string
		want        string // stored form; "" for invalid_email
	}{
		{"plain", "ann@x.io", "ann@x.io"},
		{"local case kept, domain lower-cased", "Ann.Lee@Example.COM", "Ann.Lee@example.com"},
		{"U-label domain", "bo@bücher.de", "bo@bücher.de"},
		{"A-label domain decoded", "bo@XN--BCHER-KVA.de", "bo@bücher.de"},
		{"uppercase U-label", "bo@BÜCHER.DE", "bo@bücher.de"},
		{"fullwidth domain mapped", "bo@ｘ.io", "bo@x.io"},
		{"sharp s kept (non-transitional)", "bo@faß.de", "bo@faß.de"},
		{"RTL domain", "bo@x.العربية", "bo@x.العربية"},
		{"Turkish dotted capital I", "İpek@x.io", "İpek@x.io"},
		{"Turkish dotless i", "ılgaz@x.io", "ılgaz@x.io"},
		{"local part of 64 bytes", local64 + "@x.io", local64 + "@x.io"},
		{"address of 254 bytes", local64 + "@" + domain189, local64 + "@" + domain189},
		{"local part of 65 bytes", local64 + "a@x.io", ""},
		{"address of 255 bytes", local64 + "@" + domain189 + "d", ""},
		{"254 bytes given, longer once decoded", local64 + "@" + strings.Repeat(aLabel+".", 5) + "io", ""},
		{"short given, longer than 254 as A-labels", local64 + "@" + strings.Repeat("ü.", 24) + "io", ""},
		{"label over 63 bytes", "a@" + strings.Repeat("b", 64) + ".io", ""},
		{"Kelvin sign", "\u212Aate@x.io", ""},
		{"fullwidth local part", "ＡＢ@x.io", ""},
		{"decomposed accent", "e\u0301@x.io", ""},
		{"IPv4 literal", "a@[1.2.3.4]", ""},
		{"IPv6 literal", "a@[IPv6:2001:db8::1]", ""},
		{"dotted IP", "a@127.0.0.1", ""},
		{"numeric top-level label", "a@x.123", ""},
		{"localhost", "a@localhost", ""},
		{"under localhost", "a@app.localhost", ""},
		{"single label", "a@example", ""},
		{"trailing dot", "a@x.io.", ""},
		{"underscore", "a@_dmarc.x.io", ""},
		{"leading hyphen", "a@-x.io", ""},
		{"bidi override in local part", "a\u202Eb@x.io", ""},
		{"bidi isolate in local part", "a\u2066b@x.io", ""},
		{"LRM in domain", "a@x\u200E.io", ""},
		{"Arabic letter mark", "a\u061C@x.io", ""},
		{"zero-width space in local part", "a\u200Bb@x.io", ""},
		{"zero-width space in domain", "a@x\u200B.io", ""},
		{"zero-width joiner", "a\u200Db@x.io", ""},
		{"BOM", "\uFEFFa@x.io", ""},
		{"soft hyphen in domain", "a@x\u00AD.io", ""},
		{"no-break space", "a\u00A0b@x.io", ""},
		{"line separator", "a\u2028b@x.io", ""},
		{"replacement character", "\uFFFD@x.io", ""},
		{"control", "a\x01b@x.io", ""},
	}
	for _, tt := range tests {
		h := newHarness(t) // fresh: several cases are one address
		res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: tt.email}})
		if err != nil {
			t.Fatalf("%s: Send(%q): %v", tt.name, tt.email, err)
		}
		switch {
		case tt.want == "" && (len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeInvalidEmail):
			t.Errorf("%s: Send(%q) = %+v, want invalid_email", tt.name, tt.email, res)
		case tt.want == "" && (res.Errors[0].Field != "email" || !strings.HasPrefix(res.Errors[0].Message, "email is not a valid email address: it ")):
			// Every refusal of an address is worded alike, then says why.
			t.Errorf("%s: Send(%q) refused as %q %q, want the field email and its one wording", tt.name, tt.email, res.Errors[0].Field, res.Errors[0].Message)
		case tt.want != "" && (len(res.Success) != 1 || res.Success[0].Email != tt.want):
			t.Errorf("%s: Send(%q) = %+v, want stored as %q", tt.name, tt.email, res, tt.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"kate@x.io", " KATE@X.IO ", true},
		{"kate@x.io", "\u212Aate@x.io", false}, // Kelvin sign lower-cases to k
		{"i@x.io", "İ@x.io", false},            // İ lower-cases to i
		{"i@x.io", "ı@x.io", false},            // ı upper-cases to I
		{"I@x.io", "i@x.io", true},
		{"ab@x.io", "ＡＢ@x.io", false},
		{"ab@x.io", "AB@x.io", true},
		{"émile@x.io", "Émile@x.io", false}, // Unicode case may be two mailboxes
		{"é@x.io", "e\u0301@x.io", false},   // NFC is not applied to the local part
		{"bo@bücher.de", "bo@xn--bcher-kva.de", true},
		{"bo@bücher.de", "bo@BÜCHER.DE", true},
		{"bo@bücher.de", "bo@XN--BCHER-KVA.DE", true},
		{"bo@faß.de", "bo@fass.de", false},
		{"bo@x.io", "bo@ｘ.io", true},
		{"bo@x.io", "bo@x\u200B.io", false}, // never mapped away
		{"bo@x.io", "bo@x\u00AD.io", false},
		{"bo@x.io", "bo@x.io.", false},
		{"a@localhost", "A@LOCALHOST", true}, // invalid domains fold ASCII only
		{"nobody", "NOBODY", true},
		{"kate@x.io", "kate@x.io\u202E", false},
	}
	for _, tt := range tests {
		na, nb := invites.NormalizeEmail(tt.a), invites.NormalizeEmail(tt.b)
		if (na == nb) != tt.same {
			t.Errorf("NormalizeEmail(%q) = %q, NormalizeEmail(%q) = %q: same = %v, want %v", tt.a, na, tt.b, nb, na == nb, tt.same)
		}
		if again := invites.NormalizeEmail(na); again != na {
			t.Errorf("NormalizeEmail is not idempotent on %q: %q", na, again)
		}
	}
}

// Under RequireEmailMatch the acceptor's address is compared by
// NormalizeEmail: a look-alike is not the invited mailbox.
func TestRequireEmailMatchLookAlikes(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) { c.RequireEmailMatch = true })
	_, kate := h.invite(admin, "kate@x.io")
	_, bo := h.invite(admin, "bo@bücher.de")
	for _, c := range []struct {
		tok, by string
		want    error
	}{
		{kate, "\u212Aate@x.io", invites.ErrEmailMismatch},
		{kate, "kate@x\u200B.io", invites.ErrEmailMismatch},
		{kate, "\uFF4Bate@x.io", invites.ErrEmailMismatch}, // fullwidth k
		{kate, "KATE@x.io", nil},
		{bo, "bo@xn--bcher-kva.de", nil},
	} {
		if _, err := h.svc.Accept(ctx, c.tok, invites.Acceptor{UserID: "u", Email: c.by}); !errors.Is(err, c.want) {
			t.Errorf("Accept by %q: %v, want %v", c.by, err, c.want)
		}
	}
}
