package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvScreenshots names a directory for the browser tests' screenshots;
// without it they go to the test's temporary directory, removed after.
const EnvScreenshots = "INVITES_SCREENSHOTS"

func screenshots(t *testing.T) string {
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// widths are a desktop's and a phone's.
var widths = []struct {
	name   string
	w, h   int64
	mobile bool
}{{"1280", 1280, 900, false}, {"390", 390, 844, true}}

// shoot saves full-page screenshots of tab as name-1280.png and
// name-390.png, and checks at each width that nothing is wider than the
// screen and no button lies beyond its edge or its table's.
func shoot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := screenshots(t)
	for _, w := range widths {
		var opts []chromedp.EmulateViewportOption
		if w.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(w.w, w.h, opts...), chromedp.Sleep(100*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s at %s: %v", name, w.name, err)
		}
		file := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, w.name))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		wide, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
			if (document.documentElement.scrollWidth > innerWidth) return "the page scrolls sideways";
			const out = [...document.querySelectorAll("button, a.button")].find(b => {
				const right = b.getBoundingClientRect().right, table = b.closest("table");
				return right > innerWidth || (table && right > table.getBoundingClientRect().right + 1);
			});
			return out ? "a button lies beyond the edge of the screen or its table: " + out.textContent : "";
		})()`))
		if err != nil || wide != "" {
			t.Errorf("%s at %s px: %s (%v); see %s", name, w.name, wide, err, file)
		}
	}
	t.Logf("screenshots of %s in %s", name, dir)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(widths[0].w, widths[0].h)); err != nil {
		t.Fatal(err)
	}
}
