package invites_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's quick start is an excerpt of examples/quickstart/main.go,
// which CI builds: the excerpt must stay the file's own lines (one tab
// less, as they sit in a function), so it always compiles as shown.
func TestReadmeQuickStartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Quick start\n.*?```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no Go block under Quick start")
	}
	var file strings.Builder
	for line := range strings.Lines(string(src)) {
		file.WriteString(strings.TrimPrefix(line, "\t"))
	}
	if excerpt := string(m[1]); len(excerpt) < 200 || !strings.Contains(file.String(), excerpt) {
		t.Fatalf("README.md's quick start is not an excerpt of examples/quickstart/main.go:\n%s", excerpt)
	}
}
