package mailer_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
)

// leftovers are what a template leaves when an optional value is empty
// (or misplaced around it): doubled spaces, empty parentheses or tags, a
// space before a comma or period, a colon with nothing after it. French
// puts a (no-break) space before : and ; so that is checked in other
// locales only. (A colon may end a greeting: Spanish writes "Hola Ann:".)
var leftovers = []struct {
	what string
	re   *regexp.Regexp
	// locales the rule is for: "" all, "-fr" all but French, "es" Spanish.
	locales string
}{
	{"a doubled space", regexp.MustCompile(`[\pZ\t]{2}`), ""},
	{"empty parentheses", regexp.MustCompile(`\([\s\pZ]*\)`), ""},
	{"an empty tag", regexp.MustCompile(`<(strong|a|p)\b[^>]*>[\s\pZ]*</`), ""},
	{"a space before , or .", regexp.MustCompile(`[\s\pZ][,.]`), ""},
	{"a space before : or ;", regexp.MustCompile(`[\pZ\t][:;]`), "-fr"},
	{"a dangling colon", regexp.MustCompile(`:[\pZ\t]*($|[,.;:]|\n\n\S*$)|:[\pZ\t]+\n`), ""},
	{"a space at a line's end", regexp.MustCompile(`[\pZ\t]\n`), ""},
	{"a el or de el, which Spanish contracts", regexp.MustCompile(`\b([aA]|[dD]e) el\b`), "es"},
}

var tags = regexp.MustCompile(`<[^>]+>`)

// wordingFaults lists what is wrong with one rendered part; html is
// checked both as written and as the text a reader sees.
func wordingFaults(locale, part, s string) []string {
	var out []string
	texts := []string{s}
	if part == "html" {
		texts = append(texts, html.UnescapeString(tags.ReplaceAllString(s, "")))
	}
	for _, text := range texts {
		for _, l := range leftovers {
			if l.locales == "-"+locale || (l.locales != "" && l.locales[0] != '-' && l.locales != locale) {
				continue
			}
			if m := l.re.FindStringIndex(text); m != nil {
				out = append(out, fmt.Sprintf("%s: %s near %q", part, l.what, around(text, m[0])))
			}
		}
	}
	return out
}

func around(s string, i int) string {
	return s[max(0, i-25):min(len(s), i+25)]
}

// TestRenderWording renders every embedded template, every locale and
// kind, with each optional value given or not, and checks the subject,
// text and HTML for leftovers; and that the paragraph after the greeting
// opens as its language wants (German after "Hallo Ann," in lower case).
func TestRenderWording(t *testing.T) {
	opt := []string{"inviter", "tenant", "product", "first name", "last name"}
	for mask := range 1 << len(opt) {
		has := func(i int) bool { return mask&(1<<i) != 0 }
		x := mailer.Extra{}
		if has(0) {
			x.InviterName = "Bo Berg"
		}
		if has(1) {
			x.TenantName = "Acme"
		}
		if has(2) {
			x.ProductName = "Invitekit"
		}
		r := newRenderer(t, mailer.RenderConfig{
			Extra: func(context.Context, invites.Message) (mailer.Extra, error) { return x, nil },
		})
		for _, loc := range r.Locales() {
			for _, kind := range []invites.MessageKind{invites.KindInvitation, invites.KindReminder} {
				m := mailertest.Sample(loc, kind)
				m.Invite.FirstName, m.Invite.LastName = "", ""
				if has(3) {
					m.Invite.FirstName = "Ann"
				}
				if has(4) {
					m.Invite.LastName = "Lee"
				}
				got, err := r.Render(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				var given []string
				for i, o := range opt {
					if has(i) {
						given = append(given, o)
					}
				}
				for part, s := range map[string]string{"subject": got.Subject, "text": got.Text, "html": got.HTML} {
					for _, f := range wordingFaults(loc, part, s) {
						t.Errorf("%s %s with %v: %s", loc, kind, given, f)
					}
				}
				_, body, _ := strings.Cut(got.Text, "\n\n")
				if first := []rune(body)[0]; (x.InviterName == "" || !strings.HasPrefix(body, x.InviterName)) && unicode.IsUpper(first) == (loc == "de") {
					t.Errorf("%s %s with %v: the paragraph after the greeting opens %q", loc, kind, given, string(first))
				}
			}
		}
	}
}

// TestWordingFaultsCatchesEach shows each leftover found.
func TestWordingFaultsCatchesEach(t *testing.T) {
	for _, c := range []struct{ locale, part, s string }{
		{"en", "text", "Hello  Ann"},
		{"en", "subject", "Invited (): Acme"},
		{"en", "html", "<p>Join <strong></strong>.</p>"},
		{"en", "text", "Hello ,"},
		{"en", "text", "Hello Ann ."},
		{"de", "subject", "Du bist eingeladen : Acme"},
		{"en", "subject", "Reminder:"},
		{"en", "text", "Join: \nAcme"},
		{"en", "text", "Hello,\n\nJoin:\n\n"},
		{"en", "text", "Hello Ann, \nJoin"},
		{"fr", "html", "<p>Rappel&nbsp;,</p>"},
		{"es", "subject", "Te han invitado a unirte a el equipo"},
	} {
		if len(wordingFaults(c.locale, c.part, c.s)) == 0 {
			t.Errorf("%s %s %q: no fault found", c.locale, c.part, c.s)
		}
	}
	for _, c := range []struct{ locale, part, s string }{
		{"fr", "text", "Rappel : vous invite.\nAccepter :\nhttps://x"},
		{"en", "text", "Accept the invitation:\nhttps://x\n"},
		{"es", "text", "Hola Ann:\n\nTe han invitado."},
	} {
		if f := wordingFaults(c.locale, c.part, c.s); len(f) > 0 {
			t.Errorf("%s %s %q: %v", c.locale, c.part, c.s, f)
		}
	}
}

// TestRenderSubjects pins the subject lines, with every optional name and
// with none, as a reader of each language would write them.
func TestRenderSubjects(t *testing.T) {
	full := mailer.Extra{InviterName: "Bo", TenantName: "Acme", ProductName: "Invitekit"}
	want := map[string][4]string{ // invitation, reminder; with all names, then none
		"en": {"Bo invited you to join Acme on Invitekit", "Reminder: Bo invited you to join Acme on Invitekit",
			"You are invited to join the team", "Reminder: you are invited to join the team"},
		"de": {"Bo hat dich zu Acme auf Invitekit eingeladen", "Erinnerung: Bo hat dich zu Acme auf Invitekit eingeladen",
			"Einladung ins Team", "Erinnerung: Einladung ins Team"},
		"es": {"Bo te ha invitado a unirte a Acme en Invitekit", "Recordatorio: Bo te ha invitado a unirte a Acme en Invitekit",
			"Te han invitado a unirte al equipo", "Recordatorio: te han invitado a unirte al equipo"},
		"fr": {"Bo vous invite à rejoindre Acme sur Invitekit", "Rappel : Bo vous invite à rejoindre Acme sur Invitekit",
			"Invitation à rejoindre l’équipe", "Rappel : invitation à rejoindre l’équipe"},
	}
	for i, x := range []mailer.Extra{full, {}} {
		r := newRenderer(t, mailer.RenderConfig{
			Extra: func(context.Context, invites.Message) (mailer.Extra, error) { return x, nil },
		})
		for loc, subjects := range want {
			for j, kind := range []invites.MessageKind{invites.KindInvitation, invites.KindReminder} {
				got, err := r.Render(ctx, mailertest.Sample(loc, kind))
				if err != nil {
					t.Fatal(err)
				}
				if w := subjects[2*i+j]; got.Subject != w {
					t.Errorf("%s %s: subject %q, want %q", loc, kind, got.Subject, w)
				}
			}
		}
	}
}
