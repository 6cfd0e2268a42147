package bunstore_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/bunstore/sqlitedb"
	"github.com/invitekit/invites/token"
)

// BenchmarkSQLiteSynchronous prices sqlitedb's default synchronous(FULL)
// against SynchronousNormal, each on its own file, taking turns within
// each iteration so both see the same machine; full/normal is the ratio.
//
//   - send: Service.Send of one invite (one commit);
//   - accept: Service.Accept of a mailed token (one commit);
//   - deliver: 50 Sends of one invite each, as users of a web app send
//     them, then DeliverPending through SMTP to the in-process server,
//     which claims them, mails them and records their outcomes (a pass
//     lingers up to 100 ms for outcomes to record together, in both).
//
// Run: go test -run '^$' -bench SQLiteSynchronous -benchtime 200x ./internal/e2e/bunstore/
func BenchmarkSQLiteSynchronous(b *testing.B) {
	srv := smtptest.New(b, smtptest.Options{})
	open := func(b *testing.B, name string, m invites.Mailer, opts ...sqlitedb.Option) *invites.Service {
		db, err := sqlitedb.Open(filepath.Join(b.TempDir(), name+".db"), opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := bunstore.Migrate(b.Context(), db); err != nil {
			b.Fatal(err)
		}
		svc, err := invites.New(bunstore.New(db), m, invites.Config{
			Tokens:    token.Issuer{},
			AcceptURL: func(t invites.Token) string { return "https://app.test/accept?token=" + t.Reveal() },
			Logger:    slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		return svc
	}
	actor := invites.Actor{UserID: "admin", TenantID: "acme", Roles: []string{"member"}}
	send := func(b *testing.B, svc *invites.Service, email string) {
		if res, err := svc.Send(b.Context(), actor, []invites.NewInvite{{Email: email}}); err != nil || len(res.Success) != 1 {
			b.Fatalf("Send: %+v, %v", res, err)
		}
	}
	sides := []struct {
		name string
		opts []sqlitedb.Option
	}{{"full", nil}, {"normal", []sqlitedb.Option{sqlitedb.SynchronousNormal()}}}

	b.Run("send", func(b *testing.B) {
		var ops [2]func(i int)
		for k, s := range sides {
			svc := open(b, s.name, mailertest.New(), s.opts...)
			ops[k] = func(i int) { send(b, svc, fmt.Sprintf("u%d@x.test", i)) }
		}
		abTurns(b, ops)
	})

	b.Run("accept", func(b *testing.B) {
		var ops [2]func(i int)
		for k, s := range sides {
			mail := mailertest.New()
			svc := open(b, s.name, mail, s.opts...)
			n := warmup + b.N
			items := make([]invites.NewInvite, n)
			for i := range items {
				items[i] = invites.NewInvite{Email: fmt.Sprintf("u%d@x.test", i)}
			}
			for i := 0; i < n; i += invites.DefaultMaxBatch {
				if res, err := svc.Send(b.Context(), actor, items[i:min(n, i+invites.DefaultMaxBatch)]); err != nil || len(res.Errors) > 0 {
					b.Fatal(err, res.Errors)
				}
			}
			for sent := 0; sent < n; {
				d, err := svc.DeliverPending(b.Context())
				if err != nil || d == 0 {
					b.Fatalf("delivered %d of %d: %v", sent, n, err)
				}
				sent += d
			}
			ops[k] = func(i int) {
				inv, err := svc.Accept(b.Context(), mail.TokenFor(fmt.Sprintf("u%d@x.test", i)), invites.Acceptor{UserID: "user"})
				if err != nil || inv.Status != invites.StatusAccepted {
					b.Fatalf("Accept: %v", err)
				}
			}
		}
		abTurns(b, ops)
	})

	b.Run("deliver", func(b *testing.B) {
		const perDeliver = 50
		m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: srv.Addr, From: "Acme <invites@acme.test>", TLS: mailer.TLSNone})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		var ops [2]func(i int)
		for k, s := range sides {
			svc := open(b, s.name, m, s.opts...)
			ops[k] = func(i int) {
				for j := range perDeliver {
					send(b, svc, fmt.Sprintf("u%d-%d@x.test", i, j))
				}
				if d, err := svc.DeliverPending(b.Context()); err != nil || d != perDeliver {
					b.Fatalf("delivered %d: %v", d, err)
				}
			}
		}
		abTurns(b, ops)
	})
}

// warmup is how many untimed rounds abTurns runs first, as the store's
// own benchmarks do: pools connect and caches fill before the clock runs.
const warmup = 10

// abTurns runs full(i) and normal(i) in turn, b.N times after warmup
// untimed rounds, and reports each one's time per op and their ratio.
func abTurns(b *testing.B, ops [2]func(i int)) {
	for i := range warmup {
		ops[0](i)
		ops[1](i)
	}
	var d [2]time.Duration
	b.ResetTimer()
	for i := warmup; i < warmup+b.N; i++ {
		for k, op := range ops {
			t := time.Now()
			op(i)
			d[k] += time.Since(t)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(d[0].Microseconds())/float64(b.N), "full-µs/op")
	b.ReportMetric(float64(d[1].Microseconds())/float64(b.N), "normal-µs/op")
	b.ReportMetric(float64(d[0])/float64(d[1]), "full/normal")
}
