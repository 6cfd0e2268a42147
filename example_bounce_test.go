package invites_test

import (
	"context"
	"fmt"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// RecordBounce takes what a provider's bounce webhook says, after the
// host checked its signature: the email's Message-ID as sent. The invite's
// delivery reads failed, a bounced event is written, a hard bounce
// suppresses the address (a suppressed event, and a Send to it is refused),
// and a bounce told twice is recorded once.
func ExampleService_RecordBounce() {
	ctx := context.Background()
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	res, _ := svc.Send(ctx, alice, []invites.NewInvite{{Email: "nobody@example.com"}})
	_, _ = svc.DeliverPending(ctx)
	sent, _ := mail.LastTo("nobody@example.com")
	id := res.Success[0].ID

	messageID := "<" + sent.ID + "@app.example>" // the header the mailer sent
	for range 2 {
		err := svc.RecordBounce(ctx, messageID, true, "550 5.1.1 no such user")
		fmt.Println("bounce:", err)
	}
	inv, _ := svc.Get(ctx, alice, id)
	fmt.Println(inv.Status, "delivery", inv.DeliveryStatus)
	history, _ := svc.History(ctx, alice, id)
	for _, e := range history {
		fmt.Println(e.Type)
	}
	again, _ := svc.Send(ctx, alice, []invites.NewInvite{{Email: "nobody@example.com"}})
	fmt.Println("send again:", again.Errors[0].Code)
	// Output:
	// bounce: <nil>
	// bounce: <nil>
	// pending delivery failed
	// created
	// sent
	// bounced
	// suppressed
	// send again: suppressed
}
