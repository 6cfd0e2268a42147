package httpadapter_test

import (
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

// Mount the handler under /api/invites/ of the host's mux, send a batch,
// and see a problem answer.
func Example() {
	svc, err := invites.New(memstore.New(), mailertest.New(), invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/invite#" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	api := httpadapter.New(svc, httpadapter.Config{
		// A stand-in: a real host reads its own session here.
		Authenticate: func(r *http.Request) (invites.Actor, error) {
			if r.Header.Get("Authorization") != "Bearer alice" {
				return invites.Actor{}, errors.New("no session")
			}
			return invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}, nil
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/api/invites/", http.StripPrefix("/api/invites", api))
	mux.Handle("/api/invites", http.StripPrefix("/api/invites", api)) // POST /api/invites too

	do := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer alice")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}

	w := do("POST", "/api/invites/", `{"userInvites":[{"email":"bob@example.com"},{"email":"nope"}]}`)
	var sent struct {
		Success []invites.Invite    `json:"success"`
		Errors  []invites.ItemError `json:"errors"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &sent)
	fmt.Println(w.Code, sent.Success[0].Email, sent.Success[0].Status, sent.Success[0].Roles)
	fmt.Println("item", sent.Errors[0].Index, sent.Errors[0].Code)

	w = do("GET", "/api/invites/?status=pending&limit=5", "")
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"totalCount":1`))

	w = do("GET", "/api/invites/not-an-id", "")
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Body.String())
	// Output:
	// 200 bob@example.com pending [member]
	// item 1 invalid_email
	// 200 true
	// 404 application/problem+json
	// {"type":"about:blank","title":"Not Found","status":404,"detail":"No such invite.","code":"not_found"}
}
