package invites_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Members may cancel only the invites they sent; admins any of their
// tenant's.
func ExampleConfig_authorize() {
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		Authorize: func(_ context.Context, a invites.Actor, op invites.Op, inv *invites.Invite) error {
			if op == invites.OpCancel && !slices.Contains(a.Roles, "admin") && inv.CreatedByUserID != a.UserID {
				return errors.New("members may cancel only their own invites")
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}
	bob := invites.Actor{UserID: "bob", TenantID: "acme", Roles: []string{"member"}}
	res, _ := svc.Send(ctx, alice, []invites.NewInvite{{Email: "carol@example.com"}})

	_, err = svc.Cancel(ctx, bob, res.Success[0].ID)
	fmt.Println(errors.Is(err, invites.ErrForbidden), err)
	inv, err := svc.Cancel(ctx, alice, res.Success[0].ID)
	fmt.Println(inv.Status, err)
	// Output:
	// true invites: cancel forbidden: members may cancel only their own invites
	// canceled <nil>
}

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
