package httpadapter

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/invitekit/invites"
)

// messageFaults says what is wrong with a message the API shows a client,
// or "": it must be a sentence (ending in a period, opening with a capital
// or with the field it is about), with no Go package's prefix and no
// doubled or stray spaces.
func messageFaults(msg, field string) string {
	switch {
	case packagePrefix.MatchString(msg):
		return "carries a Go error's package prefix"
	case !strings.HasSuffix(msg, "."):
		return "does not end a sentence"
	case strings.Contains(msg, "  ") || strings.Contains(msg, " .") || strings.TrimSpace(msg) != msg:
		return "has stray spaces"
	}
	first, _ := utf8First(msg)
	if unicode.IsUpper(first) || (field != "" && strings.HasPrefix(msg, field+" ")) {
		return ""
	}
	return "opens with neither a capital nor its field"
}

var itemField = regexp.MustCompile(`^userInvites\[(\d+)\]\.(email|firstName|lastName|locale|data|roles)$`)

// packagePrefix is a Go error's "pkg: " at the start of a text, or one of
// this module's anywhere in it.
var packagePrefix = regexp.MustCompile(`^[a-z][a-z0-9]*: |\b(invites|bunstore|memstore|httpadapter|mailer|json|sql):`)

func utf8First(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}

// TestMessagesAreSentences walks every problem the cases of apiCases
// answer, and every item error of a send, and checks each message.
func TestMessagesAreSentences(t *testing.T) {
	details := map[string]string{} // case name -> detail
	for _, c := range append(apiCases(), caseCases()...) {
		e := newEnv(t)
		w := e.do(c.call(e))
		if c.code == "" {
			continue
		}
		p := decodeProblem(t, w)
		details[c.name] = p.Detail
		if why := messageFaults(p.Detail, p.Field); why != "" {
			t.Errorf("%s: detail %q %s", c.name, p.Detail, why)
		}
	}

	e := newEnv(t)
	e.withService(func(c *invites.Config) {
		c.MaxSendsPerAddressPerDay = 1
		c.IsMember = members("member@x.io")
	})
	e.invite(alice, "old@x.io")
	if _, err := e.svc.Cancel(t.Context(), alice, e.invite(alice, "gone@x.io").ID); err != nil {
		t.Fatal(err)
	}
	w := e.do(call{method: "POST", path: "/", as: &carol, body: sendBody(
		`{"email":"gone@x.io"}`, `{"email":"nope"}`, `{"email":"member@x.io"}`, `{"email":"MEMBER@x.io"}`,
		`{"email":"old@x.io"}`, `{"email":"f@x.io","roles":["owner"]}`, `{"email":"g@x.io","firstName":"\u202e"}`,
		`{"email":"h@x.io","locale":"no such locale"}`, `{"email":"i@x.io","data":[1]}`, `{"email":"j@x.io","roles":[""]}`)})
	var res struct{ Errors []invites.ItemError }
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	codes := map[string]bool{}
	for _, ie := range res.Errors {
		codes[ie.Code] = true
		if why := messageFaults(ie.Message, ie.Field); why != "" {
			t.Errorf("item %d (%s): message %q %s", ie.Index, ie.Code, ie.Message, why)
		}
		// A field at fault is named by its path, index included.
		if m := itemField.FindStringSubmatch(ie.Field); ie.Field != "" && (m == nil || m[1] != strconv.Itoa(ie.Index)) {
			t.Errorf("item %d (%s): field %q, want userInvites[%d] and one of its fields", ie.Index, ie.Code, ie.Field, ie.Index)
		}
		if ie.Code == invites.CodeInvalidEmail && !strings.HasPrefix(ie.Message, ie.Field+" is not a valid email address: it ") {
			t.Errorf("item %d: message %q, want it worded as every invalid address is", ie.Index, ie.Message)
		}
	}
	if len(codes) < 10 {
		t.Errorf("only %d item codes reached: %v", len(codes), res.Errors)
	}

	// The same limit is said the same way, whether the adapter or the
	// Service refuses it.
	for _, pair := range [][2]string{{"list bad limit", "list limit too big"}, {"list bad offset", "list offset too deep"}} {
		if details[pair[0]] != details[pair[1]] {
			t.Errorf("%s says %q, %s says %q", pair[0], details[pair[0]], pair[1], details[pair[1]])
		}
	}
}

// TestMessageFaultsCatchesEach shows each rule of messageFaults firing.
func TestMessageFaultsCatchesEach(t *testing.T) {
	for _, tt := range []struct{ msg, field, want string }{
		{"invites: not found.", "", "prefix"},
		{"The batch is bad: bunstore: conflict.", "", "prefix"},
		{"No such invite", "", "sentence"},
		{"No  such invite.", "", "spaces"},
		{"No such invite .", "", "spaces"},
		{"no such invite.", "", "capital"},
		{"limit must be a number.", "offset", "capital"},
		{"limit must be a number.", "limit", ""},
		{"The invite has expired.", "", ""},
	} {
		got := messageFaults(tt.msg, tt.field)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("messageFaults(%q, %q) = %q, want one about %q", tt.msg, tt.field, got, tt.want)
		}
	}
}
