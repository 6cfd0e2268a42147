package httpadapter_test

import (
	"testing"

	"github.com/uptrace/bun"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/otelbench"
	"github.com/invitekit/invites/internal/testdb"
)

// BenchmarkHTTPObserver is BenchmarkHTTP's requests to three handlers on
// one database, their Services with no Observer (none), otelinvites on
// no-op providers (noop) and on the SDK (sdk), in rounds taking turns:
// none/noop and none/sdk are the ratios of none's requests per second to
// the others', the cost of the Observer. One worker, the sdk Service's,
// delivers the emails of all three, its attempt spans and measurements a
// load the three share. Run:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench HTTPObserver -benchtime 2000x -count 3 ./internal/e2e/httpadapter/
func BenchmarkHTTPObserver(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		benchObservers(b, testdb.SQLite(b))
	})
	b.Run("PostgreSQL", func(b *testing.B) {
		db := testdb.Postgres(b)
		db.SetMaxOpenConns(benchClients + 2)
		db.SetMaxIdleConns(benchClients + 2)
		benchObservers(b, db)
	})
}

func benchObservers(b *testing.B, db *bun.DB) {
	m, srv := benchMailer(b, db)
	var svc *invites.Service
	var sides []side
	for _, o := range otelbench.Sides(b) {
		s, ours := benchOurs(b, db, m, o.Observer)
		svc = s
		sides = append(sides, side{o.Name, ours.URL})
	}
	seedTenant(b, db, svc)
	benchWorker(b, svc)
	benchRoutes(b, sides, len(sides), srv)
}
