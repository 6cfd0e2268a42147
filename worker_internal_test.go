package invites

import (
	"context"
	"testing"
	"time"
)

// idleStore has nothing to deliver and no event to dispatch: a pass over
// it returns at once.
type idleStore struct{ Store }

func (idleStore) ClaimDeliveries(context.Context, ClaimParams) ([]Claim, error) { return nil, nil }
func (idleStore) ClaimEvents(context.Context, ClaimEventsParams) ([]Event, error) {
	return nil, nil
}

type idleMailer struct{}

func (idleMailer) Send(context.Context, Message) error { return nil }

// A pass that returns closes its own context as it ends: watch must take
// that for the pass's end, never for Config.PassTimeout running out. Both
// are ready at once when the pass is quicker than watch's select, which
// then picked either (one pass in about 20,000 reported an overrun).
func TestReturnedPassIsNoOverrun(t *testing.T) {
	svc, err := New(idleStore{}, idleMailer{}, Config{AcceptURL: func(Token) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	// The race needs a pass to end before watch reaches its select, which
	// happened about once in 5,000 passes: two seconds of passes saw it
	// more often than not before the fix (a thousand under -race's cost).
	end := time.Now().Add(2 * time.Second)
	for i := 0; i < 100_000 && time.Now().Before(end); i++ {
		if errs := svc.watch(t.Context(), false); errs.delivery != nil || errs.event != nil {
			t.Fatalf("pass %d: %v, %v", i, errs.delivery, errs.event)
		}
	}
}
