package bunstore

import "testing"

func TestDollars(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"SELECT 1", "SELECT 1"},
		{"a = ?0", "a = $1"},
		{"a = ?0 AND b = ?1 OR c = ?0", "a = $1 AND b = $2 OR c = $1"},
		{"x IN (?9, ?10, ?11)", "x IN ($10, $11, $12)"},
		{"a ? b", "a ? b"},
		{"?", "?"},
		{"?0?1", "$1$2"},
	} {
		if got := dollars(c.in); got != c.want {
			t.Errorf("dollars(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
