package sqlitedb_test

import (
	"path/filepath"
	"testing"

	"github.com/invitekit/invites/store/bunstore/sqlitedb"
	"github.com/uptrace/bun"
)

// The writer and the readers run synchronous FULL (2) unless the host
// asks for NORMAL (1): a commit is on disk before it returns.
func TestSynchronous(t *testing.T) {
	tests := []struct {
		name string
		opts []sqlitedb.Option
		want int
	}{
		{"default", nil, 2},
		{"SynchronousNormal", []sqlitedb.Option{sqlitedb.SynchronousNormal()}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			w, err := sqlitedb.Open(path, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			r, err := sqlitedb.OpenReader(path, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for name, db := range map[string]*bun.DB{"Open": w, "OpenReader": r} {
				var got int
				if err := db.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("%s: synchronous = %d, want %d", name, got, tt.want)
				}
			}
		})
	}
}
