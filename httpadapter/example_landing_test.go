package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// Mount the landing page on the path of the emailed links, which
// LandingURL writes: a GET of one shows its invite and changes nothing.
func ExampleNewLanding() {
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: httpadapter.LandingURL("https://app.example/invite"),
	})
	if err != nil {
		panic(err)
	}
	landing, err := httpadapter.NewLanding(svc, httpadapter.LandingConfig{
		Path:   "/invite",
		Secret: []byte("a stand-in: 32 random bytes from the host's secrets"),
		// A stand-in: a real host reads its own session here.
		User: func(r *http.Request) (invites.Acceptor, bool) {
			if r.Header.Get("Authorization") != "Bearer ann" {
				return invites.Acceptor{}, false
			}
			return invites.Acceptor{UserID: "ann", Email: "ann@example.com"}, true
		},
		SignInURL:   func(back string) string { return "/login?next=" + url.QueryEscape(back) },
		AcceptedURL: func(_ *http.Request, inv invites.Invite) string { return "/t/" + inv.TenantID },
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/invite", landing)

	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	if _, err := svc.Send(context.Background(), alice, []invites.NewInvite{{Email: "ann@example.com"}}); err != nil {
		panic(err)
	}
	if _, err := svc.DeliverPending(context.Background()); err != nil {
		panic(err)
	}
	msg, _ := mail.LastTo("ann@example.com")
	link, _ := url.Parse(msg.AcceptURL)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", link.RequestURI(), nil))
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `data-state="pending"`), w.Header().Get("Referrer-Policy"))
	// Output: 200 true no-referrer
}
