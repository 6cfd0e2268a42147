package bunstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
)

// A Store says at its first use whether its pool will churn connections,
// and says it once.
func TestPoolChurnLogged(t *testing.T) {
	db := testdb.Postgres(t)
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		maxOpen, idle int
		want          string
	}{
		{"kept", 8, 8, ""},
		{"default idle", 8, 2, "keeps fewer idle connections"},
		{"unbounded", 0, 8, "no bound on open connections"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db.SetMaxOpenConns(c.maxOpen)
			db.SetMaxIdleConns(c.idle)
			var buf syncbuf.Buffer
			s := bunstore.New(db, bunstore.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
			for range 3 {
				if _, err := s.Get(t.Context(), invites.GetParams{TenantID: "acme", ID: uuid.New()}); !errors.Is(err, invites.ErrNotFound) {
					t.Fatalf("Get: %v", err)
				}
			}
			got := buf.String()
			switch {
			case c.want == "" && got != "":
				t.Fatalf("a pool that keeps its connections logged: %s", got)
			case c.want != "" && strings.Count(got, c.want) != 1:
				t.Fatalf("log = %q, want one line saying %q", got, c.want)
			}
		})
	}
}
