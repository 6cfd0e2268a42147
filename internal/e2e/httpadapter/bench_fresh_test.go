package httpadapter_test

import (
	"testing"

	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/bunstore"
)

// bulkInvites is how many ended invites BenchmarkHTTPNeverAnalyzed loads
// into each database before its listed tenant.
const bulkInvites = 100_000

// BenchmarkHTTPNeverAnalyzed compares ours on two PostgreSQL databases
// holding the same bulkInvites loaded invites (testdb.LoadEnded) and the
// same listed tenant: "fresh", whose tables were never analyzed
// (autovacuum off on them), as after a bulk load on a server whose
// autovacuum is off or lags behind, and "analyzed". Each runs its
// delivery worker, sending to one SMTP server. fresh/analyzed is the
// ratio of fresh's requests per second to analyzed's, in one run: a plan
// that holds only with statistics shows as a ratio well below 1. Run:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench HTTPNeverAnalyzed -benchtime 2000x ./internal/e2e/httpadapter/
func BenchmarkHTTPNeverAnalyzed(b *testing.B) {
	ctx := b.Context()
	srv := smtptest.New(b, smtptest.Options{})
	var sides []side
	for _, name := range []string{"fresh", "analyzed"} {
		db := testdb.Postgres(b)
		db.SetMaxOpenConns(benchClients + 2)
		db.SetMaxIdleConns(benchClients + 2)
		if err := bunstore.Migrate(ctx, db); err != nil {
			b.Fatal(err)
		}
		if err := testdb.NoAutovacuum(ctx, db); err != nil {
			b.Fatal(err)
		}
		if err := testdb.LoadEnded(ctx, db, bulkInvites); err != nil {
			b.Fatal(err)
		}
		m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: srv.Addr, From: "Acme <invites@acme.test>", TLS: mailer.TLSNone, PoolSize: 4})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { m.Close() })
		svc, ours := benchOurs(b, db, m, nil)
		if name == "analyzed" {
			seedTenant(b, db, svc)
		} else {
			sendSeed(b, svc)
		}
		benchWorker(b, svc)
		sides = append(sides, side{name, ours.URL})
	}
	benchRoutes(b, sides, len(sides), srv)
}
