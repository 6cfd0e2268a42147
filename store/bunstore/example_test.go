package bunstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/store/bunstore/sqlitedb"
	"github.com/invitekit/invites/token"
)

// A Service on SQLite: open the file, migrate, and accept an invite with
// the host's own membership row written in the accepting transaction.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "invites-example")
	defer os.RemoveAll(dir)

	db, err := sqlitedb.Open(filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := bunstore.Migrate(ctx, db); err != nil {
		panic(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE members (tenant_id TEXT, user_id TEXT)"); err != nil {
		panic(err)
	}

	mail := mailertest.New()
	svc, err := invites.New(bunstore.New(db), mail, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return "https://app.example/accept#" + t.Reveal() },
		OnAccept: func(ctx context.Context, inv invites.Invite) error {
			tx, _ := bunstore.TxFromContext(ctx) // commits or rolls back with the accept
			_, err := tx.ExecContext(ctx, "INSERT INTO members VALUES (?, ?)", inv.TenantID, inv.AcceptedByUserID)
			return err
		},
	})
	if err != nil {
		panic(err)
	}
	alice := invites.Actor{UserID: "alice", TenantID: "acme", Roles: []string{"member"}}
	if _, err := svc.Send(ctx, alice, []invites.NewInvite{{Email: "bob@example.com"}}); err != nil {
		panic(err)
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		panic(err)
	}
	inv, err := svc.Accept(ctx, mail.TokenFor("bob@example.com"), invites.Acceptor{UserID: "bob"})
	if err != nil {
		panic(err)
	}
	var members int
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM members WHERE user_id = 'bob'").Scan(&members)
	fmt.Println(inv.Email, inv.Status, "members:", members)
	// Output:
	// bob@example.com accepted members: 1
}
