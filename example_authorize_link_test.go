package invites_test

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/invitekit/invites"
)

// Members may make links of a few uses and manage only the links they
// made; admins any. AuthorizeLink sees the link, as stored or as it would
// be made.
func ExampleConfig_authorizeLink() {
	ctx := context.Background()
	svc, admin := linkExample(func(c *invites.Config) {
		c.AuthorizeLink = func(_ context.Context, a invites.Actor, op invites.Op, l *invites.Link) error {
			switch {
			case slices.Contains(a.Roles, "admin"):
				return nil
			case op == invites.OpCreateLink && l.MaxUses > 5:
				return errors.New("members make links of at most 5 uses")
			case l != nil && l.CreatedByUserID != a.UserID:
				return errors.New("members manage only their own links")
			case l == nil && op != invites.OpListLinks:
				return errors.New("only admins revoke a user's links")
			}
			return nil
		}
	})
	mia := invites.Actor{UserID: "mia", TenantID: "acme", Roles: []string{"member"}}
	_, err := svc.CreateLink(ctx, mia, invites.LinkSpec{MaxUses: 50})
	fmt.Println("mia, 50 uses:", err)
	own := mustLink(svc, mia, invites.LinkSpec{MaxUses: 5})
	others := mustLink(svc, admin, invites.LinkSpec{MaxUses: 50})
	_, err = svc.RevokeLink(ctx, mia, others.Link.ID)
	fmt.Println("mia revokes admin's:", errors.Is(err, invites.ErrForbidden))
	_, err = svc.RevokeLink(ctx, mia, own.Link.ID)
	fmt.Println("mia revokes her own:", err)
	_, err = svc.RevokeLinksBy(ctx, mia, "alice")
	fmt.Println("mia revokes alice's:", errors.Is(err, invites.ErrForbidden))
	// Output:
	// mia, 50 uses: invites: create_link forbidden: members make links of at most 5 uses
	// mia revokes admin's: true
	// mia revokes her own: <nil>
	// mia revokes alice's: true
}
