package invites_test

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

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
