package invites

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// RecordBounce and RecordTenantBounce: a bounce a mail provider reports,
// its Message-ID checked and its reason cleaned, failing the delivery for
// good and, when hard, suppressing the address (suppress.go).

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
// the email did not arrive, and the reason says which. A hard bounce also
// suppresses the address for the invite's tenant (an EventSuppressed; see
// Unsuppress), in a commit after the bounce's, so a bounce told again
// (by a provider retrying a webhook that failed) completes one whose
// suppression failed. A bounce told twice is recorded once. ErrNotFound
// when no delivery has that id.
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
	kind := "soft bounce"
	if permanent {
		kind = "hard bounce"
	}
	id, reason, err := s.notice(messageID, kind, reason)
	if err != nil {
		return err
	}
	inv, recorded, err := s.store.Bounce(ctx, BounceParams{Now: s.cfg.Now(), DeliveryID: id, Reason: reason, TenantID: tenantID})
	if err != nil {
		return err
	}
	if recorded {
		s.committed(ctx, EventBounced, 1)
	}
	if permanent {
		return s.suppress(ctx, SuppressParams{DeliveryID: id, Reason: reason, TenantID: tenantID})
	}
	return nil
}

// notice reads the delivery's id out of the Message-ID of a provider's
// notice and cleans its reason, prefixed with kind.
func (s *Service) notice(messageID, kind, reason string) (uuid.UUID, string, error) {
	var domain string
	if m, ok := s.mailer.(MessageIDDomainer); ok {
		domain = m.MessageIDDomain()
	}
	id, err := deliveryID(messageID, domain)
	if err != nil {
		return uuid.Nil, "", err
	}
	reason = strings.TrimSpace(strings.Map(printable, strings.ToValidUTF8(reason, "\uFFFD")))
	if reason == "" {
		reason = "no reason given"
	}
	return id, truncate(kind+": "+reason, MaxBounceReasonBytes), nil
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
