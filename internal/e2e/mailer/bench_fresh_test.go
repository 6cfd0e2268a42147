package mailer_test

import (
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/uptrace/bun"
)

// BenchmarkDeliverEndToEndNeverAnalyzed is BenchmarkDeliverEndToEnd on
// two PostgreSQL databases that each hold the same 100,000 bulk-loaded
// invites (testdb.LoadEnded): "fresh", whose tables were never analyzed
// (autovacuum off on them), as after a bulk load on a server whose
// autovacuum is off or lags behind, and "analyzed", analyzed once the
// round's 10,000 invitations are queued. The two drain in turns, into one
// SMTP server. It reports each one's emails/s and fresh/analyzed, the
// ratio of the two rates, in one run. Run:
//
//	INVITES_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench DeliverEndToEndNeverAnalyzed -benchtime 2x ./internal/e2e/mailer/
func BenchmarkDeliverEndToEndNeverAnalyzed(b *testing.B) {
	const n, bulk = 10000, 100_000
	ctx := b.Context()
	srv := smtptest.New(b, smtptest.Options{})
	var (
		dbs  [2]*bun.DB
		svcs [2]*invites.Service
		caps [2]*capture
		took [2]time.Duration
	)
	for i := range dbs {
		dbs[i] = outboxDB(b, "PostgreSQL")
		if err := testdb.NoAutovacuum(ctx, dbs[i]); err != nil {
			b.Fatal(err)
		}
		if err := testdb.LoadEnded(ctx, dbs[i], bulk); err != nil {
			b.Fatal(err)
		}
		svcs[i], caps[i] = outboxService(b, dbs[i], srv)
	}
	for round := range b.N {
		for k := range dbs {
			i := (round + k) % len(dbs) // which goes first turns by round
			queue(b, svcs[i], round, n)
			if i == 1 {
				if err := testdb.Analyze(ctx, dbs[i]); err != nil {
					b.Fatal(err)
				}
			}
			srv.Reset()
			took[i] += drain(b, srv, dbs[i], n, svcs[i])
			caps[i].take()
		}
	}
	b.ReportMetric(float64(b.N*n)/took[0].Seconds(), "fresh-emails/s")
	b.ReportMetric(float64(b.N*n)/took[1].Seconds(), "analyzed-emails/s")
	b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "fresh/analyzed")
}
