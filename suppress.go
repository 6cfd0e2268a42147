package invites

import (
	"context"
	"errors"
)

// The suppression list: a hard bounce (bounce.go) or a complaint
// suppresses an address, Send and Resend refuse it in the store's
// transaction (InsertResult.Suppressed, Facts.Suppressed), and an
// administrator lifts it. The store keeps each under the address's
// SuppressionKey, never the address, so Forget does not lift it.

// RecordComplaint records that the recipient of the email with Message-ID
// messageID complained (marked it as spam), as a mail provider's
// complaint webhook learns it: the address is suppressed for every tenant,
// as providers suppress it for the whole account, and an EventSuppressed
// goes to Config.OnEvent. The email arrived: its delivery stays as it is.
// messageID is taken as by RecordBounce, and with its caveat: call it only
// from a caller the host has authenticated. A complaint told twice is
// recorded once. ErrNotFound when no delivery has that id.
func (s *Service) RecordComplaint(ctx context.Context, messageID, reason string) error {
	return s.recordComplaint(ctx, "", messageID, reason)
}

// RecordTenantComplaint is RecordComplaint for a caller that knows which
// tenant the email was sent for, as RecordTenantBounce: a delivery of
// another tenant's invite is ErrNotFound, and nothing changes.
func (s *Service) RecordTenantComplaint(ctx context.Context, tenantID, messageID, reason string) error {
	if err := validID("tenantId", tenantID); err != nil {
		return err
	}
	return s.recordComplaint(ctx, tenantID, messageID, reason)
}

func (s *Service) recordComplaint(ctx context.Context, tenantID, messageID, reason string) (err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameRecordComplaint})
	defer func() { end(OpResult{Err: err}) }()
	id, reason, err := s.notice(messageID, "complaint", reason)
	if err != nil {
		return err
	}
	return s.suppress(ctx, SuppressParams{DeliveryID: id, Reason: reason, TenantID: tenantID, AllTenants: true})
}

// suppress stores p, keyed and dated now.
func (s *Service) suppress(ctx context.Context, p SuppressParams) error {
	key, err := s.keyed(ctx, SuppressionKey)
	if err != nil {
		return err
	}
	p.Now, p.SuppressionKey = s.cfg.Now(), key
	_, suppressed, err := s.store.Suppress(ctx, p)
	if err == nil && suppressed {
		s.committed(ctx, EventSuppressed, 1)
	}
	return err
}

// Unsuppress lifts the suppression of email in the actor's tenant, after
// the address bounced for good or its recipient complained and the host
// learned it may be mailed again (the mailbox was made, the complaint was
// a mistake): an EventUnsuppressed goes to Config.OnEvent, on the invite
// whose email caused the suppression. Config.Authorize is asked about
// OpUnsuppress; allow it to administrators only. It reports whether it
// lifted one: false when the tenant has none of the address, so a retry
// changes nothing. A complaint made to another tenant's email suppresses
// the address for every tenant, and only that tenant lifts it. email is
// taken as by Forget (any bare address, compared as NormalizeEmail), and
// only its SuppressionKey reaches the store, which never holds the
// address.
func (s *Service) Unsuppress(ctx context.Context, actor Actor, email string) (lifted bool, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameUnsuppress, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err}) }()
	if err := validActor(actor); err != nil {
		return false, err
	}
	addr, err := anyEmail(email)
	if err != nil {
		return false, err
	}
	if err := s.authorize(ctx, actor, OpUnsuppress, nil); err != nil {
		return false, err
	}
	key, err := s.keyed(ctx, SuppressionKey)
	if err != nil {
		return false, err
	}
	err = s.store.Unsuppress(ctx, UnsuppressParams{Now: s.cfg.Now(), TenantID: actor.TenantID,
		Key: key(NormalizeEmail(addr)), ActorID: actor.UserID})
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	s.committed(ctx, EventUnsuppressed, 1)
	return true, nil
}
