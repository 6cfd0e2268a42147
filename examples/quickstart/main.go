// Command quickstart is the README's quick start as a whole program: a
// host that stores invites in SQLite, prints their emails to the terminal,
// delivers them in the background, serves the JSON API under
// /api/invites/ and the page the emailed links open at /invite.
//
//	go run ./examples/quickstart
//	curl -H 'Authorization: Bearer alice' -H 'Content-Type: application/json' \
//	  -d '{"userInvites":[{"email":"bob@example.com"}]}' \
//	  http://127.0.0.1:8081/api/invites/
//
// then open the link printed in the terminal. The users and their sessions
// are stand-ins: a host reads its own.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/bunstore/sqlitedb"
)

const base = "http://127.0.0.1:8081"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	db, err := sqlitedb.Open("quickstart.db")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bunstore.Migrate(ctx, db); err != nil {
		return err
	}
	// Emails go to the terminal; mailer.NewSMTP sends them for real.
	mail, err := mailer.NewWriter(os.Stdout, mailer.WriterConfig{From: "Acme <invites@acme.example>"})
	if err != nil {
		return err
	}
	svc, err := invites.New(bunstore.New(db), mail, invites.Config{
		AcceptURL: httpadapter.LandingURL(base + "/invite"),
		// Runs in the accept's own transaction: an error leaves the invite
		// pending. Here the host would add the member to the tenant.
		OnAccept: func(ctx context.Context, inv invites.Invite) error {
			log.Printf("%s joins %s as %v", inv.AcceptedByUserID, inv.TenantID, inv.Roles)
			return nil
		},
	})
	if err != nil {
		return err
	}
	go svc.Run(ctx) // delivers queued email until ctx ends

	// The JSON API: Authenticate says who asks, from the host's session.
	api := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(r *http.Request) (invites.Actor, error) {
			if r.Header.Get("Authorization") != "Bearer alice" {
				return invites.Actor{}, errors.New("not signed in")
			}
			return invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"admin"}}, nil
		},
	})
	// The page the emailed links open: GET shows the invite, a POST
	// accepts or declines it, guarded against cross-site requests.
	secret := make([]byte, 32) // the same in every replica, from the host's secrets
	rand.Read(secret)
	landing, err := httpadapter.NewLanding(svc, httpadapter.LandingConfig{
		Path:   "/invite",
		Secret: secret,
		User: func(r *http.Request) (invites.Acceptor, bool) {
			return invites.Acceptor{UserID: "bob", Email: "bob@example.com"}, true
		},
		SignInURL: func(back string) string { return "/login?next=" + url.QueryEscape(back) },
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/api/invites/", http.StripPrefix("/api/invites", api))
	mux.Handle("/api/invites", http.StripPrefix("/api/invites", api)) // POST without the slash
	mux.Handle("/invite", landing)
	mux.Handle("GET /readyz", httpadapter.Ready(svc))

	srv := &http.Server{Addr: "127.0.0.1:8081", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("listening on %s", base)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
