package invites_test

import (
	"context"
	"fmt"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// Config.Sender names the tenant and the inviter in each email, from the
// host's own records: here a map of tenants and one of users.
func ExampleConfig_sender() {
	ctx := context.Background()
	tenants := map[string]string{"acme": "Acme Corp"}
	users := map[string]string{"alice": "Alice Martin"}
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		Sender: func(_ context.Context, inv invites.Invite) (invites.Sender, error) {
			return invites.Sender{TenantName: tenants[inv.TenantID], InviterName: users[inv.CreatedByUserID]}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"admin"}}
	if _, err := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}}); err != nil {
		panic(err)
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		panic(err)
	}
	msg, _ := mail.LastTo("bob@example.com")
	fmt.Printf("%s invites you to %s\n", msg.InviterName, msg.TenantName)
	// Output:
	// Alice Martin invites you to Acme Corp
}
