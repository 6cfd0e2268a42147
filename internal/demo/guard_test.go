package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const formType = "application/x-www-form-urlencoded"

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// landingForm opens link as a browser without cookies would and returns
// the form its Accept button posts and the cookie that goes with it.
func landingForm(t *testing.T, link string) (url.Values, string) {
	t.Helper()
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := csrfInput.FindSubmatch(body)
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == csrfCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("the csrf cookie is %+v, want HttpOnly and SameSite=Strict", c)
			}
			cookie = c.Name + "=" + c.Value
		}
	}
	if res.StatusCode != 200 || m == nil || cookie == "" {
		t.Fatalf("landing = %d, cookie %q\n%s", res.StatusCode, cookie, body)
	}
	u, _ := url.Parse(link)
	return url.Values{"token": {u.Query().Get("token")}, "csrf": {string(m[1])}}, cookie
}

// with returns v with key set to value ("" deletes it).
func with(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	if value == "" {
		out.Del(key)
	} else {
		out.Set(key, value)
	}
	return out
}

// A landing form posted from anywhere but the landing page this browser
// loaded is refused, and the invite stays pending; the real one works.
func TestLandingFormsNeedTheirCSRFToken(t *testing.T) {
	d := start(t, "-db", filepath.Join(t.TempDir(), "demo.db"))
	if code, body := do(t, "POST", d.base+"/api/invites/", "application/json",
		`{"userInvites":[{"email":"ann@example.com"},{"email":"bob@example.com"}]}`); code != 200 {
		t.Fatalf("send = %d\n%s", code, body)
	}
	form, cookie := landingForm(t, d.link(t, "ann@example.com"))
	bobForm, bobCookie := landingForm(t, d.link(t, "bob@example.com"))
	_, otherCookie := landingForm(t, d.link(t, "ann@example.com")) // another browser

	for _, c := range []struct {
		name   string
		form   url.Values
		cookie string
	}{
		{"no csrf, no cookie", with(form, "csrf", ""), ""},
		{"no csrf", with(form, "csrf", ""), cookie},
		{"no cookie", form, ""},
		{"wrong csrf", with(form, "csrf", strings.Repeat("A", len(form.Get("csrf")))), cookie},
		{"another browser's cookie", form, otherCookie},
		{"the csrf of another invite", with(form, "csrf", bobForm.Get("csrf")), cookie},
		{"another invite's csrf and cookie", with(bobForm, "token", form.Get("token")), bobCookie},
	} {
		for _, action := range []string{"accept", "decline"} {
			code, body := do(t, "POST", d.base+"/invite/"+action, formType, c.form.Encode(), "Cookie", c.cookie)
			if code != http.StatusForbidden || !strings.Contains(body, "Form refused") {
				t.Errorf("%s: %s = %d, want 403\n%s", c.name, action, code, body)
			}
		}
	}
	if code, body := do(t, "GET", d.base+"/api/invites/?status=pending", "", ""); code != 200 || strings.Count(body, `"status":"pending"`) != 2 {
		t.Fatalf("after the forged posts = %d, want both invites pending\n%s", code, body)
	}
	if code, body := do(t, "POST", d.base+"/invite/accept", formType, form.Encode(), "Cookie", cookie); code != 200 || !strings.Contains(body, "Invitation accepted") {
		t.Fatalf("accept with the landing page's form = %d\n%s", code, body)
	}
	if code, body := do(t, "POST", d.base+"/invite/decline", formType, bobForm.Encode(), "Cookie", bobCookie); code != 200 || !strings.Contains(body, "Invitation declined") {
		t.Fatalf("decline with the landing page's form = %d\n%s", code, body)
	}
}

// The demo answers only to its own names, so a DNS-rebinding page reaches
// nothing, and refuses writes from another origin.
func TestHostAndOrigin(t *testing.T) {
	d := start(t, "-db", filepath.Join(t.TempDir(), "demo.db"), "-host", "demo.example:8443")
	u, _ := url.Parse(d.base)
	port := u.Port()
	for _, c := range []struct {
		method, host, path, origin string
		want                       int
	}{
		{"GET", u.Host, "/", "", 200},
		{"GET", "localhost:" + port, "/", "", 200},
		{"GET", "LOCALHOST:" + port, "/", "", 200},
		{"GET", "[::1]:" + port, "/", "", 200},
		{"GET", "demo.example:8443", "/", "", 200},
		{"GET", "rebound.attacker.example:" + port, "/", "", http.StatusMisdirectedRequest},
		{"GET", "rebound.attacker.example:" + port, "/api/invites/", "", http.StatusMisdirectedRequest},
		{"POST", "rebound.attacker.example:" + port, "/api/invites/", "", http.StatusMisdirectedRequest},
		{"GET", "localhost:1", "/", "", http.StatusMisdirectedRequest},
		{"GET", "demo.example", "/", "", http.StatusMisdirectedRequest},
		{"POST", u.Host, "/api/invites/", "http://attacker.example", http.StatusForbidden},
		{"POST", u.Host, "/invite/accept", "http://attacker.example", http.StatusForbidden},
		{"POST", u.Host, "/api/invites/", d.base, 200},
	} {
		req, err := http.NewRequest(c.method, d.base+c.path, strings.NewReader(`{"userInvites":[{"email":"x@example.com"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = c.host
		req.Header.Set("Content-Type", "application/json")
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s %s with Host %s, Origin %q = %d, want %d", c.method, c.path, c.host, c.origin, res.StatusCode, c.want)
		}
	}
}
