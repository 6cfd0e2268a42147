package invites

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Sender is who an email speaks for: the tenant's name and the inviter's
// display name, as the reader knows them. A host's Config.Sender looks
// them up (the inviter is inv.CreatedByUserID), since the library keeps
// no names but the invitee's: asked as each email leaves, they are the
// names of that day, and no inviter's name waits in the outbox.
type Sender struct {
	TenantName  string
	InviterName string
}

// DefaultSender is Config.Sender's default: the tenant ID as the tenant's
// name, the one name the library has, unless it is a UUID or breaks
// CheckName's rule (a domain such as acme.example), which would read as
// noise or as a link; then none, and the email says "the team". It
// names no inviter.
func DefaultSender(_ context.Context, inv Invite) (Sender, error) {
	if _, err := uuid.Parse(inv.TenantID); err == nil || CheckName("tenantName", inv.TenantID) != nil {
		return Sender{}, nil
	}
	return Sender{TenantName: inv.TenantID}, nil
}

// sender asks Config.Sender for the names of inv's email and holds them
// to CheckName's rule: a name that breaks it fails the email for good,
// since asking again gives the same.
func (s *Service) sender(ctx context.Context, inv Invite) (Sender, error) {
	n, err := s.cfg.Sender(ctx, inv)
	if err != nil {
		return Sender{}, fmt.Errorf("invites: Config.Sender: %w", err)
	}
	for _, f := range []struct{ field, v string }{{"tenantName", n.TenantName}, {"inviterName", n.InviterName}} {
		if err := CheckName(f.field, f.v); err != nil {
			return Sender{}, fmt.Errorf("invites: Config.Sender: %w: %w", ErrPermanent, err)
		}
	}
	return n, nil
}
