package invites_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// linkExample is a Service on memstore for the link examples, at a fixed
// time, and acme's admin.
func linkExample(tune ...func(*invites.Config)) (*invites.Service, invites.Actor) {
	now := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	cfg := invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
		JoinURL:   func(t invites.Token) string { return "https://app.example/join#" + t.Reveal() },
		Now:       func() time.Time { return now },
	}
	for _, f := range tune {
		f(&cfg)
	}
	svc, err := invites.New(memstore.New(), mailertest.New(), cfg)
	if err != nil {
		panic(err)
	}
	return svc, invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"admin", "member"}}
}

// mustLink makes a link of spec as actor.
func mustLink(svc *invites.Service, actor invites.Actor, spec invites.LinkSpec) invites.CreatedLink {
	c, err := svc.CreateLink(context.Background(), actor, spec)
	if err != nil {
		panic(err)
	}
	return c
}

// A user joins through a link once; a second try, by them or past the
// link's uses, is refused and uses up nothing.
func ExampleService_JoinByLink() {
	ctx := context.Background()
	svc, alice := linkExample()
	c := mustLink(svc, alice, invites.LinkSpec{Roles: []string{"member"}, MaxUses: 2})
	tok := c.Token.Reveal()
	for _, user := range []string{"bob", "bob", "cy", "dee"} {
		l, err := svc.JoinByLink(ctx, tok, invites.Joiner{UserID: user})
		switch {
		case errors.Is(err, invites.ErrAlreadyJoined):
			fmt.Println(user, "joined before")
		case errors.Is(err, invites.ErrLinkExhausted):
			fmt.Println(user, "refused: no uses left")
		case err != nil:
			panic(err)
		default:
			fmt.Println(user, "joined", l.TenantID, "as", l.Roles, "-", l.Uses, "of", l.MaxUses)
		}
	}
	// Output:
	// bob joined acme as [member] - 1 of 2
	// bob joined before
	// cy joined acme as [member] - 2 of 2
	// dee refused: no uses left
}

// The landing page of a link asks CheckLink: valid or why not, and what
// Config.LinkView shows of the tenant while it is valid.
func ExampleService_CheckLink() {
	ctx := context.Background()
	svc, alice := linkExample(func(c *invites.Config) {
		c.LinkView = func(_ context.Context, l invites.Link) (json.RawMessage, error) {
			return json.Marshal(map[string]string{"team": "Acme " + l.TenantID})
		}
	})
	c := mustLink(svc, alice, invites.LinkSpec{MaxUses: 1})
	show := func(tok string) {
		chk, err := svc.CheckLink(ctx, tok)
		if err != nil {
			panic(err)
		}
		fmt.Printf("valid %t, status %q, view %q\n", chk.IsValid, chk.Status, chk.View)
	}
	show(c.Token.Reveal())
	if _, err := svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: "bob"}); err != nil {
		panic(err)
	}
	show(c.Token.Reveal())
	show("not-a-token")
	// Output:
	// valid true, status "active", view "{\"team\":\"Acme acme\"}"
	// valid false, status "exhausted", view ""
	// valid false, status "", view ""
}

// Rotating a link that leaked revokes it and makes one of the same spec,
// in one commit; only the new token joins.
func ExampleService_RotateLink() {
	ctx := context.Background()
	svc, alice := linkExample()
	old := mustLink(svc, alice, invites.LinkSpec{Roles: []string{"member"}, MaxUses: 5, Note: "team chat"})
	c, err := svc.RotateLink(ctx, alice, old.Link.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println("new link:", c.Link.ID != old.Link.ID, c.Link.Roles, c.Link.MaxUses, c.Link.Note)
	_, err = svc.JoinByLink(ctx, old.Token.Reveal(), invites.Joiner{UserID: "bob"})
	fmt.Println("old token:", err)
	_, err = svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: "bob"})
	fmt.Println("new token:", err)
	// Output:
	// new link: true [member] 5 team chat
	// old token: invites: link revoked
	// new token: <nil>
}

// GetLink reads one link of the actor's tenant, never its token; another
// tenant's is not found.
func ExampleService_GetLink() {
	ctx := context.Background()
	svc, alice := linkExample()
	c := mustLink(svc, alice, invites.LinkSpec{MaxUses: 3, TTL: 48 * time.Hour})
	l, err := svc.GetLink(ctx, alice, c.Link.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Status, l.Uses, "of", l.MaxUses, "until", l.ExpiresAt.Format(time.RFC3339))
	gus := invites.Actor{UserID: "gus", TenantID: "globex"}
	_, err = svc.GetLink(ctx, gus, c.Link.ID)
	fmt.Println("globex:", errors.Is(err, invites.ErrNotFound))
	// Output:
	// active 0 of 3 until 2030-01-04T09:00:00Z
	// globex: true
}

// ListLinks pages a tenant's links, newest first, by status and creator.
func ExampleService_ListLinks() {
	ctx := context.Background()
	svc, alice := linkExample()
	for _, note := range []string{"first", "second", "third"} {
		mustLink(svc, alice, invites.LinkSpec{MaxUses: 1, Note: note})
	}
	if _, err := svc.JoinByLink(ctx, mustLink(svc, alice, invites.LinkSpec{MaxUses: 1, Note: "used"}).Token.Reveal(),
		invites.Joiner{UserID: "bob"}); err != nil {
		panic(err)
	}
	q := invites.LinkQuery{Statuses: []invites.LinkStatus{invites.LinkActive}, CreatedByUserID: "alice", Limit: 2}
	for page := 1; ; page++ {
		p, err := svc.ListLinks(ctx, alice, q)
		if err != nil {
			panic(err)
		}
		for _, l := range p.Links {
			fmt.Println("page", page, l.Note, l.Status)
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	// Output:
	// page 1 third active
	// page 1 second active
	// page 2 first active
}

// LinkUses says who joined through a link and when; LinkHistory has its
// events, the joiner as the actor of each use.
func ExampleService_LinkUses() {
	ctx := context.Background()
	svc, alice := linkExample()
	c := mustLink(svc, alice, invites.LinkSpec{MaxUses: 10})
	for _, u := range []string{"bob", "cy"} {
		if _, err := svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: u}); err != nil {
			panic(err)
		}
	}
	uses, err := svc.LinkUses(ctx, alice, c.Link.ID)
	if err != nil {
		panic(err)
	}
	for _, u := range uses {
		fmt.Println(u.UserID, "joined at", u.At.Format(time.Kitchen))
	}
	// Output:
	// bob joined at 9:00AM
	// cy joined at 9:00AM
}

// LinkHistory is a link's events in order, as Config.OnEvent saw them.
func ExampleService_LinkHistory() {
	ctx := context.Background()
	svc, alice := linkExample()
	c := mustLink(svc, alice, invites.LinkSpec{MaxUses: 10})
	if _, err := svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: "bob"}); err != nil {
		panic(err)
	}
	if _, err := svc.RevokeLink(ctx, alice, c.Link.ID); err != nil {
		panic(err)
	}
	evs, err := svc.LinkHistory(ctx, alice, c.Link.ID)
	if err != nil {
		panic(err)
	}
	for _, e := range evs {
		fmt.Println(e.Type, "by", e.ActorID, e.LinkID == c.Link.ID)
	}
	// Output:
	// link_created by alice true
	// link_used by bob true
	// link_revoked by alice true
}

// When a member is demoted or removed, RevokeLinksBy ends every active
// link they made, in one commit; others' links stay.
func ExampleService_RevokeLinksBy() {
	ctx := context.Background()
	svc, alice := linkExample()
	carol := invites.Actor{UserID: "carol", TenantID: "acme", Roles: []string{"member"}}
	mustLink(svc, carol, invites.LinkSpec{MaxUses: 5, Note: "carol's chat"})
	mustLink(svc, carol, invites.LinkSpec{MaxUses: 5, Note: "carol's forum"})
	mustLink(svc, alice, invites.LinkSpec{MaxUses: 5, Note: "alice's"})
	revoked, err := svc.RevokeLinksBy(ctx, alice, "carol")
	if err != nil {
		panic(err)
	}
	for _, l := range revoked {
		fmt.Println("revoked:", l.Note, l.Status)
	}
	p, err := svc.ListLinks(ctx, alice, invites.LinkQuery{Statuses: []invites.LinkStatus{invites.LinkActive}})
	if err != nil {
		panic(err)
	}
	fmt.Println("still active:", len(p.Links), p.Links[0].Note)
	// Unordered output:
	// revoked: carol's chat revoked
	// revoked: carol's forum revoked
	// still active: 1 alice's
}
