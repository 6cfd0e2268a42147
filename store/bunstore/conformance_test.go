package bunstore_test

import (
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/storetest"
	"github.com/uptrace/bun"
)

// migrated returns a Store on db after migrating it, reading through
// testdb.Reader as a host would on SQLite.
func migrated(t testing.TB, db *bun.DB) *bunstore.Store {
	t.Helper()
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return bunstore.New(db, bunstore.WithReader(testdb.Reader(t, db)))
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invites.Store { return migrated(t, testdb.SQLite(t)) })
}

func TestConformancePostgres(t *testing.T) {
	testdb.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) invites.Store { return migrated(t, testdb.Postgres(t)) })
}
