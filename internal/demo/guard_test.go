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
		cookie = c.Name + "=" + c.Value
	}
	if res.StatusCode != 200 || m == nil || len(res.Cookies()) != 1 {
		t.Fatalf("landing = %d, cookies %v\n%s", res.StatusCode, res.Cookies(), body)
	}
	u, _ := url.Parse(link)
	return url.Values{"token": {u.Query().Get("token")}, "csrf": {string(m[1])}, "action": {"accept"}}, cookie
}

// post sends form to the landing page as a browser of the demo's own
// origin does, without following a redirect, and returns the status,
// Location and body.
func post(t *testing.T, d demo, form url.Values, cookie string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("POST", d.base+landingPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Origin", d.base)
	req.Header.Set("Cookie", cookie)
	return send(t, noRedirects, req)
}

// noRedirects is a client that answers a redirect's own response.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// The demo's landing page refuses a form without the CSRF token its page
// gave this browser, and the invite stays pending; the real one accepts
// and leads to the welcome page. (httpadapter's tests try every forgery.)
func TestLandingFormsNeedTheirCSRFToken(t *testing.T) {
	d := start(t, "-db", filepath.Join(t.TempDir(), "demo.db"))
	if code, body := do(t, "POST", d.base+"/api/invites/", "application/json", `{"userInvites":[{"email":"ann@example.com"}]}`); code != 200 {
		t.Fatalf("send = %d\n%s", code, body)
	}
	form, cookie := landingForm(t, d.link(t, "ann@example.com"))
	if code, _, body := post(t, d, url.Values{"token": form["token"], "action": {"accept"}}, cookie); code != http.StatusForbidden ||
		!strings.Contains(body, "Form refused") {
		t.Errorf("a form without its csrf = %d\n%s", code, body)
	}
	if code, body := do(t, "GET", d.base+"/api/invites/?status=pending", "", ""); code != 200 || !strings.Contains(body, `"status":"pending"`) {
		t.Fatalf("after the forged post = %d, want the invite pending\n%s", code, body)
	}
	if code, loc, body := post(t, d, form, cookie); code != http.StatusSeeOther || loc != "/demo/welcome?tenant=acme" {
		t.Fatalf("accept with the landing page's form = %d to %q\n%s", code, loc, body)
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
		{"POST", u.Host, landingPath, "http://attacker.example", http.StatusForbidden},
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
