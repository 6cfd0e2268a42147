package invites_test

import (
	"context"
	"fmt"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// The whole lifecycle on the in-memory fakes, as a host's unit test would
// run it: send a batch with one bad item, deliver, take the token from the
// recorded email, accept, and list.
func Example() {
	ctx := context.Background()
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"admin"}}

	res, err := svc.Send(ctx, alice, []invites.NewInvite{
		{Email: "bob@example.com", FirstName: "Bob"},
		{Email: "not an address"},
	})
	if err != nil {
		panic(err)
	}
	for _, inv := range res.Success {
		fmt.Println("invited", inv.Email, inv.Roles, inv.Status)
	}
	for _, e := range res.Errors {
		fmt.Println("refused item", e.Index, e.Code)
	}

	sent, _ := svc.DeliverPending(ctx)
	fmt.Println("emails sent:", sent)

	tok := mail.TokenFor("bob@example.com")
	inv, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "bob"})
	if err != nil {
		panic(err)
	}
	fmt.Println(inv.Email, inv.Status, "by", inv.AcceptedByUserID)

	page, _ := svc.List(ctx, alice, invites.Query{Statuses: []invites.Status{invites.StatusAccepted}})
	fmt.Println("accepted invites:", page.TotalCount)
	// Output:
	// invited bob@example.com [admin] pending
	// refused item 1 invalid_email
	// emails sent: 1
	// bob@example.com accepted by bob
	// accepted invites: 1
}

// Expiry follows Config.Now, so a test moves the clock instead of sleeping.
func ExampleService_Accept_expired() {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mail := mailertest.New()
	svc, _ := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "/accept?token=" + t.Reveal() },
		TTL:       24 * time.Hour,
		Now:       func() time.Time { return now },
	})
	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	_, _ = svc.Send(ctx, alice, []invites.NewInvite{{Email: "late@example.com"}})
	_, _ = svc.DeliverPending(ctx)

	now = now.Add(25 * time.Hour)
	_, err := svc.Accept(ctx, mail.TokenFor("late@example.com"), invites.Acceptor{UserID: "late"})
	fmt.Println(err)
	// Output:
	// invites: invite expired
}
