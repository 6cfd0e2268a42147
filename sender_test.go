package invites_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Config.Sender's names reach the Message; its default names the tenant
// by an ID that reads as a name, and nobody else.
func TestSenderNamesReachTheMessage(t *testing.T) {
	lookup := func(_ context.Context, inv invites.Invite) (invites.Sender, error) {
		return invites.Sender{TenantName: "Acme Corp", InviterName: "name of " + inv.CreatedByUserID}, nil
	}
	id := uuid.NewString()
	for _, c := range []struct {
		name        string
		sender      func(context.Context, invites.Invite) (invites.Sender, error)
		tenant      string
		tenantName  string
		inviterName string
	}{
		{"host", lookup, "acme", "Acme Corp", "name of u-admin"},
		{"default", nil, "acme", "acme", ""},
		{"default, UUID tenant", nil, id, "", ""},
		{"default, domain tenant", nil, "acme.example", "", ""},
	} {
		h := newHarness(t, func(cfg *invites.Config) { cfg.Sender = c.sender })
		actor := admin
		actor.TenantID = c.tenant
		h.send(actor, "n@example.com")
		if n := h.deliver(); n != 1 {
			t.Fatalf("%s: delivered %d", c.name, n)
		}
		msg, _ := h.mail.LastTo("n@example.com")
		if msg.TenantName != c.tenantName || msg.InviterName != c.inviterName {
			t.Errorf("%s: message names %q and %q, want %q and %q", c.name, msg.TenantName, msg.InviterName, c.tenantName, c.inviterName)
		}
	}
}

// An error of Config.Sender fails the attempt, to be retried; a name that
// breaks CheckName's rule fails the email for good. Neither reaches the
// Mailer.
func TestSenderFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		sender invites.Sender
		err    error
		status invites.DeliveryStatus
		reason string
	}{
		{"lookup failed", invites.Sender{}, errors.New("directory down"), invites.DeliveryQueued, "directory down"},
		{"link in tenant name", invites.Sender{TenantName: "Log in at evil.example"}, nil, invites.DeliveryFailed, "tenantName: contains a URL"},
		{"hidden character in inviter name", invites.Sender{InviterName: "Bo\u202e"}, nil, invites.DeliveryFailed, "inviterName: contains a control"},
	} {
		h := newHarness(t, func(cfg *invites.Config) {
			cfg.Sender = func(context.Context, invites.Invite) (invites.Sender, error) { return c.sender, c.err }
		})
		inv := h.send(admin, "f@example.com")[0]
		if n := h.deliver(); n != 0 || h.mail.Attempts() != 0 {
			t.Fatalf("%s: delivered %d, %d attempts reached the mailer", c.name, n, h.mail.Attempts())
		}
		if got := h.get(admin, inv); got.DeliveryStatus != c.status || !strings.Contains(got.DeliveryError, c.reason) {
			t.Errorf("%s: delivery %s %q, want %s with %q", c.name, got.DeliveryStatus, got.DeliveryError, c.status, c.reason)
		}
	}
}
