package bunstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
)

// On SQLite a long read of one tenant does not hold up another tenant's
// Get, nor a write, nor a read of that write: the store reads through the
// pool of testdb.Reader (sqlitedb.OpenReader), as a host wires it. On one
// connection, the Get would wait for the open read.
func TestLongReadDoesNotQueueReadsOnSQLite(t *testing.T) {
	ctx := t.Context()
	db := testdb.SQLite(t)
	store := migrated(t, db)
	for _, tenant := range []string{"scan", "other"} {
		if _, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch(tenant, 3)}); err != nil {
			t.Fatal(err)
		}
	}
	other, _, err := store.List(ctx, invites.ListParams{TenantID: "other", Now: base, Limit: 1})
	if err != nil || len(other) != 1 {
		t.Fatal(other, err)
	}

	// A scan of tenant "scan" stopped half-way: its statement, its
	// connection and its snapshot stay held until the rows close.
	rows, err := testdb.Reader(t, db).QueryContext(ctx, "SELECT id FROM invites WHERE tenant_id = 'scan'")
	if err != nil || !rows.Next() {
		t.Fatal(err)
	}
	defer rows.Close()

	wait, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := store.Get(wait, invites.GetParams{TenantID: "other", ID: other[0].ID}); err != nil {
		t.Fatalf("Get beside an open read: %v", err)
	}
	if _, err := store.Change(wait, invites.ChangeParams{LedgerKey: ledgerKey, Now: base, TenantID: "other", ID: other[0].ID, ActorID: "inviter",
		From: []invites.Status{invites.StatusPending}, Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}}); err != nil {
		t.Fatalf("Cancel beside an open read: %v", err)
	}
	got, err := store.Get(wait, invites.GetParams{TenantID: "other", ID: other[0].ID})
	if err != nil || got.Status != invites.StatusCanceled {
		t.Fatalf("Get after the write = %s, %v; want it canceled", got.Status, err)
	}
}
