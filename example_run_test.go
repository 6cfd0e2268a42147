package invites_test

import (
	"context"
	"fmt"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// Run is the worker a host starts beside its server: it delivers each
// queued email, and returns once its context ends, as at shutdown.
func ExampleService_Run() {
	mail := mailertest.New()
	svc, err := invites.New(memstore.New(), mail, invites.Config{
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept?token=" + t.Reveal() },
	})
	if err != nil {
		panic(err)
	}
	ctx, shutdown := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Run(ctx) }()

	alice := invites.Actor{UserID: "alice", TenantID: "acme"}
	if _, err := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}}); err != nil {
		panic(err)
	}
	// A send wakes the worker; wait for its email as a test would.
	for deadline := time.Now().Add(10 * time.Second); len(mail.Messages()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			panic("no email")
		}
	}
	msg, _ := mail.LastTo("bob@example.com")
	fmt.Println("delivered:", msg.Kind, "to", msg.Invite.Email)

	shutdown()
	fmt.Println("Run returned:", <-stopped)
	// Output:
	// delivered: invitation to bob@example.com
	// Run returned: <nil>
}
