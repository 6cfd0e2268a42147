package invites

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// pruneBatch is how many invites, and how many events, one Prune step
// deletes: small enough that a step holds its locks for milliseconds
// beside the sends, and a pass of Run stops after pruneSteps of them so
// it never falls far behind its deliveries; the next pass goes on.
const (
	pruneBatch = 200
	pruneSteps = 50
)

// Stats reads the health of the outbox and of the events' handling, and
// of Run in this process (LastPassAt, WorkerStalled). It fails, with the
// store's error, when the store cannot be reached, so it serves as a
// readiness check too.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	now := s.cfg.Now()
	st, err := s.store.Stats(ctx, StatsParams{Now: now})
	if err != nil {
		return st, err
	}
	s.worker.read(&st, now, 2*s.cfg.PassTimeout)
	return st, nil
}

// Prune deletes what Config.Retention and EventRetention keep no longer,
// in small batches, and returns how much it deleted. Run calls it at each
// PollInterval; without either setting it does nothing.
func (s *Service) Prune(ctx context.Context) (PruneResult, error) {
	var total PruneResult
	if s.cfg.Retention == 0 && s.cfg.EventRetention == 0 {
		return total, nil
	}
	p := PruneParams{Limit: pruneBatch}
	now := s.cfg.Now()
	if s.cfg.Retention > 0 {
		p.InvitesBefore = now.Add(-s.cfg.Retention)
	}
	if s.cfg.EventRetention > 0 {
		p.EventsBefore = now.Add(-s.cfg.EventRetention)
	}
	for range pruneSteps {
		if ctx.Err() != nil {
			break
		}
		r, err := s.store.Prune(ctx, p)
		total.Invites += r.Invites
		total.Events += r.Events
		if err != nil {
			return total, err
		}
		if r.Invites < p.Limit && r.Events < p.Limit {
			break
		}
	}
	return total, nil
}

// Forget erases one person from the actor's tenant, as the right to
// erasure asks: every invite of email (compared as NormalizeEmail), in
// any status, with its tokens, queued emails and events. Each invite
// leaves one EventForgotten, which holds no address, so Config.OnEvent
// can tell the host to erase its own copies. It returns the IDs erased;
// none is not an error. An email already on its way may still arrive,
// but its link no longer works.
//
// The sends the quotas count (MaxSendsPerAddressPerDay,
// MaxSendsPerInviterPerHour) go with the events, so whoever may Forget
// may invite that address again at once: keep OpForget to the tenant's
// administrators through Config.Authorize, which allows it to every
// actor of the tenant when unset.
func (s *Service) Forget(ctx context.Context, actor Actor, email string) (ids []uuid.UUID, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameForget, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err, Count: len(ids)}) }()
	if err := validActor(actor); err != nil {
		return nil, err
	}
	addr, err := validEmail(email)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, OpForget, nil); err != nil {
		return nil, err
	}
	ids, err = s.store.Forget(ctx, ForgetParams{Now: s.cfg.Now(), TenantID: actor.TenantID, Email: NormalizeEmail(addr), ActorID: actor.UserID})
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		s.committed(ctx, EventForgotten, len(ids))
	}
	return ids, nil
}

// RecordBounce records that the email with Message-ID messageID bounced,
// as a mail provider's bounce webhook or a DSN reader learns it: its
// delivery fails for good with reason, the invite's DeliveryStatus becomes
// DeliveryFailed (when that was its latest email) and an EventBounced goes
// to Config.OnEvent. messageID is the header as sent (<id@domain>), with
// or without its angle brackets, or the bare id (Message.ID). permanent
// says whether the provider called it hard (the address does not exist)
// or soft (a full mailbox, after the provider's own retries): both mean
// the email did not arrive, and the reason says which. A bounce told
// twice is recorded once. ErrNotFound when no delivery has that id.
//
// It takes no actor: the Message-ID is no secret (the recipient's
// server has it), so call it only from a caller the host has
// authenticated, such as a webhook whose signature it checked.
func (s *Service) RecordBounce(ctx context.Context, messageID string, permanent bool, reason string) (err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameRecordBounce})
	var inv Invite
	defer func() { end(OpResult{Err: err, InviteID: inv.ID}) }()
	id, err := deliveryID(messageID)
	if err != nil {
		return err
	}
	kind := "soft bounce"
	if permanent {
		kind = "hard bounce"
	}
	reason = strings.TrimSpace(strings.Map(printable, strings.ToValidUTF8(reason, "\uFFFD")))
	if reason == "" {
		reason = "no reason given"
	}
	reason = truncate(kind+": "+reason, MaxBounceReasonBytes)
	inv, done, err := s.store.Bounce(ctx, BounceParams{Now: s.cfg.Now(), DeliveryID: id, Reason: reason})
	if err != nil {
		return err
	}
	if done {
		s.committed(ctx, EventBounced, 1)
	}
	return nil
}

// printable keeps a bounce's reason, which the recipient's mail server
// wrote, to text fit to show the inviter: control characters become
// spaces, and format characters (bidi overrides, zero-width) go.
func printable(r rune) rune {
	switch {
	case unicode.IsControl(r):
		return ' '
	case unicode.Is(unicode.Cf, r):
		return -1
	}
	return r
}

// deliveryID reads the delivery's id out of a Message-ID.
func deliveryID(messageID string) (uuid.UUID, error) {
	m := strings.TrimSpace(messageID)
	m = strings.TrimSuffix(strings.TrimPrefix(m, "<"), ">")
	if at := strings.IndexByte(m, '@'); at >= 0 {
		m = m[:at]
	}
	if len(m) != 36 {
		return uuid.Nil, invalid("messageId", "does not name a delivery")
	}
	id, err := uuid.Parse(m)
	if err != nil {
		return uuid.Nil, invalid("messageId", "does not name a delivery")
	}
	return id, nil
}

// truncate cuts s to at most n bytes at a character's edge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
