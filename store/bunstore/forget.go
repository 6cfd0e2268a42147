package bunstore

import (
	"context"
	"slices"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// Forget: an address's invites erased a commit at a time.

// Forget implements invites.UpkeepStore in one transaction: it deletes up to
// p.Limit of the address's invites, the first in invites_tenant_email_idx
// (which it reads in order, so a batch costs its own rows), then their
// events, and writes each one's EventForgotten. A row another write
// holds is waited for, never passed over: erasure must reach it.
func (s *Store) Forget(ctx context.Context, p invites.ForgetParams) (_ []uuid.UUID, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	var (
		ids  []uuid.UUID
		host error // from Answer: returned as it is
	)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		host = nil
		if err := takeKey(ctx, tx, p.Idempotency, p.Now); err != nil {
			return err
		}
		var err error
		del, args := "DELETE FROM invites WHERE tenant_id = ? AND email_norm = ? RETURNING id", []any{p.TenantID, p.Email}
		if p.Limit > 0 {
			del = `DELETE FROM invites WHERE id IN (SELECT id FROM invites WHERE tenant_id = ? AND email_norm = ?
				ORDER BY id LIMIT ?) RETURNING id`
			args = append(args, p.Limit)
		}
		ids, err = s.deleteInvites(ctx, tx, del, args...)
		if err != nil {
			return err
		}
		evs := make([]event, len(ids))
		for i, id := range ids {
			evs[i] = event{id, p.TenantID, invites.EventForgotten, p.ActorID, p.Now}
		}
		if err := writeEvents(ctx, tx, evs); err != nil {
			return err
		}
		return keepAnswer(ctx, tx, p.Idempotency, p.Answer, slices.Clone(ids), &host)
	})
	if err := keyedErr(host, err); err != nil {
		return nil, err
	}
	return ids, nil
}
