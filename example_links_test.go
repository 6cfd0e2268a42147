package invites_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// A shareable link: an admin makes a link of two uses for the team's own
// domain, and the host's OnJoin adds each user who joins through it.
func ExampleService_CreateLink() {
	ctx := context.Background()
	members := map[string][]string{}
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		JoinURL:   func(t invites.Token) string { return "https://app.example/join?token=" + t.Reveal() },
		// Runs in the join's transaction: an error here counts no use.
		OnJoin: func(_ context.Context, l invites.Link, j invites.Joiner) error {
			members[j.UserID] = l.Roles
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}
	link, err := svc.CreateLink(ctx, alice, invites.LinkSpec{MaxUses: 2, TTL: 24 * time.Hour,
		AllowedDomains: []string{"acme.example"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(link.URL, "https://app.example/join?token="), link.Link.Status)

	// The token, as the user's browser brings it back from the URL.
	tok := link.Token.Reveal()
	for _, j := range []invites.Joiner{
		{UserID: "bob", Email: "bob@acme.example", EmailVerified: true},
		{UserID: "eve", Email: "eve@evil.example", EmailVerified: true},
		{UserID: "cy", Email: "cy@ACME.example", EmailVerified: true},
		{UserID: "dee", Email: "dee@acme.example", EmailVerified: true},
	} {
		l, err := svc.JoinByLink(ctx, tok, j)
		switch {
		case errors.Is(err, invites.ErrDomainNotAllowed):
			fmt.Println(j.UserID, "refused: not at the team's domain")
		case errors.Is(err, invites.ErrLinkExhausted):
			fmt.Println(j.UserID, "refused: no uses left")
		case err != nil:
			panic(err)
		default:
			fmt.Println(j.UserID, "joined as", members[j.UserID], "uses", l.Uses, "of", l.MaxUses)
		}
	}
	// Output:
	// true active
	// bob joined as [member] uses 1 of 2
	// eve refused: not at the team's domain
	// cy joined as [member] uses 2 of 2
	// dee refused: no uses left
}

// Revoking a link ends it at once; its landing page then says so, and
// nothing more.
func ExampleService_RevokeLink() {
	ctx := context.Background()
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}
	link, err := svc.CreateLink(ctx, alice, invites.LinkSpec{MaxUses: 10})
	if err != nil {
		panic(err)
	}
	tok := link.Token.Reveal()
	before, _ := svc.CheckLink(ctx, tok)
	fmt.Println("before:", before.IsValid, before.Status)

	l, err := svc.RevokeLink(ctx, alice, link.Link.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println("revoked by", l.RevokedByUserID)

	after, _ := svc.CheckLink(ctx, tok)
	fmt.Println("after:", after.IsValid, after.Status)
	_, err = svc.JoinByLink(ctx, tok, invites.Joiner{UserID: "bob"})
	fmt.Println("join:", errors.Is(err, invites.ErrLinkRevoked))
	// Output:
	// before: true active
	// revoked by alice
	// after: false revoked
	// join: true
}
