package invites

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// What the delivery passes of one Service share while the store is away:
// the claims whose reply was lost, released before the next claim (settle),
// and the count of outcomes still waiting to be recorded.

// outbox is what the delivery passes of one Service share, so that none
// sends an email twice after the store was away:
//
//   - A claim whose reply was lost (the connection dropped, a deadline
//     passed) may have committed: its deliveries would wait out the
//     lease. Its ClaimID and digests are kept, and released
//     (Store.ReleaseClaim) before the next claim, as soon as the store
//     answers again. Releasing beats re-reading them to send with the
//     tokens this worker still holds: a release is one statement through
//     the tokens' primary key and the next claim is the ordinary one,
//     which sees the invite as it is now (canceled meanwhile, say); the
//     tokens of the lost claim, which no email carried, are forgotten.
//   - While outcomes of sent emails wait for the store (a pass keeps them
//     and renews their leases until they are recorded), no pass claims:
//     a lease that ran out during the outage would let a claim take, and
//     send again, an email whose outcome is about to be recorded.
type outbox struct {
	mu        sync.Mutex
	unsettled []ReleaseParams
	// behind counts the groups of outcomes whose recording failed and
	// that are still kept.
	behind atomic.Int64
}

// errBehind stops a claim while outcomes wait for the store.
var errBehind = fmt.Errorf("invites: outcomes of sent emails wait for the store: %w", ErrUnavailable)

// settleFinal bounds the release a stopping pass makes of the claims
// whose reply was lost.
const settleFinal = 2 * time.Second

// unsettle keeps a claim whose reply was lost, to release it later.
func (o *outbox) unsettle(r ReleaseParams) {
	o.mu.Lock()
	o.unsettled = append(o.unsettled, r)
	o.mu.Unlock()
}

// settle releases the claims whose reply was lost. It keeps those it
// could not release and returns the error, so no claim is made until the
// store answers: the claims kept are never more than the passes that
// claim side by side.
func (s *Service) settle(ctx context.Context) error {
	o := &s.outbox
	o.mu.Lock()
	todo := o.unsettled
	o.unsettled = nil
	o.mu.Unlock()
	for i, r := range todo {
		n, err := s.store.ReleaseClaim(ctx, r)
		if err != nil {
			o.mu.Lock()
			o.unsettled = append(o.unsettled, todo[i:]...)
			o.mu.Unlock()
			return err
		}
		if n > 0 {
			s.cfg.Logger.InfoContext(ctx, "invites: released the deliveries of a claim whose reply was lost",
				"claim", r.ClaimID, "deliveries", n)
		}
	}
	return nil
}
