package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/invitekit/invites/internal/testdb"
)

// chromium finds a Chromium to drive, or skips: .ci/run installs one and
// fails on the skip message.
func chromium(t *testing.T) string {
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

// browse starts the demo on a fresh SQLite file and a headless Chromium
// to drive it, both stopped when t ends.
func browse(t *testing.T) (demo, context.Context) {
	exe := chromium(t)
	d := start(t, "-db", filepath.Join(t.TempDir(), "demo.db"))
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
// invite, open the emailed link in a second tab, accept, and watch the
// list in the first tab show it accepted without a reload.
func TestBrowserSendAccept(t *testing.T) {
	d, bctx := browse(t)

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

	link := d.link(t, addr)
	tab, closeTab := chromedp.NewContext(bctx)
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("accept"))); err != nil {
		t.Fatalf("opening the link: %v", err)
	}
	if status := text(t, tab, chromedp.ID("status")); status != "pending" {
		t.Fatalf("landing page status = %q, want pending", status)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("accept")), chromedp.WaitVisible(chromedp.ID("outcome"))); err != nil {
		t.Fatalf("accepting: %v", err)
	}
	if outcome := text(t, tab, chromedp.ID("outcome")); outcome != "Invitation accepted" {
		t.Fatalf("outcome = %q", outcome)
	}

	// The send page, still open in the first tab, polls its way there.
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(row+" .status-accepted"))); err != nil {
		t.Fatalf("the list after accepting: %v", err)
	}
	if final := text(t, bctx, chromedp.CSS(row+" .status")); final != "accepted" {
		t.Fatalf("row status = %q, want accepted", final)
	}
}

// TestBrowserResendCancel clicks the list's buttons: a resend within the
// cooldown shows the API's refusal, and a cancel turns the row canceled,
// its buttons gone.
func TestBrowserResendCancel(t *testing.T) {
	d, bctx := browse(t)
	dave, erin := `tr[data-email="dave@example.com"]`, `tr[data-email="erin@example.com"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(d.base+"/"),
		chromedp.SendKeys(chromedp.ID("emails"), "dave@example.com, erin@example.com"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(dave+" button.resend")),
		chromedp.WaitVisible(chromedp.CSS(erin+" button.cancel")),
		chromedp.Click(chromedp.CSS(dave+" button.resend")),
		chromedp.Poll[chromedp.Void](`document.getElementById("list-msg").textContent.includes("dave@example.com")`),
	); err != nil {
		t.Fatalf("clicking resend: %v\n%s", err, d.out)
	}
	if msg := text(t, bctx, chromedp.ID("list-msg")); !strings.Contains(msg, "too recently") {
		t.Fatalf("resend within the cooldown shows %q, want the API's refusal", msg)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(erin+" button.cancel")),
		chromedp.WaitVisible(chromedp.CSS(erin+" .status-canceled")),
	); err != nil {
		t.Fatalf("clicking cancel: %v\n%s", err, d.out)
	}
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('`+erin+` button').length`))
	if err != nil || n != 0 {
		t.Fatalf("a canceled row has %d buttons (%v), want none", n, err)
	}
	if dst := text(t, bctx, chromedp.CSS(dave+" .status")); dst != "pending" {
		t.Fatalf("dave's row = %q after a refused resend, want pending", dst)
	}
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
