// Package clientgen holds no code: its test generates the clients hosts
// generate from httpadapter's OpenAPI document (Go with oapi-codegen,
// TypeScript with openapi-typescript for openapi-fetch) and proves that
// they build, type-check and drive the whole lifecycle. Nothing generated
// is kept: each run writes to a temporary directory.
package clientgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// The generator versions hosts are told to use; bump them here and in
// testdata/ts/package.json together with docs/http.md.
const (
	oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"
	// oapiRuntime is the module the generated Go client imports.
	oapiRuntime = "github.com/oapi-codegen/runtime@v1.9.0"
)

// servedDocument is the document as the handler serves it.
func servedDocument(t *testing.T) []byte {
	t.Helper()
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "https://app.test/accept#" + tok.Reveal() },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(*http.Request) (invites.Actor, error) { return invites.Actor{}, errors.New("none") },
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	doc, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d %v", res.StatusCode, err)
	}
	return doc
}

// unavailable stops a test whose tool cannot be had: a failure in CI
// (CI=true), where every check must run, and a skip elsewhere.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := "client generation skipped: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// run runs a command in dir, returning its combined output.
func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs a step that can only fail on the document or the clients,
// and returns its output.
func must(t *testing.T, ctx context.Context, dir string, name string, args ...string) string {
	t.Helper()
	out, err := run(ctx, dir, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoClient generates the Go client at oapi-codegen's default settings
// into a throwaway module that replaces this one with the work tree, and
// runs testdata/lifecycle_test.go.txt through it against the handler:
// the invites' lifecycle and the links'.
func TestGoClient(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("generates and builds a client")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if out, err := run(ctx, dir, []string{"GOBIN=" + bin}, "go", "install", oapiCodegen); err != nil {
		unavailable(t, "go install %s: %v\n%s", oapiCodegen, err, out)
	}
	mod := filepath.Join(dir, "mod")
	pkg := filepath.Join(mod, "client")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod := fmt.Sprintf("module clientcheck\n\ngo 1.26.0\n\nrequire github.com/invitekit/invites v0.0.0\n\nreplace github.com/invitekit/invites => %s\n", root)
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(mod, "go.sum"))
	if out, err := run(ctx, mod, nil, "go", "get", oapiRuntime); err != nil {
		unavailable(t, "go get %s: %v\n%s", oapiRuntime, err, out)
	}
	spec := filepath.Join(dir, "openapi.yaml")
	if err := os.WriteFile(spec, servedDocument(t), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, ctx, mod, filepath.Join(bin, "oapi-codegen"), "-generate", "types,client", "-package", "client",
		"-o", filepath.Join(pkg, "client.gen.go"), spec)
	copyFile(t, "testdata/lifecycle_test.go.txt", filepath.Join(pkg, "lifecycle_test.go"))
	must(t, ctx, mod, "go", "mod", "tidy")
	must(t, ctx, mod, "go", "vet", "./...")
	out := must(t, ctx, mod, "go", "test", "-count=1", "-v", "./...")
	for _, name := range []string{"TestLifecycle", "TestLinks"} {
		if !strings.Contains(out, "--- PASS: "+name+" ") {
			t.Fatalf("%s did not run:\n%s", name, out)
		}
	}
}

// TestTypeScriptClient generates types with openapi-typescript and
// type-checks testdata/ts/check.ts, which calls the API through
// openapi-fetch, with tsc. The packages come pinned from
// testdata/ts/package-lock.json.
func TestTypeScriptClient(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("installs npm packages")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := exec.LookPath("npm"); err != nil {
		unavailable(t, "npm is not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "tsconfig.json", "check.ts"} {
		copyFile(t, filepath.Join("testdata/ts", f), filepath.Join(dir, f))
	}
	if out, err := run(ctx, dir, nil, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
		unavailable(t, "npm ci: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), servedDocument(t), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, ctx, dir, "npx", "--no-install", "openapi-typescript", "openapi.yaml", "-o", "schema.d.ts")
	must(t, ctx, dir, "npx", "--no-install", "tsc", "--noEmit", "-p", ".")
}
