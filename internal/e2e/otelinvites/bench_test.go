package otelinvites_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/otelbench"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// roundInvites is about how many invites one side sends before the next
// takes a turn: a hundred Sends of one, one Send of a thousand.
const roundInvites = 100

// BenchmarkSend is the root package's BenchmarkSend (Send on memstore per
// batch size) with no Observer, otelinvites on no-op providers and on the
// SDK, in rounds taking turns, the side going first turning by round, so
// all see the same machine. b.N Sends go to each side. It reports each
// side's ns/invite, from its median round so a burst of other work on
// the machine does not count, and allocs/invite (the benchmark's own
// building of items included, as in the root's), and the ratios of the
// median rounds noop/none and sdk/none. Run:
//
//	go test -run '^$' -bench Send -count 3 ./internal/e2e/otelinvites/
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			sides := otelbench.Sides(b)
			sends := make([]func(n int), len(sides))
			for i, s := range sides {
				sends[i] = sender(b, s.Observer, size)
				sends[i](1) // warm up: the maps of memstore and the SDK's aggregates
			}
			round := max(1, roundInvites/size)
			rounds := make([][]time.Duration, len(sides))
			allocs := make([]uint64, len(sides))
			var before, after runtime.MemStats
			b.ResetTimer()
			for done := 0; done < b.N; done += round {
				n := min(round, b.N-done)
				for k := range sides {
					i := (done/round + k) % len(sides)
					runtime.ReadMemStats(&before)
					start := time.Now()
					sends[i](n)
					rounds[i] = append(rounds[i], time.Since(start)/time.Duration(n))
					runtime.ReadMemStats(&after)
					allocs[i] += after.Mallocs - before.Mallocs
				}
			}
			median := make([]float64, len(sides))
			for i, s := range sides {
				slices.Sort(rounds[i])
				median[i] = float64(rounds[i][len(rounds[i])/2].Nanoseconds()) / float64(size)
				b.ReportMetric(median[i], s.Name+"-ns/invite")
				b.ReportMetric(float64(allocs[i])/float64(b.N*size), s.Name+"-allocs/invite")
				if i > 0 {
					b.ReportMetric(median[i]/median[0], s.Name+"/none")
				}
			}
		})
	}
}

// sender returns a func running n Sends of size items on a Service of
// its own with obs.
func sender(b *testing.B, obs invites.Observer, size int) func(n int) {
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return t.Reveal() },
		Observer:  obs,
	})
	if err != nil {
		b.Fatal(err)
	}
	actor := invites.Actor{UserID: "u", TenantID: "t", Roles: []string{"member"}}
	items := make([]invites.NewInvite, size)
	email := 0
	return func(n int) {
		for range n {
			for i := range items {
				items[i] = invites.NewInvite{Email: fmt.Sprintf("user%d@example.com", email), FirstName: "Ann"}
				email++
			}
			res, err := svc.Send(context.Background(), actor, items)
			if err != nil || len(res.Success) != size {
				b.Fatalf("Send: %d ok, %v", len(res.Success), err)
			}
		}
	}
}
