package main

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitekit/invites/internal/testdb"
)

// chromium finds a Chromium to drive, or skips: .ci/run installs one and
// fails on the skip message.
func chromium(t *testing.T) string {
	if testing.Short() {
		t.Skip("browser tests skip under -short")
	}
	p, skipped := findChromium()
	if skipped != "" {
		t.Skip(skipped)
	}
	return p
}

// findChromium is the path of a Chromium, or says that the browser tests
// skip and how to run them.
func findChromium() (path, skipped string) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "chromium tests skipped: no chromium in PATH (apt-get install chromium)"
}

// TestMain says once, even without -v, which of the tests will skip.
func TestMain(m *testing.M) {
	_, skipped := findChromium()
	testdb.Main(m, testdb.PostgresSkipped(), skipped)
}

// browse starts the demo with args on a fresh SQLite file and a headless
// Chromium to drive it, both stopped when t ends.
func browse(t *testing.T, args ...string) (demo, context.Context) {
	exe := chromium(t)
	d := start(t, append([]string{"-db", filepath.Join(t.TempDir(), "demo.db")}, args...)...)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	// This machine has no network beyond loopback and runs as root.
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return d, bctx
}

// TestBrowserSendAccept drives the pages in headless Chromium: send an
// invite, open its email from the page in a second tab, follow its link,
// accept, and watch the list in the first tab show it accepted without a
// reload; the used link then says it was accepted and leads on. Beside
// it, a long address and a right-to-left name must not push the buttons
// off a phone's screen, nor a hyphenated name break at its hyphens.
func TestBrowserSendAccept(t *testing.T) {
	d, bctx := browse(t)

	// Through the API: the form takes addresses only, not names.
	long := "a.very.long.address.that.goes.on.and.on.and.on@engineering.departments.example.com"
	if code, body := do(t, "POST", d.base+"/api/invites", "application/json",
		`{"userInvites":[{"email":"`+long+`"},{"email":"sara@example.com","firstName":"שרה","lastName":"כהן"},`+
			`{"email":"jc@example.com","firstName":"Jean-Christophe-Alexandre","lastName":"Marie-Antoinette-Delacroix-Beauharnais"}]}`); code != 200 {
		t.Fatalf("sending by the API: %d %s", code, body)
	}
	const addr = "carol@example.com"
	row := `tr[data-email="` + addr + `"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(d.base+"/"),
		chromedp.SendKeys(chromedp.ID("emails"), addr),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS("#send-result li.ok")),
		// The list polls the API: the row appears, then its email goes out.
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+row+` .delivery').textContent === "sent"`),
	); err != nil {
		t.Fatalf("sending: %v\n%s", err, d.out)
	}
	if sent := text(t, bctx, chromedp.CSS("#send-result")); !strings.Contains(sent, "Invited "+addr) {
		t.Fatalf("send result = %q", sent)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('bdi[dir="auto"]').length`)); err != nil || n < 4 {
		t.Errorf("%d names and addresses isolated for bidirectional text (%v), want every one", n, err)
	}
	if where := text(t, bctx, chromedp.ID("emails-go")); !strings.Contains(where, "prints each one, link included, in the terminal") {
		t.Errorf("the page says of its emails %q, want where they go", where)
	}
	shoot(t, bctx, "send")
	if broken := atPhone(t, bctx, hyphenBreaks); broken != "" {
		t.Errorf("on a phone, %s", broken)
	}

	// The page's link to the last email, in a tab of its own, and the
	// email's link from there.
	tab, closeTab := chromedp.NewContext(bctx)
	defer closeTab()
	if err := chromedp.Do(tab,
		chromedp.Navigate(d.base+"/"),
		chromedp.Click(chromedp.ID("last-email")),
		chromedp.WaitVisible(chromedp.ID("email")),
	); err != nil {
		t.Fatalf("opening the last email: %v", err)
	}
	if email := text(t, tab, chromedp.ID("email")); !strings.Contains(email, "To: "+addr) {
		t.Fatalf("the last email is not carol's:\n%s", email)
	}
	shoot(t, tab, "last-email")
	link := d.link(t, addr)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("email-link")), chromedp.WaitVisible(chromedp.ID("accept"))); err != nil {
		t.Fatalf("following the email's link: %v", err)
	}
	if url := location(t, tab); url != link {
		t.Fatalf("the email's link opened %s, want %s", url, link)
	}
	if st := pageState(t, tab); st != "pending" {
		t.Fatalf("landing page state = %q, want pending", st)
	}
	shoot(t, tab, "landing-pending")
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("accept")), chromedp.WaitVisible(chromedp.ID("outcome"))); err != nil {
		t.Fatalf("accepting: %v", err)
	}
	if outcome := text(t, tab, chromedp.ID("outcome")); outcome != "Invitation accepted" {
		t.Fatalf("outcome = %q", outcome)
	}
	shoot(t, tab, "accepted")

	// The send page, still open in the first tab, polls its way there.
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(row+" .status-accepted"))); err != nil {
		t.Fatalf("the list after accepting: %v", err)
	}
	if final := text(t, bctx, chromedp.CSS(row+" .status")); final != "accepted" {
		t.Fatalf("row status = %q, want accepted", final)
	}

	// The link again: it says so in words and leads on.
	landing(t, tab, link, "landing-accepted", "accepted", "Already accepted", "already been accepted", "Continue")
}

// hyphenBreaks finds, on the page as shown, a word of a hyphenated name
// in the list that a line break splits, and says so; "" when none does.
// It fails too when the name fits one line, which would prove nothing.
const hyphenBreaks = `(() => {
	const n = [...document.querySelectorAll("td.email .name")].find(e => /[-\u2011]/.test(e.textContent));
	if (!n) return "no hyphenated name in the list";
	const lines = rects => new Set([...rects].map(r => Math.round(r.top))).size;
	const r = document.createRange();
	r.selectNodeContents(n);
	if (lines(r.getClientRects()) < 2) return "the name fits one line: nothing to break";
	const text = n.firstChild, broken = [];
	let at = 0;
	for (const w of text.data.split(" ")) {
		r.setStart(text, at);
		r.setEnd(text, at + w.length);
		if (lines(r.getClientRects()) > 1) broken.push(w);
		at += w.length + 1;
	}
	return broken.length ? "the name breaks inside " + broken.join(", ") : "";
})()`

// atPhone evaluates script at a phone's width and returns its string.
func atPhone(t *testing.T, tab context.Context, script string) string {
	t.Helper()
	phone := widths[1]
	defer chromedp.Do(tab, chromedp.EmulateViewport(widths[0].w, widths[0].h))
	if err := chromedp.Do(tab, chromedp.EmulateViewport(phone.w, phone.h, chromedp.EmulateMobile), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](script))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrowserResendCancel clicks the list's buttons: a resend within the
// cooldown says how long to wait, one after it confirms itself, and a
// cancel asks first, then turns the row canceled at the same height, its
// buttons gone; the canceled invite's link says it was withdrawn.
func TestBrowserResendCancel(t *testing.T) {
	d, bctx := browse(t, "-cooldown", "2s")
	dave, erin := `tr[data-email="dave@example.com"]`, `tr[data-email="erin@example.com"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(d.base+"/"),
		chromedp.SendKeys(chromedp.ID("emails"), "dave@example.com, erin@example.com"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(dave+" button.resend")),
		chromedp.WaitVisible(chromedp.CSS(erin+" button.cancel")),
		clickRow(dave+" button.resend"),
		chromedp.Poll[chromedp.Void](`document.getElementById("list-msg").textContent.includes("dave@example.com")`),
	); err != nil {
		t.Fatalf("clicking resend: %v\n%s", err, d.out)
	}
	if msg := text(t, bctx, chromedp.ID("list-msg")); !regexp.MustCompile(`you can resend it in [12] seconds?\.$`).MatchString(msg) {
		t.Fatalf("resend within the cooldown shows %q, want how long to wait", msg)
	}
	// The cooldown ran from the send, which was before the refusal.
	time.Sleep(2500 * time.Millisecond)
	if err := chromedp.Do(bctx,
		clickRow(dave+" button.resend"),
		chromedp.Poll[chromedp.Void](`document.getElementById("list-msg").className === "ok"`),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+dave+` .sends').textContent === "2"`),
	); err != nil {
		t.Fatalf("resending after the cooldown: %v; the page says %q", err, text(t, bctx, chromedp.ID("list-msg")))
	}
	if msg := text(t, bctx, chromedp.ID("list-msg")); !strings.HasPrefix(msg, "Sent a new invitation to dave@example.com") {
		t.Fatalf("a resend shows %q, want it confirmed", msg)
	}

	height := func() float64 {
		h, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.querySelector('`+erin+`').getBoundingClientRect().height`))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := height()
	if err := chromedp.Do(bctx,
		clickRow(erin+" button.cancel"),
		chromedp.WaitVisible(chromedp.CSS(erin+" button.confirm-cancel")),
	); err != nil {
		t.Fatalf("clicking cancel: %v", err)
	}
	if st := text(t, bctx, chromedp.CSS(erin+" .status")); st != "pending" {
		t.Fatalf("one click on cancel made the row %q, want it to ask first", st)
	}
	asking := height()
	shoot(t, bctx, "send-confirm-cancel")
	if err := chromedp.Do(bctx,
		clickRow(erin+" button.keep"),
		chromedp.WaitVisible(chromedp.CSS(erin+" button.cancel")),
		clickRow(erin+" button.cancel"),
		clickRow(erin+" button.confirm-cancel"),
		chromedp.WaitVisible(chromedp.CSS(erin+" .status-canceled")),
	); err != nil {
		t.Fatalf("confirming the cancel: %v\n%s", err, d.out)
	}
	if msg := text(t, bctx, chromedp.ID("list-msg")); msg != "Canceled the invitation to erin@example.com." {
		t.Errorf("a cancel shows %q", msg)
	}
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('`+erin+` button').length`))
	if err != nil || n != 0 {
		t.Fatalf("a canceled row has %d buttons (%v), want none", n, err)
	}
	if after := height(); math.Abs(before-after) > 0.5 || math.Abs(before-asking) > 0.5 {
		t.Errorf("erin's row is %.1fpx high with its buttons, %.1fpx asking, %.1fpx canceled: want one height", before, asking, after)
	}
	if dst := text(t, bctx, chromedp.CSS(dave+" .status")); dst != "pending" {
		t.Fatalf("dave's row = %q after resending, want pending", dst)
	}

	landing(t, bctx, d.link(t, "erin@example.com"), "landing-canceled", "canceled", "Invitation withdrawn", "ask the person who invited you", "")
}

// TestBrowserStatusAndTimeline sends invites and lets the worker deliver
// them: the status panel counts them pending as soon as the list shows
// them, with nothing left in the outbox, without a reload; the address
// box keeps only the address refused; the count says how many invites
// the list holds. A click on an invite opens its events under its row,
// in order, and marks the row; a second click closes them.
func TestBrowserStatusAndTimeline(t *testing.T) {
	d, bctx := browse(t)
	gil, hal := `tr[data-email="gil@example.com"]`, `tr[data-email="hal@example.com"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(d.base+"/"),
		chromedp.Poll[chromedp.Void](`document.getElementById("st-pending").textContent === "0"`),
		chromedp.SendKeys(chromedp.ID("emails"), "gil@example.com, hal@example.com, not-an-address, gil@example.com"),
		chromedp.Click(chromedp.ID("send")),
	); err != nil {
		t.Fatalf("sending: %v\n%s", err, d.out)
	}
	// The first frame that shows both rows shows them in the panel too.
	pending, err := chromedp.Run(bctx, chromedp.Poll[string](
		`document.querySelectorAll("tr.invite").length === 2 && document.getElementById("st-pending").textContent`))
	if err != nil || pending != "2" {
		t.Fatalf("the panel says %q pending (%v) beside a list of 2", pending, err)
	}
	if box, err := chromedp.Run(bctx, chromedp.Value(chromedp.ID("emails"))); err != nil || box != "not-an-address" {
		t.Errorf("the address box holds %q (%v) after the send, want the refused address only", box, err)
	}
	if count := text(t, bctx, chromedp.ID("count")); count != "(2)" {
		t.Errorf("the list's count = %q, want (2)", count)
	}
	if err := chromedp.Do(bctx,
		chromedp.Poll[chromedp.Void](`document.querySelector('`+gil+` .delivery')?.textContent === "sent"`),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+hal+` .delivery')?.textContent === "sent"`),
		chromedp.Poll[chromedp.Void](`document.getElementById("st-queued").textContent === "0" && document.getElementById("st-pending").textContent === "2"`),
	); err != nil {
		t.Fatalf("delivering: %v\n%s", err, d.out)
	}
	want := map[string]string{"st-pending": "2", "st-accepted": "0", "st-canceled": "0", "st-queued": "0", "st-failed": "0"}
	for id, n := range want {
		if got := text(t, bctx, chromedp.ID(id)); got != n {
			t.Errorf("the panel's %s = %q, want %s", id, got, n)
		}
	}
	shoot(t, bctx, "send-status")

	events := `tr.timeline li`
	if err := chromedp.Do(bctx,
		clickRow(gil+" td.email"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('`+events+`').length === 2`),
	); err != nil {
		t.Fatalf("opening the timeline: %v", err)
	}
	types, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('`+events+`')].map(li => li.dataset.type)`))
	if err != nil || len(types) != 2 || types[0] != "created" || types[1] != "sent" {
		t.Fatalf("the timeline shows %v (%v), want created, sent", types, err)
	}
	first := text(t, bctx, chromedp.CSS(events))
	if !strings.HasPrefix(first, "created by demo-admin, ") {
		t.Errorf("the first event reads %q, want what, who and when", first)
	}
	open, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('tr.timeline').previousElementSibling.dataset.email`))
	if err != nil || open != "gil@example.com" {
		t.Errorf("the timeline opened under %q (%v), want gil's row", open, err)
	}
	marked := `getComputedStyle(document.querySelector('` + gil + `')).backgroundColor !== getComputedStyle(document.querySelector('` + hal + `')).backgroundColor`
	if m, err := chromedp.Run(bctx, chromedp.Evaluate[bool](marked)); err != nil || !m {
		t.Errorf("the open row looks as the others do (%v)", err)
	}
	shoot(t, bctx, "send-timeline")
	if err := chromedp.Do(bctx,
		clickRow(gil+" td.email"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('tr.timeline').length === 0`),
	); err != nil {
		t.Fatalf("closing the timeline: %v", err)
	}
	if m, err := chromedp.Run(bctx, chromedp.Evaluate[bool](marked)); err != nil || m {
		t.Errorf("the closed row is still marked (%v)", err)
	}
}

// TestBrowserExpiredLink opens the link of an invite past its -ttl: the
// page says it expired and what to do.
func TestBrowserExpiredLink(t *testing.T) {
	d, bctx := browse(t, "-ttl", "1s")
	if code, body := do(t, "POST", d.base+"/api/invites/", "application/json", `{"userInvites":[{"email":"fay@example.com"}]}`); code != 200 {
		t.Fatalf("send = %d %s", code, body)
	}
	link := d.link(t, "fay@example.com")
	time.Sleep(1100 * time.Millisecond)
	landing(t, bctx, link, "landing-expired", "expired", "Invitation expired", "ask the person who invited you to send a new invitation", "")
}

// landing opens link and checks the page of a link that can no longer be
// used: its state, title, words, and the link onward (next, "" for none),
// with no form.
func landing(t *testing.T, tab context.Context, link, shot, state, title, words, next string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("title"))); err != nil {
		t.Fatalf("opening %s: %v", shot, err)
	}
	if got := pageState(t, tab); got != state {
		t.Errorf("%s: state %q, want %q", shot, got, state)
	}
	if got := text(t, tab, chromedp.ID("title")); got != title {
		t.Errorf("%s: title %q, want %q", shot, got, title)
	}
	if got := text(t, tab, chromedp.ID("message")); !strings.Contains(got, words) {
		t.Errorf("%s: %q does not say %q", shot, got, words)
	}
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#next, form').length`))
	if err != nil || (n == 1) != (next != "") {
		t.Errorf("%s: %d links onward or forms (%v), want the link %q only", shot, n, err, next)
	}
	if next != "" && !strings.Contains(text(t, tab, chromedp.ID("next")), next) {
		t.Errorf("%s: the link onward is not %q", shot, next)
	}
	shoot(t, tab, shot)
}

// pageState is the state the landing page shows (httpadapter.LandingState).
func pageState(t *testing.T, tab context.Context) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("landing")?.dataset.state ?? ""`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// location is the URL of the page tab shows.
func location(t *testing.T, tab context.Context) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// text is the visible text of the element sel.
func text[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("reading %v: %v", sel, err)
	}
	return s
}

// clickRow clicks the element of sel in a row of the list, finding and
// clicking it in one step of the page's own script: the list redraws its
// rows as it polls, and a node found by one call may be gone by the next.
func clickRow(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(() => { const b = document.querySelector(` + strconv.Quote(sel) + `); if (!b) return false; b.click(); return true; })()`)
}
