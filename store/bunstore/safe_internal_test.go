package bunstore

import (
	"errors"
	"testing"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// format writes each text, bytea and JSON value as an escape string, the
// same to PostgreSQL whatever its standard_conforming_strings, and
// refuses NUL.
func TestFormatEscapeStrings(t *testing.T) {
	for _, c := range []struct {
		q    string
		args []any
		want string
	}{
		{"a = ?", []any{`x\`}, `a = E'x\\'`},
		{"a IN (?, ?)", []any{`x\'`, `) OR true --`}, `a IN (E'x\\''', E') OR true --')`},
		{"a = ?", []any{`$tag$ ' /* ? ?0`}, `a = E'$tag$ '' /* ? ?0'`},
		{"a = ?", []any{[]byte{0, '\\', '\''}}, `a = E'\\x005c27'`},
		{"a = ?", []any{jsonText(`{"k\\"": "v'"}`)}, `a = E'{"k\\\\"": "v''"}'`},
		{"a = ? AND b = ?", []any{textArray{`\`, "'"}, roleList{`\`}}, `a = ARRAY[E'\\', E'''']::text[] AND b = E'["\\\\"]'`},
		{"a = ?", []any{bun.Safe("no'quoting")}, `a = no'quoting`},
		{"SET LOCAL x = 1", nil, "SET LOCAL x = 1"},
	} {
		got, err := format(c.q, c.args)
		if err != nil || got != c.want {
			t.Errorf("format(%q, %q) = %s, %v; want %s", c.q, c.args, got, err, c.want)
		}
	}
	for _, v := range []any{"a\x00b", textArray{"\x00"}, jsonText("\"\x00\"")} {
		if _, err := format("a = ?", []any{v}); !errors.Is(err, invites.ErrInvalidInput) {
			t.Errorf("format of %q = %v, want ErrInvalidInput", v, err)
		}
	}
}
