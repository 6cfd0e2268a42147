package invites_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// BenchmarkSend measures Send on memstore per batch size. allocs/invite
// counts every allocation of the run, the benchmark's own item building
// (one fmt.Sprintf per email) included.
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
				Tokens:    token.Issuer{},
				AcceptURL: func(t invites.Token) string { return t.Reveal() },
			})
			if err != nil {
				b.Fatal(err)
			}
			actor := invites.Actor{UserID: "u", TenantID: "t", Roles: []string{"member"}}
			items := make([]invites.NewInvite, size)
			b.ReportAllocs()
			n := 0
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for i := range items {
					items[i] = invites.NewInvite{Email: fmt.Sprintf("user%d@example.com", n), FirstName: "Ann"}
					n++
				}
				res, err := svc.Send(context.Background(), actor, items)
				if err != nil || len(res.Success) != size {
					b.Fatalf("Send: %d ok, %v", len(res.Success), err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/invite")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/invite")
		})
	}
}
