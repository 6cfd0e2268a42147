package invites_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// Forget erases every invite of an address in the actor's tenant, in any
// status, and leaves a forgotten event per invite for OnEvent, so the host
// can erase its own copies.
func ExampleService_Forget() {
	ctx := context.Background()
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		OnEvent: func(_ context.Context, e invites.Event) error {
			if e.Type == invites.EventForgotten {
				fmt.Println("OnEvent:", e.Type, "by", e.ActorID)
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	res, _ := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}, {Email: "cy@example.com"}})
	first := res.Success[0].ID
	_, _ = svc.Cancel(ctx, alice, first)
	_, _ = svc.Send(ctx, alice, []invites.NewInvite{{Email: "Bob@Example.com"}}) // the same address again

	ids, err := svc.Forget(ctx, alice, "bob@example.com")
	fmt.Println("erased:", len(ids), err)
	_, err = svc.Get(ctx, alice, first)
	fmt.Println(errors.Is(err, invites.ErrNotFound))
	page, _ := svc.List(ctx, alice, invites.Query{})
	fmt.Println("left:", page.TotalCount, page.Invites[0].Email)
	_, _ = svc.DispatchEvents(ctx) // Service.Run does this in the background
	// Output:
	// erased: 2 <nil>
	// true
	// left: 1 cy@example.com
	// OnEvent: forgotten by alice
	// OnEvent: forgotten by alice
}
