package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/invitekit/invites"
)

// TestBrowserDeclineAndReplacedLinks declines an invite on its landing
// page, and opens the link of an invite sent again: the old link is dead
// and says to use the newest email, whose link works.
func TestBrowserDeclineAndReplacedLinks(t *testing.T) {
	d, bctx := browse(t, "-cooldown=-1s") // no cooldown: resend at once
	sent := sendByAPI(t, d, "ivy@example.com", "jay@example.com")

	ivy := d.link(t, "ivy@example.com")
	if err := chromedp.Do(bctx,
		chromedp.Navigate(ivy),
		chromedp.WaitVisible(chromedp.ID("decline")),
		chromedp.Click(chromedp.ID("decline")),
		chromedp.WaitVisible(chromedp.ID("message")),
	); err != nil {
		t.Fatalf("declining: %v", err)
	}
	if st, title := pageState(t, bctx), text(t, bctx, chromedp.ID("title")); st != "declined" || title != "Invitation declined" {
		t.Fatalf("after decline: state %q, title %q", st, title)
	}
	if msg := text(t, bctx, chromedp.ID("message")); !strings.HasPrefix(msg, "You have declined the invitation to acme.") {
		t.Errorf("after decline the page says %q", msg)
	}
	shoot(t, bctx, "declined")
	landing(t, bctx, ivy, "landing-declined", "declined", "Invitation declined", "This invitation was declined", "")

	old := d.link(t, "jay@example.com")
	if code, body := do(t, "POST", d.base+"/api/invites/"+sent["jay@example.com"]+"/resend", "application/json", ""); code != 200 {
		t.Fatalf("resend = %d %s", code, body)
	}
	fresh := d.nthLink(t, "jay@example.com", 2)
	landing(t, bctx, old, "landing-replaced", "invalid", "Invalid link", "a newer invitation email replaced it", "")
	if err := chromedp.Do(bctx, chromedp.Navigate(fresh), chromedp.WaitVisible(chromedp.ID("accept"))); err != nil {
		t.Fatalf("the newest link: %v", err)
	}
	if st := pageState(t, bctx); st != "pending" {
		t.Fatalf("the newest link's page is %q, want pending", st)
	}
}

// TestBrowserCrossSitePostRefused: a page of another site posts the
// landing form, with the very csrf field the invitee's page holds, as if
// it had leaked. The browser says the post is cross-site (and sends no
// SameSite=Strict cookie): the landing page refuses it, and the invite
// stays pending.
func TestBrowserCrossSitePostRefused(t *testing.T) {
	d, bctx := browse(t)
	id := sendByAPI(t, d, "kim@example.com")["kim@example.com"]
	link := d.link(t, "kim@example.com")
	if err := chromedp.Do(bctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("accept"))); err != nil {
		t.Fatalf("opening the link: %v", err)
	}
	var fields [2]string
	for i, name := range []string{"token", "csrf"} {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('input[name="`+name+`"]').value`))
		if err != nil || v == "" {
			t.Fatalf("the page's %s field: %q, %v", name, v, err)
		}
		fields[i] = v
	}
	page := template.Must(template.New("evil").Parse(`<!doctype html><title>Win a prize</title>
<form method="post" action="{{.Action}}"><input type="hidden" name="token" value="{{.Token}}"><input type="hidden" name="csrf" value="{{.CSRF}}">
<button id="win" name="action" value="accept">Win a prize</button></form>`))
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page.Execute(w, map[string]string{"Action": d.base + landingPath, "Token": fields[0], "CSRF": fields[1]})
	}))
	defer evil.Close()
	// The demo is 127.0.0.1, so localhost is another site.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(evilURL),
		chromedp.Click(chromedp.ID("win")),
		chromedp.WaitVisible(chromedp.ID("title")),
	); err != nil {
		t.Fatalf("posting from %s: %v", evilURL, err)
	}
	if st, title := pageState(t, bctx), text(t, bctx, chromedp.ID("title")); st != "refused" || title != "Form refused" {
		t.Fatalf("the cross-site post shows %q, %q; want it refused", st, title)
	}
	shoot(t, bctx, "landing-refused")
	code, body := do(t, "GET", d.base+"/api/invites/"+id, "", "")
	var inv invites.Invite
	if err := json.Unmarshal([]byte(body), &inv); code != 200 || err != nil || inv.Status != invites.StatusPending {
		t.Fatalf("after the cross-site post: %d %v %s", code, err, body)
	}
}

// sendByAPI sends an invite to each address and returns their ids.
func sendByAPI(t *testing.T, d demo, addrs ...string) map[string]string {
	t.Helper()
	items := make([]string, len(addrs))
	for i, a := range addrs {
		items[i] = fmt.Sprintf(`{"email":%q}`, a)
	}
	code, body := do(t, "POST", d.base+"/api/invites/", "application/json", `{"userInvites":[`+strings.Join(items, ",")+`]}`)
	var res struct{ Success []invites.Invite }
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || len(res.Success) != len(addrs) {
		t.Fatalf("send = %d %v %s", code, err, body)
	}
	ids := map[string]string{}
	for _, inv := range res.Success {
		ids[inv.Email] = inv.ID.String()
	}
	return ids
}
