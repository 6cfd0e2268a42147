package invites

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/google/uuid"
)

// Forget: the right to erasure, an address's invites erased commit by
// commit, each leaving an EventForgotten.

// forgetBatch is how many invites one commit of Forget erases at most:
// an address may have any number of ended invites (with the address
// limit off), and one transaction deleting them all would hold its locks,
// and grow its write-ahead log, without bound.
const forgetBatch = 200

// Forget erases one person from the actor's tenant, as the right to
// erasure asks: every invite of email (compared as NormalizeEmail), in
// any status, with its tokens, queued emails and events. Each invite
// leaves one EventForgotten, which holds no address, so Config.OnEvent
// can tell the host to erase its own copies. It returns the IDs erased;
// none is not an error. An email already on its way may still arrive,
// but its link no longer works. On a store that is no UpkeepStore it
// answers an error wrapping ErrUnsupported, and erases nothing.
//
// email is not held to NewInvite.Email's rules, which may be stricter
// than those an invite was stored under (u@localhost, a Kelvin sign): any
// bare address reaches the invites stored under its NormalizeEmail form.
// The invites go in commits of at most 200, each invite whole; should one
// fail, those before it stay erased, their IDs come back with the error,
// and Forget can be called again for the rest.
//
// The sends the quotas count stay in the send ledger, which holds no
// address (see LedgerKey), until they are older than a day: erasing an
// address does not let anyone mail it again sooner.
func (s *Service) Forget(ctx context.Context, actor Actor, email string) (ids []uuid.UUID, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameForget, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err, Count: len(ids)}) }()
	if err := validActor(actor); err != nil {
		return nil, err
	}
	addr, err := anyEmail(email)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, OpForget, nil); err != nil {
		return nil, err
	}
	u, err := s.upkeep("Forget")
	if err != nil {
		return nil, err
	}
	fresh := 0 // the IDs erased by this call, not replayed
	defer func() {
		if fresh > 0 {
			s.committed(ctx, EventForgotten, fresh)
		}
	}()
	p := ForgetParams{TenantID: actor.TenantID, Email: NormalizeEmail(addr), ActorID: actor.UserID, Limit: forgetBatch}
	f := newFingerprint(OpNameForget)
	f.add(p.Email)
	key, err := s.guard(ctx, p.TenantID, actorScope(actor), s.cfg.Now(), f)
	if err != nil {
		return nil, err
	}
	// Until a commit finds none left: one that found fewer than Limit may
	// have lost some to a concurrent Prune, not reached the last. With a
	// key, each commit keeps its own IDs under the key and its number, so
	// a retry replays the commits made and goes on from the first not
	// made, and a key reused for another address is refused before
	// anything is erased.
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return ids, err
		}
		p.Now = s.cfg.Now()
		if key != nil {
			k := *key
			if n > 1 {
				k.Scope += "/forget-commit-" + strconv.Itoa(n)
			}
			p.Idempotency = &k
			p.Answer = func(ids []uuid.UUID) ([]byte, error) { return json.Marshal(ids) }
		}
		batch, err := u.Forget(ctx, p)
		if re := (*ReplayError)(nil); errors.As(err, &re) {
			batch, err = replayIDs(re.Answer)
		} else {
			fresh += len(batch)
		}
		ids = append(ids, batch...)
		if err != nil || len(batch) == 0 {
			return ids, err
		}
	}
}
