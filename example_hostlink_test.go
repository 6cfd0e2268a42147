package invites_test

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testclock"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// An invite of ChannelHost sends no email: its link is in the send's
// answer, once, for the host to deliver itself (by SMS, say). A TTL of its
// own keeps it short. ResendWith hands over a new link and kills the old.
func ExampleService_ResendWith() {
	ctx := context.Background()
	clock := testclock.New(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC))
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		Now:       clock.Now,
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	res, _ := svc.Send(ctx, alice, []invites.NewInvite{
		{Email: "bob@example.com", Channel: invites.ChannelHost, TTL: 2 * time.Hour},
	})
	inv := res.Success[0]
	first := res.Links[inv.ID] // hand it to Bob over a channel you trust, now
	sent, _ := svc.DeliverPending(ctx)
	fmt.Println(inv.DeliveryStatus, "expires in", inv.ExpiresAt.Sub(clock.Now()), "emails:", sent)

	clock.Advance(time.Hour)
	r, _ := svc.ResendWith(ctx, alice, inv.ID, invites.ResendOptions{TTL: 3 * time.Hour})
	_, err = svc.Accept(ctx, tokenIn(first), invites.Acceptor{UserID: "bob"})
	fmt.Println("old link:", err)
	accepted, err := svc.Accept(ctx, tokenIn(r.Link), invites.Acceptor{UserID: "bob"})
	fmt.Println("new link:", accepted.Status, err)
	// Output:
	// host expires in 2h0m0s emails: 0
	// old link: invites: invalid token
	// new link: accepted <nil>
}

// tokenIn is the token of an accept link, as the host's landing page reads it.
func tokenIn(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		panic(err)
	}
	return u.Query().Get("token")
}
