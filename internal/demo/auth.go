package main

import (
	"net/http"
	"slices"
	"strings"

	"github.com/invitekit/invites"
)

// The demo's authentication is a stand-in, for the demo only: whoever
// sends a request says who they are in the headers X-Demo-User,
// X-Demo-Tenant and X-Demo-Roles (comma separated), and without them is
// the demo admin of tenant "acme". A real host takes the actor from its
// own session instead.
//
// A user joining through a link also says its address in X-Demo-Email,
// and that the stand-in sign-in verified it with X-Demo-Email-Verified:
// true, as a host's session would know: only a verified address passes a
// link's allowed domains.
const (
	demoUser   = "demo-admin"
	demoTenant = "acme"
	demoAdmin  = "admin"
	demoMember = "member"
)

// demoActor returns the actor of the demo headers, each defaulting to the
// demo admin's.
func demoActor(r *http.Request) invites.Actor {
	a := invites.Actor{UserID: demoUser, TenantID: demoTenant, Roles: []string{demoAdmin}}
	if v := strings.TrimSpace(r.Header.Get("X-Demo-User")); v != "" {
		a.UserID = v
	}
	if v := strings.TrimSpace(r.Header.Get("X-Demo-Tenant")); v != "" {
		a.TenantID = v
	}
	if v := r.Header.Get("X-Demo-Roles"); v != "" {
		a.Roles = nil
		for role := range strings.SplitSeq(v, ",") {
			if role = strings.TrimSpace(role); role != "" {
				a.Roles = append(a.Roles, role)
			}
		}
	}
	return a
}

// demoJoiner returns the user who joins through a link, from the demo
// headers: demoActor's user, with the address of X-Demo-Email (none
// without it), verified only when X-Demo-Email-Verified says true.
func demoJoiner(r *http.Request) (invites.Joiner, error) {
	return invites.Joiner{
		UserID:        demoActor(r).UserID,
		Email:         strings.TrimSpace(r.Header.Get("X-Demo-Email")),
		EmailVerified: r.Header.Get("X-Demo-Email-Verified") == "true",
	}, nil
}

// canGrant reports whether actor may grant role: an admin may grant
// member as well as the roles it holds, so the demo admin can invite both
// kinds of user.
func canGrant(actor invites.Actor, role string) bool {
	return slices.Contains(actor.Roles, role) || (role == demoMember && slices.Contains(actor.Roles, demoAdmin))
}
