package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// errNoSeats is a host's own refusal, from its Config.OnAccept.
var errNoSeats = errors.New("the tenant has no free seat")

// Config.Problem shapes every error answer: here it gives each code a
// Type URI and turns the host's own OnAccept error, a 500 to the adapter,
// into a 409 with the host's code.
func ExampleConfig_problem() {
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/invite#" + t.Reveal() },
		OnAccept:  func(context.Context, invites.Invite) error { return errNoSeats },
	})
	if err != nil {
		panic(err)
	}
	api := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(*http.Request) (invites.Actor, error) {
			return invites.Actor{UserID: "bob", TenantID: "acme"}, nil // a stand-in for the host's session
		},
		// The adapter logs the error behind a 500 before the hook runs.
		Logger: slog.New(slog.DiscardHandler),
		Problem: func(_ *http.Request, p *httpadapter.Problem) {
			if errors.Is(p.Err, errNoSeats) {
				p.Status, p.Title, p.Code, p.Detail = http.StatusConflict, "", "no_seats", "The team is full."
			}
			p.Type = "https://app.example/problems/" + p.Code
		},
	})

	ctx := context.Background()
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}
	if _, err := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}}); err != nil {
		panic(err)
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		panic(err)
	}
	for _, token := range []string{"not-a-token", mail.TokenFor("bob@example.com")} {
		r := httptest.NewRequest("POST", "/accept", strings.NewReader(`{"token":"`+token+`"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 404 {"type":"https://app.example/problems/invalid_token","title":"Not Found","status":404,"detail":"The token is not valid.","code":"invalid_token"}
	// 409 {"type":"https://app.example/problems/no_seats","title":"Conflict","status":409,"detail":"The team is full.","code":"no_seats"}
}
