package mailer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
)

var ctx = context.Background()

func newRenderer(t *testing.T, cfg mailer.RenderConfig) *mailer.Renderer {
	t.Helper()
	r, err := mailer.NewRenderer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenderPicksLocaleWithFallback(t *testing.T) {
	r := newRenderer(t, mailer.RenderConfig{})
	if got := strings.Join(r.Locales(), ","); got != "en,de,es,fr" {
		t.Fatalf("Locales() = %s", got)
	}
	for _, c := range []struct{ locale, want, word string }{
		{"en-US", "en", "invited"},
		{"de", "de", "eingeladen"},
		{"de-AT", "de", "eingeladen"},
		{"de-CH", "de", "eingeladen"},
		{"fr-CA", "fr", "rejoindre"},
		{"es-MX", "es", "invitado"},
		{"pt-BR", "en", "invited"},
		{"", "en", "invited"},
		{"not a tag", "en", "invited"},
	} {
		got, err := r.Render(ctx, mailertest.Sample(c.locale, invites.KindInvitation))
		if err != nil {
			t.Fatalf("%s: %v", c.locale, err)
		}
		if got.Locale != c.want || !strings.Contains(got.Text, c.word) {
			t.Errorf("%q rendered in %s: %q", c.locale, got.Locale, got.Subject)
		}
	}
}

func TestRenderEveryEmbeddedTemplate(t *testing.T) {
	r := newRenderer(t, mailer.RenderConfig{})
	subjects := map[string]bool{}
	for _, loc := range r.Locales() {
		for _, kind := range []invites.MessageKind{invites.KindInvitation, invites.KindReminder} {
			m := mailertest.Sample(loc, kind)
			got, err := r.Render(ctx, m)
			if err != nil {
				t.Fatalf("%s %s: %v", loc, kind, err)
			}
			if subjects[got.Subject] {
				t.Errorf("%s %s: subject %q is another locale's or kind's", loc, kind, got.Subject)
			}
			subjects[got.Subject] = true
			if !strings.Contains(got.Text, m.AcceptURL) || !strings.Contains(got.Text, "Ann Lee") ||
				!strings.Contains(got.Text, "2030-01-09 03:04 UTC") {
				t.Errorf("%s %s text:\n%s", loc, kind, got.Text)
			}
			if !strings.Contains(got.HTML, `href="`+m.AcceptURL+`"`) || !strings.Contains(got.HTML, `<html lang="`+loc+`">`) ||
				!strings.Contains(got.HTML, "<title>"+got.Subject+"</title>") {
				t.Errorf("%s %s html:\n%s", loc, kind, got.HTML)
			}
		}
	}
}

func TestRenderExtraData(t *testing.T) {
	var seen invites.Message
	r := newRenderer(t, mailer.RenderConfig{
		Extra: func(_ context.Context, m invites.Message) (mailer.Extra, error) {
			seen = m
			return mailer.Extra{ProductName: "Invitekit", TenantName: "Acme", InviterName: "Bo"}, nil
		},
	})
	m := mailertest.Sample("en", invites.KindInvitation)
	got, err := r.Render(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if seen.ID != m.ID {
		t.Fatal("the hook did not get the message")
	}
	if want := "Bo invited you to join Acme on Invitekit"; got.Subject != want {
		t.Fatalf("subject %q, want %q", got.Subject, want)
	}
	if !strings.Contains(got.HTML, "<strong>Bo</strong> has invited you") {
		t.Fatalf("html:\n%s", got.HTML)
	}
}

// The Message's names, which invites.Config.Sender gave, reach every
// part; an Extra name stands for the Message's, an empty one does not.
func TestRenderMessageNames(t *testing.T) {
	for _, c := range []struct {
		name          string
		extra         mailer.Extra
		subject, text string
	}{
		{"message", mailer.Extra{}, "Bo invited you to join Acme", "Bo has invited you to join Acme."},
		{"extra tenant", mailer.Extra{TenantName: "Beta"}, "Bo invited you to join Beta", "Bo has invited you to join Beta."},
		{"extra inviter", mailer.Extra{InviterName: "Cy"}, "Cy invited you to join Acme", "Cy has invited you to join Acme."},
	} {
		r := newRenderer(t, mailer.RenderConfig{
			Extra: func(context.Context, invites.Message) (mailer.Extra, error) { return c.extra, nil },
		})
		m := mailertest.Sample("en", invites.KindInvitation)
		m.TenantName, m.InviterName = "Acme", "Bo"
		got, err := r.Render(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != c.subject || !strings.Contains(got.Text, c.text) {
			t.Errorf("%s: subject %q, want %q; text, want %q:\n%s", c.name, got.Subject, c.subject, c.text, got.Text)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	r := newRenderer(t, mailer.RenderConfig{
		Extra: func(context.Context, invites.Message) (mailer.Extra, error) {
			return mailer.Extra{TenantName: `<img src=x onerror=alert(1)>`}, nil
		},
	})
	m := mailertest.Sample("en", invites.KindInvitation)
	m.Invite.FirstName = "<script>alert(1)</script>"
	got, err := r.Render(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.HTML, "<script>") || strings.Contains(got.HTML, "<img") ||
		!strings.Contains(got.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("html not escaped:\n%s", got.HTML)
	}
	if !strings.Contains(got.Text, "<script>alert(1)</script>") {
		t.Fatalf("the text part should carry the name as is:\n%s", got.Text)
	}
}

func TestRenderSubjectIsOneLine(t *testing.T) {
	r := newRenderer(t, mailer.RenderConfig{
		Templates: fstest.MapFS{
			"en/invitation.subject.tmpl": {Data: []byte("Welcome\r\n{{.TenantName}}\n\n")},
		},
		Extra: func(context.Context, invites.Message) (mailer.Extra, error) {
			return mailer.Extra{TenantName: "Acme"}, nil
		},
	})
	got, err := r.Render(ctx, mailertest.Sample("en", invites.KindInvitation))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Welcome Acme"; got.Subject != want {
		t.Fatalf("subject %q, want %q", got.Subject, want)
	}
}

// The tenant's and inviter's names are held to the rule of the invitee's
// (invites.CheckName): a link or a hidden character in one fails the email
// for good, since it renders the same next time.
func TestRenderRefusesLinksInNames(t *testing.T) {
	for _, x := range []mailer.Extra{
		{TenantName: "Locked! Log in at evil.example/login"},
		{InviterName: "https://evil.example"},
		{TenantName: "Acme\r\nBcc: evil@example.test"},
		{InviterName: "Bo\u202e"},
		{TenantName: strings.Repeat("a", invites.MaxNameRunes+1)},
	} {
		r := newRenderer(t, mailer.RenderConfig{
			Extra: func(context.Context, invites.Message) (mailer.Extra, error) { return x, nil },
		})
		if _, err := r.Render(ctx, mailertest.Sample("en", invites.KindInvitation)); !errors.Is(err, invites.ErrPermanent) || !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("Render with %+q: %v, want ErrPermanent and ErrInvalidInput", x, err)
		}
		// The same names on the Message, from a Config.Sender, likewise.
		m := mailertest.Sample("en", invites.KindInvitation)
		m.TenantName, m.InviterName = x.TenantName, x.InviterName
		if _, err := newRenderer(t, mailer.RenderConfig{}).Render(ctx, m); !errors.Is(err, invites.ErrPermanent) || !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("Render of a Message with %+q: %v, want ErrPermanent and ErrInvalidInput", x, err)
		}
	}
}

func TestRenderHostTemplates(t *testing.T) {
	r := newRenderer(t, mailer.RenderConfig{Templates: fstest.MapFS{
		// Replaces one embedded file.
		"en/invitation.subject.tmpl": {Data: []byte("Join us, {{.Name}}")},
		// A regional locale with only the file that differs from de.
		"de-AT/invitation.subject.tmpl": {Data: []byte("Servus {{.Name}}")},
		// A new locale; what it lacks comes from en.
		"it/invitation.subject.tmpl": {Data: []byte("Unisciti a noi")},
		"it/invitation.txt.tmpl":     {Data: []byte("Ciao {{.Name}}: {{.AcceptURL}}")},
		"layout.html.tmpl":           {Data: []byte(`<main lang="{{.Locale}}">{{template "content" .}}</main>`)},
	}})
	if got := strings.Join(r.Locales(), ","); got != "en,de,de-AT,es,fr,it" {
		t.Fatalf("Locales() = %s", got)
	}
	for _, c := range []struct{ locale, subject, text, html string }{
		{"en", "Join us, Ann Lee", "You have been invited", `<main lang="en"><p>Hello Ann Lee`},
		{"de-AT", "Servus Ann Lee", "du wurdest eingeladen", `<main lang="de-AT"><p>Hallo`},
		{"de-DE", "Einladung ins Team", "du wurdest eingeladen", `<main lang="de"><p>Hallo`},
		{"it-IT", "Unisciti a noi", "Ciao Ann Lee: https://", `<main lang="it"><p>Hello`},
	} {
		got, err := r.Render(ctx, mailertest.Sample(c.locale, invites.KindInvitation))
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != c.subject || !strings.Contains(got.Text, c.text) || !strings.HasPrefix(got.HTML, c.html) {
			t.Errorf("%s: %+v", c.locale, got)
		}
	}
	// The reminder of a locale with no reminder files is the default's.
	got, err := r.Render(ctx, mailertest.Sample("it", invites.KindReminder))
	if err != nil || !strings.HasPrefix(got.Subject, "Reminder:") {
		t.Fatalf("it reminder: %+v, %v", got, err)
	}
}

func TestRenderRefusesBrokenTemplates(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"syntax":        {"en/reminder.txt.tmpl": {Data: []byte("{{if}}")}},
		"html syntax":   {"fr/invitation.html.tmpl": {Data: []byte("{{.Name")}},
		"not a tag":     {"english/invitation.txt.tmpl": {Data: []byte("x")}},
		"not canonical": {"de-at/invitation.txt.tmpl": {Data: []byte("x")}},
	} {
		if _, err := mailer.NewRenderer(mailer.RenderConfig{Templates: fsys}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A default locale must have every file.
	_, err := mailer.NewRenderer(mailer.RenderConfig{
		DefaultLocale: "it",
		Templates:     fstest.MapFS{"it/invitation.subject.tmpl": {Data: []byte("x")}},
	})
	if err == nil || !strings.Contains(err.Error(), "invitation.txt.tmpl") {
		t.Fatalf("incomplete default locale: %v", err)
	}
}

func TestRenderErrors(t *testing.T) {
	hostDown := errors.New("tenant service down")
	r := newRenderer(t, mailer.RenderConfig{
		Templates: fstest.MapFS{"en/reminder.txt.tmpl": {Data: []byte(`{{index .Values "x" 3}}`)}},
		Extra: func(_ context.Context, m invites.Message) (mailer.Extra, error) {
			if m.Invite.FirstName == "down" {
				return mailer.Extra{}, hostDown
			}
			return mailer.Extra{}, nil
		},
	})
	// A template that cannot execute renders no better next time.
	_, err := r.Render(ctx, mailertest.Sample("en", invites.KindReminder))
	if !errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("exec error: %v", err)
	}
	_, err = r.Render(ctx, mailertest.Sample("en", "newsletter"))
	if !errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("unknown kind: %v", err)
	}
	// The host's data may come back: retried.
	m := mailertest.Sample("en", invites.KindInvitation)
	m.Invite.FirstName = "down"
	_, err = r.Render(ctx, m)
	if !errors.Is(err, hostDown) || errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("hook error: %v", err)
	}
	// A subject that renders empty cannot be sent.
	r = newRenderer(t, mailer.RenderConfig{Templates: fstest.MapFS{"en/invitation.subject.tmpl": {Data: []byte(" \n")}}})
	if _, err := r.Render(ctx, mailertest.Sample("en", invites.KindInvitation)); !errors.Is(err, invites.ErrPermanent) {
		t.Fatalf("empty subject: %v", err)
	}
}
