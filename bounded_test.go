package invites

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
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

// upkeepStub is a Store that is an UpkeepStore whose Prune and Forget
// wait for their context to end, as a store that never answers.
type upkeepStub struct{ Store }

func (upkeepStub) Prune(ctx context.Context, _ PruneParams) (PruneResult, error) {
	<-ctx.Done()
	return PruneResult{}, ctx.Err()
}

func (upkeepStub) Forget(ctx context.Context, _ ForgetParams) ([]uuid.UUID, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// The bound shows UpkeepStore exactly when the store has it, and bounds
// its calls as the rest.
func TestBoundKeepsUpkeep(t *testing.T) {
	if _, ok := bound(getStore{}, time.Millisecond).(UpkeepStore); ok {
		t.Fatal("a store without UpkeepStore is one once bounded")
	}
	u, ok := bound(upkeepStub{}, time.Millisecond).(UpkeepStore)
	if !ok {
		t.Fatal("an UpkeepStore is none once bounded")
	}
	for name, call := range map[string]func() error{
		"Prune":  func() error { _, err := u.Prune(t.Context(), PruneParams{}); return err },
		"Forget": func() error { _, err := u.Forget(t.Context(), ForgetParams{}); return err },
	} {
		if err := call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s past the bound = %v; want ErrUnavailable", name, err)
		}
	}
}
