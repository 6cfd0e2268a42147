package invites_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// A host tests its own mux, with the API mounted, on the fakes: send over
// HTTP, deliver, take the link's token from the recorded email, and
// accept as the invitee would.
func Example_testHostHandler() {
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	users := map[string]invites.Actor{
		"alice": {UserID: "alice", TenantID: "acme", Roles: []string{"member"}},
		"bob":   {UserID: "bob"}, // not yet a member of any tenant
	}
	api := httpadapter.New(svc, httpadapter.Config{
		// The host's session lookup; a test stands in with a header.
		Authenticate: func(r *http.Request) (invites.Actor, error) {
			if a, ok := users[r.Header.Get("X-Test-User")]; ok {
				return a, nil
			}
			return invites.Actor{}, errors.New("no session")
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/api/invites/", http.StripPrefix("/api/invites", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(user, method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-Test-User", user)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	status, _ := call("alice", "POST", "/api/invites/", `{"userInvites":[{"email":"bob@example.com"}]}`)
	fmt.Println("send:", status)
	if _, err := svc.DeliverPending(context.Background()); err != nil {
		panic(err)
	}
	tok := mail.TokenFor("bob@example.com")
	status, inv := call("bob", "POST", "/api/invites/accept", `{"token":"`+tok+`"}`)
	fmt.Println("accept:", status, inv["status"])
	status, page := call("alice", "GET", "/api/invites/?status=accepted", "")
	fmt.Println("accepted:", status, page["totalCount"])
	status, _ = call("mallory", "GET", "/api/invites/", "")
	fmt.Println("no session:", status)
	// Output:
	// send: 200
	// accept: 200 accepted
	// accepted: 200 1
	// no session: 401
}
