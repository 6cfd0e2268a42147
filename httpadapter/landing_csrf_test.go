package httpadapter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/invitekit/invites"
)

// A form posted from anywhere but the landing page this browser loaded,
// or from another site, is refused, accepts and declines nothing; the
// real one works.
func TestLandingRefusesForgedForms(t *testing.T) {
	e, l, ann := landingOpened(t, "ann@x.io")
	tok, form, cookie := ann.tok, ann.form, ann.cookie
	bob := openInvite(t, e, l, "bob@x.io")
	bobForm, bobCookie := bob.form, bob.cookie
	_, otherCookie := open(t, l, tok) // another browser
	other := newLanding(t, e, func(c *LandingConfig) { c.Secret = []byte(strings.Repeat("s", MinLandingSecret)) })
	foreignForm, foreignCookie := open(t, other, tok) // a host with another secret

	for _, c := range []struct {
		name   string
		v      visit
		status int
	}{
		{"no csrf, no cookie", visit{form: with(form, "csrf", "")}, 403},
		{"no csrf", visit{form: with(form, "csrf", ""), cookie: cookie}, 403},
		{"no cookie", visit{form: form}, 403},
		{"wrong csrf", visit{form: with(form, "csrf", strings.Repeat("A", len(form.Get("csrf")))), cookie: cookie}, 403},
		{"a cookie of another form", visit{form: form, cookie: landingCookie + "=" + strings.Repeat("A", nonceLen)}, 403},
		{"a malformed cookie", visit{form: form, cookie: landingCookie + "=x"}, 403},
		{"another browser's cookie", visit{form: form, cookie: otherCookie}, 403},
		{"the csrf of another link", visit{form: with(form, "csrf", bobForm.Get("csrf")), cookie: cookie}, 403},
		{"another link's csrf and cookie", visit{form: with(bobForm, "token", tok), cookie: bobCookie}, 403},
		{"another secret's form", visit{form: foreignForm, cookie: foreignCookie}, 403},
		{"cross-site", visit{form: form, cookie: cookie, header: []string{"Sec-Fetch-Site", "cross-site"}}, 403},
		{"same-site, another origin", visit{form: form, cookie: cookie, header: []string{"Sec-Fetch-Site", "same-site"}}, 403},
		{"another Origin, no Sec-Fetch-Site", visit{form: form, cookie: cookie,
			header: []string{"Sec-Fetch-Site", "", "Origin", "https://attacker.example"}}, 403},
		{"no action", visit{form: with(form, "action", ""), cookie: cookie}, 400},
		{"an unknown action", visit{form: with(form, "action", "cancel"), cookie: cookie}, 400},
		{"too large", visit{form: with(form, "pad", strings.Repeat("x", DefaultLandingMaxBodyBytes)), cookie: cookie}, 413},
	} {
		for _, action := range []string{"accept", "decline"} {
			v := c.v
			v.method, v.as = "POST", &annUser
			if c.status == 403 {
				v.form = with(v.form, "action", action)
			}
			w := v.do(l)
			if w.Code != c.status || state(w) != "refused" || strings.Contains(w.Body.String(), "<form") {
				t.Errorf("%s, %s = %d %q, want %d refused\n%s", c.name, action, w.Code, state(w), c.status, w.Body)
			}
		}
	}
	if got, _ := e.svc.Get(context.Background(), alice, ann.inv.ID); got.Status != invites.StatusPending {
		t.Fatalf("after the forged posts ann's invite is %s", got.Status)
	}
	if w := ann.accept(l, &annUser); w.Code != http.StatusSeeOther {
		t.Fatalf("the real form = %d\n%s", w.Code, w.Body)
	}
	// A client that sends neither Origin nor Sec-Fetch-Site (no browser)
	// still needs the cookie and its MAC.
	bobForm = with(bobForm, "action", "decline")
	if w := (visit{method: "POST", form: bobForm, cookie: bobCookie, header: []string{"Sec-Fetch-Site", "", "Origin", ""}}).do(l); w.Code != 200 || state(w) != "declined" {
		t.Fatalf("decline without browser headers = %d %q\n%s", w.Code, state(w), w.Body)
	}
}

// Where the browser goes is the host's to say, never the request's: the
// sign-in page comes back to the configured path with the token escaped,
// whatever path, Host, query or form the request had, and an accept leads
// to AcceptedURL.
func TestLandingRedirectsStayHome(t *testing.T) {
	_, l, o := landingOpened(t, "ann@x.io")
	tok, form, cookie := o.tok, o.form, o.cookie
	back := signInPage + "%2Finvite%3Ftoken%3D" + tok
	for _, c := range []struct {
		name string
		v    visit
	}{
		{"a next parameter", visit{form: with(form, "next", "https://evil.example/"), cookie: cookie}},
		{"a return field", visit{form: with(form, "return", "//evil.example"), cookie: cookie}},
		{"another Host", visit{form: form, cookie: cookie, header: []string{"Host", "evil.example"}}},
		{"a Referer", visit{form: form, cookie: cookie, header: []string{"Referer", "https://evil.example/"}}},
	} {
		v := c.v
		v.method = "POST"
		if w := v.do(l); w.Code != http.StatusSeeOther || w.Header().Get("Location") != back {
			t.Errorf("%s: %d to %q, want 303 to %q", c.name, w.Code, w.Header().Get("Location"), back)
		}
	}
	// The form posts to the configured path, and the sign-in link comes
	// back to it, whatever the path of the request.
	for _, target := range []string{"//evil.example/invite?token=" + tok, "/%5Cevil.example?token=" + tok,
		"/invite?token=" + tok + "&next=https://evil.example"} {
		body := visit{target: target}.do(l).Body.String()
		if !strings.Contains(body, `action="/invite"`) || !strings.Contains(body, `href="`+back+`"`) {
			t.Errorf("GET %s: the form or sign-in link leads elsewhere\n%s", target, body)
		}
		if strings.Contains(body, "evil") {
			t.Errorf("GET %s: the page names the request's target\n%s", target, body)
		}
	}
	w := visit{method: "POST", form: with(form, "next", "https://evil.example/"), cookie: cookie, as: &annUser}.do(l)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/t/acme" {
		t.Fatalf("accept = %d to %q, want /t/acme", w.Code, w.Header().Get("Location"))
	}
}

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/invite?token=a%2Fb": true, "/a/b#c": true,
		"": false, "invite": false, "//evil.example": false, "/\\evil.example": false, "\\\\evil.example": false,
		"https://evil.example/": false, "javascript:alert(1)": false, "/\t/evil.example": false,
		"/\n/evil.example": false, " /x": false, "/a b": false, "/a\\b": false, "/\x7f": false,
	} {
		if got := LocalPath(p); got != want {
			t.Errorf("LocalPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestNewLandingChecksItsConfig(t *testing.T) {
	e := newEnv(t)
	good := LandingConfig{Path: "/invite", Secret: landingSecret,
		User:      func(*http.Request) (invites.Acceptor, bool) { return invites.Acceptor{}, false },
		SignInURL: func(string) string { return "/login" }}
	for _, c := range []struct {
		name string
		tune func(*LandingConfig)
		want string
	}{
		{"no path", func(c *LandingConfig) { c.Path = "" }, "Path"},
		{"another host's path", func(c *LandingConfig) { c.Path = "//evil.example/invite" }, "Path"},
		{"a URL", func(c *LandingConfig) { c.Path = "https://app.example/invite" }, "Path"},
		{"a query", func(c *LandingConfig) { c.Path = "/invite?x=1" }, "Path"},
		{"a short secret", func(c *LandingConfig) { c.Secret = c.Secret[:MinLandingSecret-1] }, "Secret"},
		{"no user", func(c *LandingConfig) { c.User = nil }, "User"},
		{"no sign-in", func(c *LandingConfig) { c.SignInURL = nil }, "SignInURL"},
		{"a bad form action", func(c *LandingConfig) { c.FormAction = []string{"https://a.example; script-src *"} }, "FormAction"},
		{"a bad locale", func(c *LandingConfig) { c.DefaultLocale = "not a locale" }, "DefaultLocale"},
		{"a broken template", func(c *LandingConfig) {
			c.Templates = fstest.MapFS{"en/page.html.tmpl": {Data: []byte(`{{define "content"}}{{.Nope`)}}
		}, "en/page.html.tmpl"},
		{"a locale not canonical", func(c *LandingConfig) {
			c.Templates = fstest.MapFS{"de-at/page.html.tmpl": {Data: []byte(`x`)}}
		}, "de-at"},
		{"a locale without its page", func(c *LandingConfig) {
			c.Templates = fstest.MapFS{"it/other.tmpl": {Data: []byte(`x`)}}
		}, "it/page.html.tmpl"},
	} {
		cfg := good
		c.tune(&cfg)
		if _, err := NewLanding(e.svc, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
	if _, err := NewLanding(nil, good); err == nil {
		t.Error("no Service: no error")
	}
	if _, err := NewLanding(e.svc, good); err != nil {
		t.Errorf("the good config: %v", err)
	}
}
