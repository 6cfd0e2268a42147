package invites_test

import (
	"context"
	"fmt"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// OnEvent is told of each change after it committed, in order per invite,
// as a CRM sync or webhook would be; History reads the same events.
func ExampleConfig_onEvent() {
	ctx := context.Background()
	mail := mailertest.New()
	svc, _ := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "/accept?token=" + t.Reveal() },
		OnEvent: func(_ context.Context, e invites.Event) error {
			fmt.Printf("webhook: %s by %q\n", e.Type, e.ActorID)
			return nil
		},
	})
	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	res, _ := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}})
	_, _ = svc.DeliverPending(ctx)
	_, _ = svc.Accept(ctx, mail.TokenFor("bob@example.com"), invites.Acceptor{UserID: "bob"})
	_, _ = svc.DispatchEvents(ctx) // Service.Run does this in the background

	history, _ := svc.History(ctx, alice, res.Success[0].ID)
	fmt.Println("history:", len(history), "events")
	// Output:
	// webhook: created by "alice"
	// webhook: sent by ""
	// webhook: accepted by "bob"
	// history: 3 events
}
