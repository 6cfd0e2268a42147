package mailertest

import (
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Sample returns a message of kind in locale as the Service hands one to
// a Mailer, with a fixed invite, expiry and token, for testing a Mailer or
// templates of your own.
func Sample(locale string, kind invites.MessageKind) invites.Message {
	return invites.Message{
		ID:   uuid.NewString(),
		Kind: kind,
		Invite: invites.Invite{
			ID: uuid.New(), TenantID: "acme", Email: "ann@example.test",
			FirstName: "Ann", LastName: "Lee", Locale: locale,
			ExpiresAt: time.Date(2030, 1, 9, 3, 4, 0, 0, time.UTC),
		},
		Token:     "tok",
		AcceptURL: "https://app.test/accept?token=tok",
	}
}
