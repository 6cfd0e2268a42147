package bunstore_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
)

// A SQLite file another writer holds locked past the bound (a process in
// a long transaction, a backup) is a database that cannot answer: a write
// answers ErrUnavailable within Config.StoreTimeout, not after the
// driver's busy_timeout or never, and works once the lock is gone.
func TestLockedSQLiteIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	db := testdb.SQLiteAt(t, path)
	store := migrated(t, db)
	const bound = 300 * time.Millisecond
	svc, err := invites.New(store, mailertest.New(), invites.Config{Tokens: token.Issuer{},
		AcceptURL: func(invites.Token) string { return "/" }, StoreTimeout: bound})
	if err != nil {
		t.Fatal(err)
	}
	actor := invites.Actor{UserID: "u", TenantID: "t", Roles: []string{"member"}}
	send := func(email string) error {
		_, err := svc.Send(t.Context(), actor, []invites.NewInvite{{Email: email}})
		return err
	}
	if err := send("ann@example.com"); err != nil {
		t.Fatal(err)
	}

	other := testdb.SQLiteAt(t, path) // another writer of the file
	lock, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(t.Context(), "UPDATE invites SET first_name = 'held'"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = send("bob@example.com")
	if d := time.Since(start); !errors.Is(err, invites.ErrUnavailable) || d > bound+time.Second {
		t.Fatalf("Send while the file is locked = %v after %v, want ErrUnavailable within %v", err, d, bound+time.Second)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := send("bob@example.com"); err != nil {
		t.Fatalf("Send once the lock is gone: %v", err)
	}
}
