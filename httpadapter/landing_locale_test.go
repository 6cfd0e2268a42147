package httpadapter

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/invitekit/invites"
)

// A page speaks the invite's locale, as its emails do; a page without
// the invite's (a link no longer pending, a refused form) the form's, or
// the browser's, or the default. A host's templates replace a file or
// add a locale.
func TestLandingLocales(t *testing.T) {
	e := newEnv(t)
	host := fstest.MapFS{
		"it/page.html.tmpl": {Data: []byte(`{{define "title"}}Invito{{end}}{{define "content"}}<h1 id="title">Invito a {{.Invite.TenantID}}</h1>{{end}}`)},
		"es/page.html.tmpl": {Data: []byte(`{{define "title"}}Propia{{end}}{{define "content"}}<h1 id="title">Propia</h1>{{end}}`)},
	}
	l := newLanding(t, e)
	hosted := newLanding(t, e, func(c *LandingConfig) { c.Templates = host })
	fr := newLanding(t, e, func(c *LandingConfig) { c.DefaultLocale = "fr" })
	invite := func(email, locale string) string {
		if _, err := e.svc.Send(context.Background(), alice, []invites.NewInvite{{Email: email, Locale: locale}}); err != nil {
			t.Fatal(err)
		}
		e.deliver()
		return e.token(email)
	}
	de, frCA, ja, it := invite("de@x.io", "de"), invite("fr@x.io", "fr-CA"), invite("ja@x.io", "ja"), invite("it@x.io", "it")
	form, cookie := open(t, l, de)
	for _, c := range []struct {
		name  string
		l     *Landing
		v     visit
		lang  string
		title string
	}{
		{"the invite's", l, visit{target: link(de), header: []string{"Accept-Language", "es"}}, "de", "Einladung zu acme"},
		{"the invite's, by its parent", l, visit{target: link(frCA)}, "fr", "Invitation à rejoindre acme"},
		{"the browser's when the invite's has none", l, visit{target: link(ja), header: []string{"Accept-Language", "es-MX, en;q=0.5"}}, "es", "Invitación a acme"},
		{"the browser's for an invalid link", l, visit{target: link("x"), header: []string{"Accept-Language", "de-AT,de;q=0.9"}}, "de", "Ungültiger Link"},
		{"the default", l, visit{target: link("x"), header: []string{"Accept-Language", "ja"}}, "en", "Invalid link"},
		{"the default set", fr, visit{target: link("x")}, "fr", "Lien non valide"},
		{"the form's", l, visit{method: "POST", form: with(with(form, "csrf", ""), "locale", "es"), header: []string{"Accept-Language", "de"}}, "es", "Formulario rechazado"},
		{"the form's, not a locale", l, visit{method: "POST", form: with(with(form, "csrf", ""), "locale", "<x>"), header: []string{"Accept-Language", "fr"}}, "fr", "Formulaire rejeté"},
		{"a host's locale", hosted, visit{target: link(it)}, "it", "Invito a acme"},
		{"a host's file", hosted, visit{target: link("x"), header: []string{"Accept-Language", "es"}}, "es", "Propia"},
		{"an embedded file beside a host's", hosted, visit{target: link(de)}, "de", "Einladung zu acme"},
	} {
		w := c.v.do(c.l)
		if submatch(langAttr, w) != c.lang || title(w) != c.title {
			t.Errorf("%s: lang %q, title %q; want %q, %q\n%s", c.name, submatch(langAttr, w), title(w), c.lang, c.title, w.Body)
		}
	}
	if w := (visit{method: "POST", form: form, cookie: cookie}).do(l); w.Code != 303 {
		t.Fatalf("sign in first = %d", w.Code)
	}
}

// Every embedded locale words every state: its own title, and the form
// only while pending.
func TestLandingTemplatesWordEveryState(t *testing.T) {
	l := newLanding(t, newEnv(t))
	states := []LandingState{LandingPending, LandingAccepted, LandingDeclined, LandingCanceled, LandingExpired,
		LandingInvalid, LandingRefused, LandingMismatch, LandingError}
	for _, loc := range []string{"en", "de", "fr", "es"} {
		titles := map[string]LandingState{}
		for _, st := range states {
			for _, done := range []bool{false, true} {
				p := LandingPage{State: st, Done: done, Locale: loc, SignedIn: true, Token: "t", CSRF: "c", Action: "/invite",
					Invite: invites.TokenCheck{TenantID: "acme", Email: "ann@x.io", FirstName: "Anne-Marie", Roles: []string{"member"}}}
				w := httptest.NewRecorder()
				l.render(w, httptest.NewRequest("GET", "/", nil), 200, p)
				body, ttl := w.Body.String(), title(w)
				if submatch(langAttr, w) != loc || ttl == "" || strings.Contains(body, "<no value>") {
					t.Fatalf("%s %s: lang %q title %q\n%s", loc, st, submatch(langAttr, w), ttl, body)
				}
				if (st == LandingPending) != strings.Contains(body, "<form") {
					t.Errorf("%s %s: a form on a page not pending, or none on one", loc, st)
				}
				if st == LandingPending && !strings.Contains(body, "Anne\u2011Marie") {
					t.Errorf("%s: the name breaks at its hyphen\n%s", loc, body)
				}
				if other, ok := titles[ttl]; ok && other != st {
					t.Errorf("%s: %s and %s have one title %q", loc, st, other, ttl)
				}
				titles[ttl] = st
			}
		}
	}
}
