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
	"github.com/uptrace/bun"
)

// firstUseLog returns what a new Store on db logs through three calls.
func firstUseLog(t *testing.T, db *bun.DB) string {
	t.Helper()
	var buf syncbuf.Buffer
	s := bunstore.New(db, bunstore.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	for range 3 {
		if _, err := s.Get(t.Context(), invites.GetParams{TenantID: "acme", ID: uuid.New()}); !errors.Is(err, invites.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
	}
	return buf.String()
}

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
			got := firstUseLog(t, db)
			switch {
			case c.want == "" && got != "":
				t.Fatalf("a pool that keeps its connections logged: %s", got)
			case c.want != "" && strings.Count(got, c.want) != 1:
				t.Fatalf("log = %q, want one line saying %q", got, c.want)
			}
		})
	}
}

// A Store says at its first use, once, when its pool's connection
// attempts have no deadline, which a network that swallows one turns into
// a pool that serves no call again (see TestPoolRecoversFromSwallowedDial
// in the root package).
func TestUnboundedDialLogged(t *testing.T) {
	db := testdb.Postgres(t)
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		timeout string
		lines   int // saying the attempts have no deadline
	}{
		{"2", 0},
		{"0", 1},
	} {
		t.Run("connect_timeout="+c.timeout, func(t *testing.T) {
			dsn, err := testdb.WithParams(testdb.SchemaDSN(t, testdb.Schema(t, db)), "connect_timeout", c.timeout)
			if err != nil {
				t.Fatal(err)
			}
			pool, err := testdb.OpenPostgres(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			pool.SetMaxOpenConns(2)
			pool.SetMaxIdleConns(2)
			if got := firstUseLog(t, pool); strings.Count(got, "no deadline") != c.lines {
				t.Fatalf("log = %q, want %d lines saying the attempts have no deadline", got, c.lines)
			}
		})
	}
}
