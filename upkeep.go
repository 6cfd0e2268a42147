package invites

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
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
// the idempotency keys past Config.IdempotencyTTL, and the send ledger's
// rows older than the longest quota window (MinRetention), in small
// batches, and returns how much it deleted. Run calls it at each
// PollInterval. On a store that is no UpkeepStore it answers an error
// wrapping ErrUnsupported, and Run does not call it.
func (s *Service) Prune(ctx context.Context) (PruneResult, error) {
	var total PruneResult
	u, err := s.upkeep("Prune")
	if err != nil {
		return total, err
	}
	now := s.cfg.Now()
	p := PruneParams{Limit: pruneBatch, KeysBefore: now, SendsBefore: now.Add(-MinRetention)}
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
		r, err := u.Prune(ctx, p)
		total.Invites += r.Invites
		total.Events += r.Events
		total.Keys += r.Keys
		total.Sends += r.Sends
		if err != nil {
			return total, err
		}
		if r.Invites < p.Limit && r.Events < p.Limit && r.Keys < p.Limit && r.Sends < p.Limit {
			break
		}
	}
	return total, nil
}

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

// RecordBounce records that the email with Message-ID messageID bounced,
// as a mail provider's bounce webhook or a DSN reader learns it: its
// delivery fails for good with reason, the invite's DeliveryStatus becomes
// DeliveryFailed (when that was its latest email) and an EventBounced goes
// to Config.OnEvent. messageID is the header as sent (<id@domain>), with
// or without its angle brackets. When the Mailer is a MessageIDDomainer
// (the mailer package's are), the domain must be its domain, in any case;
// otherwise any domain, or the bare id (Message.ID), is taken. permanent
// says whether the provider called it hard (the address does not exist)
// or soft (a full mailbox, after the provider's own retries): both mean
// the email did not arrive, and the reason says which. A bounce told
// twice is recorded once. ErrNotFound when no delivery has that id.
//
// It takes no actor: the Message-ID is no secret (the recipient's
// server has it, and anyone it forwards the email to), so call it only
// from a caller the host has authenticated, such as a webhook whose
// signature it checked, and prefer RecordTenantBounce when that caller
// knows the tenant.
func (s *Service) RecordBounce(ctx context.Context, messageID string, permanent bool, reason string) error {
	return s.recordBounce(ctx, "", messageID, permanent, reason)
}

// RecordTenantBounce is RecordBounce for a caller that knows which tenant
// the email was sent for (a webhook per tenant, or one whose payload names
// it): a delivery of another tenant's invite is ErrNotFound, and nothing
// changes, so a Message-ID leaked from one tenant cannot fail another's
// email.
func (s *Service) RecordTenantBounce(ctx context.Context, tenantID, messageID string, permanent bool, reason string) error {
	if err := validID("tenantId", tenantID); err != nil {
		return err
	}
	return s.recordBounce(ctx, tenantID, messageID, permanent, reason)
}

// MessageIDDomainer is a Mailer that sends each email with the Message-ID
// <Message.ID@domain>, domain being what MessageIDDomain returns. A
// Service on such a Mailer takes a bounce only for a Message-ID of that
// domain. A Mailer that wraps another should pass the method on.
type MessageIDDomainer interface {
	Mailer
	MessageIDDomain() string
}

func (s *Service) recordBounce(ctx context.Context, tenantID, messageID string, permanent bool, reason string) (err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameRecordBounce})
	var inv Invite
	defer func() { end(OpResult{Err: err, InviteID: inv.ID}) }()
	var domain string
	if m, ok := s.mailer.(MessageIDDomainer); ok {
		domain = m.MessageIDDomain()
	}
	id, err := deliveryID(messageID, domain)
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
	inv, done, err := s.store.Bounce(ctx, BounceParams{Now: s.cfg.Now(), DeliveryID: id, Reason: reason, TenantID: tenantID})
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

// deliveryID reads the delivery's id out of a Message-ID, whose domain
// must be domain unless that is "".
func deliveryID(messageID, domain string) (uuid.UUID, error) {
	m := strings.TrimSpace(messageID)
	m = strings.TrimSuffix(strings.TrimPrefix(m, "<"), ">")
	m, got, found := strings.Cut(m, "@")
	if domain != "" && (!found || !strings.EqualFold(got, domain)) {
		return uuid.Nil, invalid("messageId", "is not of the domain %s the mailer sends from", domain)
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
