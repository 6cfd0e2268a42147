package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/bunstore/sqlitedb"
	"github.com/invitekit/invites/token"
)

// TestBrowserSuppressed: once a provider tells of a hard bounce of an
// invite's email (recorded here by a second Service on the demo's
// database, as a bounce webhook would), its row says the address is
// suppressed and a resend says plainly why it is refused.
func TestBrowserSuppressed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "suppressed.db")
	d, bctx := browse(t, "-db", path) // the last -db wins
	row := `tr[data-email="fay@example.com"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(d.base+"/"),
		chromedp.SendKeys(chromedp.ID("emails"), "fay@example.com"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(row+" button.resend")),
	); err != nil {
		t.Fatalf("sending: %v\n%s", err, d.out)
	}
	d.link(t, "fay@example.com") // the email went out
	m := regexp.MustCompile(`To: fay@example.com\n(?s:.*?)\nMessage-ID: (\S+)`).FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("no Message-ID of the email to fay@example.com:\n%s", d.out)
	}
	db, err := sqlitedb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := invites.New(bunstore.New(db), mailertest.New(), invites.Config{Tokens: token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "/invite#" + tok.Reveal() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordBounce(t.Context(), m[1], true, "550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Poll[chromedp.Void](`document.querySelector('`+row+` .delivery').textContent.includes("(address suppressed)")`),
		clickRow(row+" button.resend"),
		chromedp.Poll[chromedp.Void](`document.getElementById("list-msg").className === "err"`),
	); err != nil {
		t.Fatalf("the bounced row: %v; it shows %q", err, text(t, bctx, chromedp.CSS(row+" .delivery")))
	}
	if msg := text(t, bctx, chromedp.ID("list-msg")); !strings.Contains(msg, "fay@example.com bounced for good") {
		t.Fatalf("a resend to a suppressed address shows %q, want why it is refused", msg)
	}
}
