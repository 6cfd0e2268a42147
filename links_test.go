package invites_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The docs move between files; these tests keep their relative links and
// anchors pointing somewhere, and every page of docs/ reachable from the
// README.

var (
	inlineLink = regexp.MustCompile(`\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	linkText   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// markdown is a page's relative link targets and its headings' anchors,
// outside fenced code.
type markdown struct {
	links   []string
	anchors []string
}

func parseMarkdown(text string) markdown {
	var md markdown
	seen := map[string]int{}
	fenced := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			s := slug(m[1])
			if n := seen[s]; n > 0 {
				md.anchors = append(md.anchors, fmt.Sprintf("%s-%d", s, n))
			} else {
				md.anchors = append(md.anchors, s)
			}
			seen[s]++
		}
		var targets []string
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			targets = append(targets, m[1])
		}
		if m := refLink.FindStringSubmatch(line); m != nil {
			targets = append(targets, m[1])
		}
		for _, t := range targets {
			if !scheme.MatchString(t) {
				md.links = append(md.links, t)
			}
		}
	}
	return md
}

// slug is GitHub's anchor of a heading: lower-cased, punctuation dropped
// (hyphens and underscores kept), spaces turned into hyphens. A link in
// the heading counts by its text.
func slug(h string) string {
	h = linkText.ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// brokenLinks returns the relative links of the Markdown file path whose
// file, or whose anchor in it, does not exist.
func brokenLinks(path string) ([]string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var broken []string
	for _, link := range parseMarkdown(string(text)).links {
		file, anchor, _ := strings.Cut(link, "#")
		target := path
		if file != "" {
			target = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
		}
		if _, err := os.Stat(target); err != nil {
			broken = append(broken, link+": no such file")
			continue
		}
		if anchor == "" {
			continue
		}
		page, err := os.ReadFile(target)
		if err != nil {
			broken = append(broken, link+": "+err.Error())
			continue
		}
		if !slices.Contains(parseMarkdown(string(page)).anchors, anchor) {
			broken = append(broken, link+": no such heading")
		}
	}
	return broken, nil
}

func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return pages
}

func TestLinksResolve(t *testing.T) {
	for _, path := range append([]string{"README.md"}, docPages(t)...) {
		broken, err := brokenLinks(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range broken {
			t.Errorf("%s: %s", path, b)
		}
	}
}

func TestLinksReadmeReachesEveryDoc(t *testing.T) {
	text, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, l := range parseMarkdown(string(text)).links {
		file, _, _ := strings.Cut(l, "#")
		linked[filepath.Clean(filepath.FromSlash(file))] = true
	}
	for _, page := range docPages(t) {
		if !linked[page] {
			t.Errorf("README.md links no %s", page)
		}
	}
}

func TestLinksChecker(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("other.md", "# Other\n\n## Safe retries (`Idempotency-Key`)\n\n## Notes\n\n## Notes\n")
	for _, tc := range []struct {
		name, text string
		broken     []string
	}{
		{"file and anchors", "[a](other.md) [b](other.md#safe-retries-idempotency-key) [c](other.md#notes-1)", nil},
		{"own anchor", "# Über uns: Team\n\n[x](#über-uns-team)", nil},
		{"absolute and mail", "[a](https://pkg.go.dev/x#y) [b](mailto:a@b.c)", nil},
		{"reference definition", "[a][r]\n\n[r]: other.md#nope", []string{"other.md#nope: no such heading"}},
		{"missing file", "see [gone](gone.md)", []string{"gone.md: no such file"}},
		{"missing anchor", "[a](other.md#notes-2)", []string{"other.md#notes-2: no such heading"}},
		{"missing own anchor", "# Title\n\n[a](#title-1)", []string{"#title-1: no such heading"}},
		{"in code, ignored", "```md\n[a](gone.md)\n```\n`[b](gone.md)`", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := brokenLinks(write("page.md", tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.broken) {
				t.Errorf("broken links %q, want %q", got, tc.broken)
			}
		})
	}
}
