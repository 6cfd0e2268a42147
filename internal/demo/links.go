package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/invitekit/invites"
)

// joinPath is the page a shareable link's URL opens.
const joinPath = "/join"

// joinURL is Config.JoinURL: the join page with the token in the URL's
// fragment, which a browser never sends, so the token stays out of the
// server's logs and of the Referer of whatever the page links to; the
// page's script reads it and takes it out of the address bar.
func joinURL(base string) func(invites.Token) string {
	return func(t invites.Token) string { return base + joinPath + "#" + t.Reveal() }
}

// linkView is Config.LinkView: what the join page shows of a usable link
// to whoever holds it. The demo's tenants have no names but their IDs.
func linkView(_ context.Context, l invites.Link) (json.RawMessage, error) {
	return json.Marshal(struct {
		TenantName string   `json:"tenantName"`
		Roles      []string `json:"roles"`
	}{l.TenantID, l.Roles})
}

// onJoin is Config.OnJoin. A host writes the membership here, in the
// join's transaction (bunstore.TxFromContext); the demo has no members
// table and logs it, which the terminal shows even in the rare case the
// commit then fails.
func onJoin(log *slog.Logger) func(context.Context, invites.Link, invites.Joiner) error {
	return func(ctx context.Context, l invites.Link, j invites.Joiner) error {
		log.InfoContext(ctx, "demo: a user joins through a link", "tenant", l.TenantID, "user", j.UserID, "roles", l.Roles, "link", l.ID)
		return nil
	}
}

// links serves the page to make shareable links and manage them; its
// script talks to the JSON API.
func (p *pages) links(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "links.html", struct{ Actor invites.Actor }{demoActor(r)})
}

// join serves the page a link's URL opens; its script reads the token
// from the fragment, checks it and joins through the JSON API.
func (p *pages) join(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, "join.html", nil)
}
