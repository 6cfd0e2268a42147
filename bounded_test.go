package invites

import (
	"context"
	"testing"
	"time"
)

// getStore answers Get at once: the cheapest call a store can make, so
// the bound's cost is all there is to see.
type getStore struct{ Store }

func (getStore) Get(context.Context, GetParams) (Invite, error) { return Invite{}, nil }

// BenchmarkStoreBound measures what Config.StoreTimeout's bound adds to
// one store call (a context with a deadline, a goroutine, a channel): the
// store's Get through the bound against the same Get called straight, in
// one run, as the ratio bounded/raw and the nanoseconds added per call,
// to set against a database's round trip (100 µs and more).
func BenchmarkStoreBound(b *testing.B) {
	raw := getStore{}
	bound := bounded{raw, DefaultStoreTimeout}
	ctx := b.Context()
	measure := func(s Store) time.Duration {
		start := time.Now()
		for range b.N {
			if _, err := s.Get(ctx, GetParams{}); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	r := measure(raw)
	d := measure(bound)
	b.ReportMetric(float64(d)/float64(r), "bounded/raw")
	b.ReportMetric(float64(d-r)/float64(b.N), "ns-added/op")
}
