package invites_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testclock"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// Resend mails a new link and kills the old one; within the cooldown it
// is refused with the wait.
func ExampleService_Resend() {
	ctx := context.Background()
	clock := testclock.New(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC))
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL:      func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		Now:            clock.Now,
		ResendCooldown: time.Minute,
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	res, _ := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}})
	id := res.Success[0].ID
	_, _ = svc.DeliverPending(ctx)
	oldLink := mail.TokenFor("bob@example.com")

	_, err = svc.Resend(ctx, alice, id)
	var soon *invites.ResendTooSoonError
	fmt.Println(errors.Is(err, invites.ErrResendTooSoon), errors.As(err, &soon), soon.RetryAfter)

	clock.Advance(2 * time.Minute)
	inv, err := svc.Resend(ctx, alice, id)
	fmt.Println(inv.Status, "sends:", inv.SendCount, err)
	_, _ = svc.DeliverPending(ctx)
	last, _ := mail.LastTo("bob@example.com")
	fmt.Println("emails:", len(mail.Messages()), "latest:", last.Kind)

	_, err = svc.Accept(ctx, oldLink, invites.Acceptor{UserID: "bob"})
	fmt.Println("old link:", err)
	inv, err = svc.Accept(ctx, mail.TokenFor("bob@example.com"), invites.Acceptor{UserID: "bob"})
	fmt.Println("new link:", inv.Status, err)
	// Output:
	// true true 1m0s
	// pending sends: 2 <nil>
	// emails: 2 latest: reminder
	// old link: invites: invalid token
	// new link: accepted <nil>
}
