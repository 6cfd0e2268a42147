package invites_test

import (
	"context"
	"fmt"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// List with ROQ's per-field operators (Query.Where) and a cursor: the
// pending invites of one domain, by email, two to a page.
func ExampleService_List() {
	ctx := context.Background()
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}
	var items []invites.NewInvite
	for _, email := range []string{"cy@example.com", "ann@example.com", "dan@other.org", "Bob@example.com"} {
		items = append(items, invites.NewInvite{Email: email})
	}
	if _, err := svc.Send(ctx, alice, items); err != nil {
		panic(err)
	}

	q := invites.Query{
		Statuses: []invites.Status{invites.StatusPending},
		Where:    invites.Filter{Email: invites.StringFilter{ILike: "%@example.com"}},
		Order:    invites.Order{Field: invites.OrderEmail},
		Limit:    2,
	}
	for page := 1; ; page++ {
		p, err := svc.List(ctx, alice, q)
		if err != nil {
			panic(err)
		}
		for _, inv := range p.Invites {
			fmt.Println("page", page, inv.Email)
		}
		if p.NextCursor == "" {
			fmt.Println("matching:", p.TotalCount)
			break
		}
		q.Cursor = p.NextCursor // the same query, from where the page ended
	}
	// Output:
	// page 1 ann@example.com
	// page 1 Bob@example.com
	// page 2 cy@example.com
	// matching: 3
}
