package bunstore_test

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitekit/invites/store/bunstore"
)

// Migrate runs with standard_conforming_strings off (it checks the
// setting no more): its statements must read the same either way, so
// none holds a backslash.
func TestMigrationsHoldNoBackslash(t *testing.T) {
	err := fs.WalkDir(bunstore.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(bunstore.Migrations, path)
		if err == nil && strings.ContainsRune(path+string(b), '\\') {
			t.Errorf("%s holds a backslash, which PostgreSQL reads two ways", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every statement of the store with values goes through on (safe.go),
// which writes them as escape strings, or is prepared with its values
// bound (prepared.go): a call of ExecContext, QueryContext or
// QueryRowContext on anything else would let bun inline them its own way.
func TestStatementsRunThroughOn(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "safe.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "ExecContext" && sel.Sel.Name != "QueryContext" && sel.Sel.Name != "QueryRowContext") {
				return true
			}
			if bound(sel.X) {
				return true
			}
			t.Errorf("%s: %s runs on %s, not through on(...) or a prepared statement", fset.Position(call.Pos()), sel.Sel.Name, expr(sel.X))
			return true
		})
	}
}

// bound reports whether x is on(...), or a prepared statement: st, or
// StmtContext(...).
func bound(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.CallExpr:
		switch f := x.Fun.(type) {
		case *ast.Ident:
			return f.Name == "on"
		case *ast.SelectorExpr:
			return f.Sel.Name == "StmtContext"
		}
	case *ast.Ident:
		return x.Name == "st"
	}
	return false
}

// expr renders x for a message.
func expr(x ast.Expr) string {
	var b strings.Builder
	printer.Fprint(&b, token.NewFileSet(), x)
	return b.String()
}
