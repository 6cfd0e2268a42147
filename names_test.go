package invites_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// Names the email prints may hold no link, and joiners only where RFC
// 5892's CONTEXTJ rules allow them.
var nameTests = []struct {
	name, value string
	ok          bool
}{
	{"URL", "Your account is locked, log in at https://evil.example/login", false},
	{"bare domain", "Locked! Log in at evil.example/login", false},
	{"domain in capitals", "EVIL.EXAMPLE", false},
	{"www", "www.bank", false},
	{"IDN domain", "вход на пример.рф", false},
	{"ideographic full stop", "evil\u3002example", false},
	{"fullwidth full stop", "evil\uff0eexample", false},
	{"IPv4 address", "see 192.168.10.1", false},
	{"address", "ann@evil.example", false},
	{"scheme without a domain", "javascript://x", false},
	{"initials", "J.R.R.", true},
	{"title and a space", "Dr. Lee", true},
	{"hyphen and apostrophe", "Jean-Luc O'Neil", true},
	{"a number", "Ann 2.0", true},
	{"one-letter label", "a.b", true},
	{"ZWNJ in a Persian name", "فاطمه\u200cزهرا", true},
	{"ZWNJ after a transparent mark", "بِ\u200cب", true},
	{"ZWNJ after a virama", "क्\u200cष", true},
	{"ZWJ after a virama", "क्\u200dष", true},
	{"ZWJ in a Malayalam chillu", "ന്\u200d", true},
	{"ZWNJ between Latin letters", "a\u200cb", false},
	{"ZWNJ first", "\u200cب", false},
	{"ZWNJ last", "ب\u200c", false},
	{"ZWNJ before a space", "ب\u200c ب", false},
	{"ZWNJ before a Latin letter", "ب\u200ca", false},
	{"ZWNJ after a right-joining letter", "د\u200cب", false},
	{"ZWJ between Arabic letters", "ب\u200dب", false},
	{"ZWJ without a virama", "क\u200dष", false},
	{"ZWJ first", "\u200dक", false},
}

func TestSendNameRule(t *testing.T) {
	h := newHarness(t)
	items := make([]invites.NewInvite, 2*len(nameTests))
	for i, tt := range nameTests {
		items[2*i] = invites.NewInvite{Email: fmt.Sprintf("f%d@x.io", i), FirstName: tt.value}
		items[2*i+1] = invites.NewInvite{Email: fmt.Sprintf("l%d@x.io", i), LastName: tt.value}
	}
	res, err := h.svc.Send(ctx, admin, items)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[int]string{}
	for _, e := range res.Errors {
		refused[e.Index] = e.Code
	}
	for i, tt := range nameTests {
		for k := range 2 {
			code, no := refused[2*i+k]
			if no == tt.ok || no && code != invites.CodeInvalidName {
				t.Errorf("%s (%q): refused %v with %q, want refused %v", tt.name, tt.value, no, code, !tt.ok)
			}
		}
	}
}

// Update holds names to the same rule.
func TestUpdateNameRule(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "up@x.io")[0]
	for _, tt := range nameTests {
		v := tt.value
		_, err := h.svc.Update(ctx, admin, inv.ID, invites.Update{LastName: &v})
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("%s (%q): Update = %v, want ok %v", tt.name, tt.value, err, tt.ok)
		}
	}
}

// CheckName is the rule for text a host prints beside the names.
func TestCheckName(t *testing.T) {
	for _, tt := range nameTests {
		if err := invites.CheckName("tenantName", tt.value); (err == nil) != tt.ok || err != nil && !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("%s (%q): %v, want ok %v", tt.name, tt.value, err, tt.ok)
		}
	}
	if err := invites.CheckName("tenantName", strings.Repeat("x", invites.MaxNameRunes+1)); !errors.Is(err, invites.ErrInvalidInput) {
		t.Errorf("a name over MaxNameRunes: %v", err)
	}
}
