package mailer_test

import (
	"context"
	"os"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer"
)

// Render an invitation with a host's subject line and names, in the
// template locale closest to the invite's (de-AT gets de), and print it
// with the development Writer.
func ExampleNewWriter() {
	r, err := mailer.NewRenderer(mailer.RenderConfig{
		// A host file replaces the embedded file of the same path.
		Templates: fstest.MapFS{"de/invitation.subject.tmpl": {
			Data: []byte(`{{.InviterName}} lädt dich zu {{.TenantName}} ein`)}},
		Extra: func(context.Context, invites.Message) (mailer.Extra, error) {
			return mailer.Extra{ProductName: "Acme Cloud", TenantName: "Acme", InviterName: "Alice"}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	sent := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	w, err := mailer.NewWriter(os.Stdout, mailer.WriterConfig{
		From:     "Acme <invites@acme.example>",
		Renderer: r,
		Now:      func() time.Time { return sent },
	})
	if err != nil {
		panic(err)
	}
	err = w.Send(context.Background(), invites.Message{
		ID:   "0190d5a4-0000-7000-8000-000000000001",
		Kind: invites.KindInvitation,
		Invite: invites.Invite{ID: uuid.MustParse("0190d5a4-0000-7000-8000-000000000002"),
			Email: "ann@example.com", FirstName: "Ann", Locale: "de-AT", ExpiresAt: sent.Add(7 * 24 * time.Hour)},
		AcceptURL: "https://app.example/accept?token=T",
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// ----- email <0190d5a4-0000-7000-8000-000000000001@acme.example> -----
	// From: "Acme" <invites@acme.example>
	// To: ann@example.com
	// Subject: Alice lädt dich zu Acme ein
	// Date: Wed, 02 Jan 2030 09:00:00 +0000
	// Message-ID: <0190d5a4-0000-7000-8000-000000000001@acme.example>
	// Content-Language: de
	//
	// Hallo Ann,
	//
	// Alice hat dich eingeladen, Acme auf Acme Cloud beizutreten.
	//
	// Einladung annehmen:
	// https://app.example/accept?token=T
	//
	// Der Link ist gültig bis 2030-01-09 09:00 UTC. Falls du diese Einladung nicht erwartet hast, kannst du diese E-Mail ignorieren.
	// ----- end <0190d5a4-0000-7000-8000-000000000001@acme.example> -----
}
