package main

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/invitekit/invites"
)

// joinLink is the shape of the URL Config.JoinURL makes in the demo: the
// token in the fragment.
var joinLink = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/join#[A-Za-z0-9_-]{43}$`)

// TestBrowserLinks drives the links page and the join page, at a
// desktop's width and then a phone's, in one browser: create a link, read
// its URL from the page, open it in another tab as another user, see the
// tenant, join; back on the links page see the use and who joined;
// rotate, and see the old URL's page say revoked; revoke the new link.
// Neither page scrolls sideways, and neither keeps the URL in storage.
func TestBrowserLinks(t *testing.T) {
	d, bctx := browse(t)
	for i, w := range widths {
		t.Run(w.name, func(t *testing.T) {
			linksFlow(t, d, bctx, w.w, w.h, w.mobile, i == 0)
		})
	}
}

func linksFlow(t *testing.T, d demo, admin context.Context, width, height int64, mobile, shots bool) {
	note, user := "fair "+strconv.FormatInt(width, 10), "bea-"+strconv.FormatInt(width, 10)
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	fit := chromedp.EmulateViewport(width, height, opts...)
	if err := chromedp.Do(admin,
		fit,
		chromedp.Navigate(d.base+"/"),
		chromedp.Click(chromedp.ID("nav-links")),
		chromedp.WaitVisible(chromedp.ID("create")),
		chromedp.SetValue(chromedp.ID("max-uses"), "5"),
		chromedp.SendKeys(chromedp.ID("note"), note),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("new-url")),
	); err != nil {
		t.Fatalf("creating a link: %v\n%s", err, d.out)
	}
	link := newURL(t, admin)
	if !joinLink.MatchString(link) {
		t.Fatalf("the page shows the URL %q, want the join page with the token in the fragment", link)
	}
	if err := chromedp.Do(admin,
		chromedp.Click(chromedp.ID("copy")),
		chromedp.Poll[chromedp.Void](`!document.getElementById("copy-msg").textContent.startsWith("Copy it now")`),
	); err != nil {
		t.Fatalf("copying: %v", err)
	}
	// Headless Chromium may refuse the clipboard: then the URL is selected.
	if msg := text(t, admin, chromedp.ID("copy-msg")); msg != "Copied." && !selected(t, admin) {
		t.Errorf("after Copy the page says %q with the URL not selected", msg)
	}
	row := `tr[data-id="` + linkID(t, d, note, invites.LinkActive) + `"]`
	if err := chromedp.Do(admin, chromedp.WaitVisible(chromedp.CSS(row))); err != nil {
		t.Fatalf("the new link's row: %v", err)
	}
	for sel, want := range map[string]string{".roles": "member", ".status": "active", ".uses": "0/5", ".creator": "demo-admin", ".note": note} {
		if got := text(t, admin, chromedp.CSS(row+" "+sel)); !strings.HasSuffix(got, want) {
			t.Errorf("the row's %s = %q, want %q", sel, got, want)
		}
	}
	fits(t, admin, "the links page")
	if shots {
		shoot(t, admin, "links-created")
	}

	// Another user opens the URL in a tab of their own.
	tab, closeTab := chromedp.NewContext(admin)
	defer closeTab()
	if err := chromedp.Do(tab, fit, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("join-button"))); err != nil {
		t.Fatalf("opening the link: %v", err)
	}
	if st := joinState(t, tab); st != "valid" {
		t.Fatalf("the join page says %q, want valid", st)
	}
	if tenant, roles := text(t, tab, chromedp.ID("tenant")), text(t, tab, chromedp.ID("roles")); tenant != "acme" || roles != "member" {
		t.Errorf("the join page shows team %q, roles %q; want acme, member", tenant, roles)
	}
	if at := location(t, tab); at != d.base+joinPath {
		t.Errorf("the address bar still says %s, want the token taken out", at)
	}
	fits(t, tab, "the join page")
	if shots {
		shoot(t, tab, "join-valid")
	}
	if err := chromedp.Do(tab,
		chromedp.SetValue(chromedp.ID("user"), user),
		chromedp.SetValue(chromedp.ID("email"), user+"@example.com"),
		chromedp.Click(chromedp.ID("join-button")),
		chromedp.Poll[chromedp.Void](`document.getElementById("join").dataset.state === "joined"`),
	); err != nil {
		t.Fatalf("joining: %v; the page says %q\n%s", err, text(t, tab, chromedp.ID("outcome")), d.out)
	}
	if msg := text(t, tab, chromedp.ID("message")); msg != "You have joined acme with the roles: member." {
		t.Errorf("after joining the page says %q", msg)
	}
	if shots {
		shoot(t, tab, "join-joined")
	}

	// Back on the links page, which polls: one use, and who.
	if err := chromedp.Do(admin,
		chromedp.Poll[chromedp.Void](`document.querySelector('`+row+` .uses')?.textContent === "1/5"`),
		clickRow(row+" button.see-uses"),
		chromedp.Poll[chromedp.Void](`document.querySelector('tr.timeline li[data-user="`+user+`"]') !== null`),
	); err != nil {
		t.Fatalf("the use on the links page: %v", err)
	}
	if use := text(t, admin, chromedp.CSS(`tr.timeline li`)); !strings.HasPrefix(use, user+" joined, ") {
		t.Errorf("the use reads %q, want who and when", use)
	}
	fits(t, admin, "the links page with its uses open")
	if shots {
		shoot(t, admin, "links-uses")
	}

	// Rotate: a new URL, and the old one's page says revoked (pasted in the
	// open join page: a change of fragment alone, which it checks again).
	if err := chromedp.Do(admin,
		clickRow(row+" button.rotate"),
		clickRow(row+" button.confirm"),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+row+` .status')?.textContent === "revoked"`),
	); err != nil {
		t.Fatalf("rotating: %v; the page says %q", err, text(t, admin, chromedp.ID("list-msg")))
	}
	rotated := newURL(t, admin)
	if !joinLink.MatchString(rotated) || rotated == link {
		t.Fatalf("after rotating the page shows %q, want a new URL beside %q", rotated, link)
	}
	if err := chromedp.Do(tab,
		chromedp.Evaluate[chromedp.Void](`location.assign(`+strconv.Quote(link)+`)`),
		chromedp.Poll[chromedp.Void](`document.getElementById("join").dataset.state === "revoked"`),
	); err != nil {
		t.Fatalf("the old URL after rotating: %v; state %q", err, joinState(t, tab))
	}
	if title := text(t, tab, chromedp.ID("title")); title != "Link revoked" {
		t.Errorf("the old URL's page is titled %q", title)
	}
	fits(t, tab, "the revoked link's join page")

	// Revoke the new one.
	fresh := `tr[data-id="` + linkID(t, d, note, invites.LinkActive) + `"]`
	if err := chromedp.Do(admin,
		clickRow(fresh+" button.revoke"),
		clickRow(fresh+" button.confirm"),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+fresh+` .status')?.textContent === "revoked"`),
	); err != nil {
		t.Fatalf("revoking: %v", err)
	}
	if msg := text(t, admin, chromedp.ID("list-msg")); msg != "Revoked the link “"+note+"”: its URL no longer works." {
		t.Errorf("a revoke shows %q", msg)
	}
	if n, err := chromedp.Run(admin, chromedp.Evaluate[int](`document.querySelectorAll('`+fresh+` button.rotate, `+fresh+` button.revoke').length`)); err != nil || n != 0 {
		t.Errorf("a revoked link's row has %d Rotate or Revoke buttons (%v), want none", n, err)
	}
	for _, tb := range []context.Context{admin, tab} {
		if n, err := chromedp.Run(tb, chromedp.Evaluate[int](`localStorage.length + sessionStorage.length`)); err != nil || n != 0 {
			t.Errorf("the pages keep %d items in storage (%v), want none", n, err)
		}
	}
}

// TestBrowserJoinRefused: a link for verified addresses at example.com
// refuses an unverified one in words, and a join after another user took
// its last use shows it used up, with no form left.
func TestBrowserJoinRefused(t *testing.T) {
	d, tab := browse(t)
	code, body := do(t, "POST", d.base+"/api/invites/links", "application/json",
		`{"maxUses":1,"ttlSeconds":3600,"allowedDomains":["example.com"]}`)
	var c struct{ Token, URL string }
	if err := json.Unmarshal([]byte(body), &c); code != 200 || err != nil {
		t.Fatalf("create = %d %v %s", code, err, body)
	}
	if err := chromedp.Do(tab,
		chromedp.Navigate(c.URL),
		chromedp.WaitVisible(chromedp.ID("join-button")),
		chromedp.Click(chromedp.ID("verified")),
		chromedp.Click(chromedp.ID("join-button")),
		chromedp.Poll[chromedp.Void](`document.getElementById("outcome").dataset.code === "domain_not_allowed"`),
	); err != nil {
		t.Fatalf("joining unverified: %v", err)
	}
	if msg := text(t, tab, chromedp.ID("outcome")); !strings.Contains(msg, "only verified addresses") {
		t.Errorf("the refusal reads %q", msg)
	}
	if code, body := do(t, "POST", d.base+"/api/invites/links/join", "application/json", `{"token":"`+c.Token+`"}`,
		"X-Demo-User", "zed", "X-Demo-Email", "zed@example.com", "X-Demo-Email-Verified", "true"); code != 200 {
		t.Fatalf("zed's join = %d %s", code, body)
	}
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.ID("verified")),
		chromedp.Click(chromedp.ID("join-button")),
		chromedp.Poll[chromedp.Void](`document.getElementById("join").dataset.state === "exhausted"`),
	); err != nil {
		t.Fatalf("joining a link used up: %v; the page says %q", err, text(t, tab, chromedp.ID("outcome")))
	}
	if title := text(t, tab, chromedp.ID("title")); title != "Link used up" {
		t.Errorf("the used-up link's page is titled %q", title)
	}
	if hidden, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("join-form").hidden`)); err != nil || !hidden {
		t.Errorf("the form of a used-up link is still shown (%v)", err)
	}
}

// newURL is the URL the links page shows of the link it just made.
func newURL(t *testing.T, tab context.Context) string {
	t.Helper()
	u, err := chromedp.Run(tab, chromedp.Poll[string](`document.getElementById("new-url").value`))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// selected reports whether the links page's URL box has all its text
// selected, as its Copy does without a clipboard.
func selected(t *testing.T, tab context.Context) bool {
	t.Helper()
	ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(b => document.activeElement === b && b.selectionStart === 0 && b.selectionEnd === b.value.length)(document.getElementById("new-url"))`))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// linkID is the ID of the acme link with note and status, read by the API.
func linkID(t *testing.T, d demo, note string, st invites.LinkStatus) string {
	t.Helper()
	code, body := do(t, "GET", d.base+"/api/invites/links?status="+url.QueryEscape(string(st)), "", "")
	var page struct{ Data []invites.Link }
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil {
		t.Fatalf("listing links: %d %v %s", code, err, body)
	}
	for _, l := range page.Data {
		if l.Note == note {
			return l.ID.String()
		}
	}
	t.Fatalf("no %s link %q in %s", st, note, body)
	return ""
}

// joinState is the state the join page shows.
func joinState(t *testing.T, tab context.Context) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("join")?.dataset.state ?? ""`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fits checks that the page tab shows is no wider than its viewport.
func fits(t *testing.T, tab context.Context, what string) {
	t.Helper()
	over, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.documentElement.scrollWidth > innerWidth ? document.documentElement.scrollWidth + " > " + innerWidth : ""`))
	if err != nil || over != "" {
		t.Errorf("%s scrolls sideways: %s (%v)", what, over, err)
	}
}
