package httpadapter

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// The landing tests' host: its sign-in page, where an accept leads, and
// its user, who rides in X-Test-User and X-Test-Email (none without).
const (
	landingPath = "/invite"
	signInPage  = "/login?next="
)

var landingSecret = []byte("0123456789abcdef0123456789abcdef")

// newLanding is the landing handler over e's Service.
func newLanding(t *testing.T, e *env, tune ...func(*LandingConfig)) *Landing {
	t.Helper()
	cfg := LandingConfig{
		Path:   landingPath,
		Secret: landingSecret,
		User: func(r *http.Request) (invites.Acceptor, bool) {
			u := invites.Acceptor{UserID: r.Header.Get("X-Test-User"), Email: r.Header.Get("X-Test-Email")}
			return u, u.UserID != ""
		},
		SignInURL:   func(back string) string { return signInPage + url.QueryEscape(back) },
		AcceptedURL: func(_ *http.Request, inv invites.Invite) string { return "/t/" + inv.TenantID },
		Logger:      e.cfg.Logger,
	}
	for _, f := range tune {
		f(&cfg)
	}
	l, err := NewLanding(e.svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// visit is one request to the landing handler, as a browser of the same
// origin sends it unless the fields say otherwise.
type visit struct {
	method string // GET unless set
	target string // the link: landingPath?token=tok
	form   url.Values
	cookie string // name=value
	as     *invites.Actor
	// header sets more headers, name and value: Host sets r.Host, and an
	// empty value removes the header.
	header []string
}

func (v visit) do(l *Landing) *httptest.ResponseRecorder {
	method := v.method
	if method == "" {
		method = http.MethodGet
	}
	var r *http.Request
	if v.form != nil {
		r = httptest.NewRequest(method, landingPath, strings.NewReader(v.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", "http://example.com") // httptest's Host
	} else {
		r = httptest.NewRequest(method, v.target, nil)
	}
	if v.cookie != "" {
		r.Header.Set("Cookie", v.cookie)
	}
	if v.as != nil {
		r.Header.Set("X-Test-User", v.as.UserID)
		r.Header.Set("X-Test-Email", v.as.Email)
	}
	for i := 0; i+1 < len(v.header); i += 2 {
		switch name, value := v.header[i], v.header[i+1]; {
		case name == "Host":
			r.Host = value
		case value == "":
			r.Header.Del(name)
		default:
			r.Header.Set(name, value)
		}
	}
	w := httptest.NewRecorder()
	l.ServeHTTP(w, r)
	return w
}

func link(tok string) string { return landingPath + "?token=" + url.QueryEscape(tok) }

var (
	stateAttr = regexp.MustCompile(`data-state="([a-z]+)"`)
	titleElem = regexp.MustCompile(`<h1 id="title">([^<]*)</h1>`)
	csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	langAttr  = regexp.MustCompile(`<html lang="([^"]+)">`)
)

// state and title are what a landing page shows.
func state(w *httptest.ResponseRecorder) string { return submatch(stateAttr, w) }
func title(w *httptest.ResponseRecorder) string {
	return html.UnescapeString(submatch(titleElem, w))
}

func submatch(re *regexp.Regexp, w *httptest.ResponseRecorder) string {
	if m := re.FindStringSubmatch(w.Body.String()); m != nil {
		return m[1]
	}
	return ""
}

// open loads the link of tok as a browser without cookies does and
// returns the form its Accept button posts (action accept) and the
// cookie that goes with it.
func open(t *testing.T, l *Landing, tok string) (url.Values, string) {
	t.Helper()
	w := visit{target: link(tok)}.do(l)
	m := csrfInput.FindStringSubmatch(w.Body.String())
	var cookie string
	for _, c := range w.Result().Cookies() {
		if c.Name == landingCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != landingPath {
				t.Errorf("the CSRF cookie is %+v, want HttpOnly, SameSite=Strict and the landing path", c)
			}
			cookie = c.Name + "=" + c.Value
		}
	}
	if w.Code != 200 || m == nil || cookie == "" {
		t.Fatalf("landing = %d, cookie %q\n%s", w.Code, cookie, w.Body)
	}
	return url.Values{"token": {tok}, "csrf": {m[1]}, "action": {"accept"}}, cookie
}

// opened is an invite of alice's, sent and delivered, and what a browser
// holds once it opened the link on a landing handler.
type opened struct {
	inv    invites.Invite
	tok    string
	form   url.Values // the form its Accept button posts
	cookie string
}

// openInvite invites email and opens its link on l.
func openInvite(t *testing.T, e *env, l *Landing, email string) opened {
	t.Helper()
	inv := e.invite(alice, email)
	tok := e.token(email)
	form, cookie := open(t, l, tok)
	return opened{inv, tok, form, cookie}
}

// landingOpened is a landing handler over a new env with tune applied,
// and the link of email opened on it.
func landingOpened(t *testing.T, email string, tune ...func(*LandingConfig)) (*env, *Landing, opened) {
	t.Helper()
	e := newEnv(t)
	l := newLanding(t, e, tune...)
	return e, l, openInvite(t, e, l, email)
}

// accept posts o's Accept form as the browser that opened it, signed in
// as as (nil for nobody).
func (o opened) accept(l *Landing, as *invites.Actor) *httptest.ResponseRecorder {
	return visit{method: "POST", form: o.form, cookie: o.cookie, as: as}.do(l)
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
