package bunstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/uptrace/bun"
)

// oldNorm is email_norm as versions before the strict address rules
// wrote it.
func oldNorm(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Rows an older version wrote, email_norm in its form, are found after
// Migrate by every lookup of an address: List's email filter, Forget, the
// address limit and the one pending invite per address; two pending
// invites that became one address leave one pending.
func TestMigrateRenormalizesOldRows(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		store := migrated(t, db)
		now := time.Now().UTC()
		// Each invite is stored by today's Insert under a stand-in
		// address, then rewritten to the row an older version wrote.
		old := func(email, status string) uuid.UUID {
			t.Helper()
			inv := pendingInvite("acme", uuid.NewString()+"@stand-in.example")
			inv.CreatedAt, inv.UpdatedAt, inv.StatusUpdatedAt, inv.LastSentAt, inv.ExpiresAt = now, now, now, now, now.Add(time.Hour)
			res, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: []invites.Invite{inv}})
			if err != nil || len(res) != 1 || res[0].Invite.ID != inv.ID {
				t.Fatalf("Insert: %+v, %v", res, err)
			}
			if _, err := db.ExecContext(ctx, "UPDATE invites SET email = ?, email_norm = ?, status = ? WHERE id = ?",
				email, oldNorm(email), status, inv.ID); err != nil {
				t.Fatal(err)
			}
			return inv.ID
		}
		kelvin := old("\u212Aate@x.io", "pending")         // was kate@x.io
		emile := old("Émile@Example.com", "accepted")      // was émile@example.com
		alabel := old("ann@xn--bcher-kva.de", "pending")   // now ann@bücher.de
		kept := old("bob@bücher.de", "pending")            // in today's form already
		merged := old("bob@XN--BCHER-KVA.DE", "pending")   // now bob@bücher.de too
		kate := old("kate@x.io", "declined")               // another address now
		ascii := old("Plain.Case@Example.COM", "canceled") // the same form then and now
		// As an upgrade from the version before migration 8 finds it.
		if _, err := db.ExecContext(ctx, "DELETE FROM invites_migrations WHERE name = '20261206000008'"); err != nil {
			t.Fatal(err)
		}
		if err := bunstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}

		svc, err := invites.New(store, mailertest.New(), invites.Config{Tokens: token.Issuer{},
			AcceptURL: func(tok invites.Token) string { return "/a?t=" + tok.Reveal() }, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		admin := invites.Actor{UserID: "admin", TenantID: "acme"}
		for _, c := range []struct {
			email string
			want  []uuid.UUID
		}{
			{"\u212Aate@X.IO", []uuid.UUID{kelvin}},
			{"kate@x.io", []uuid.UUID{kate}},
			{"Émile@example.com", []uuid.UUID{emile}},
			{"ANN@Bücher.de", []uuid.UUID{alabel}},
			{"bob@xn--bcher-kva.de", []uuid.UUID{kept, merged}},
			{"plain.case@example.com", []uuid.UUID{ascii}},
		} {
			page, err := svc.List(ctx, admin, invites.Query{Email: c.email})
			if err != nil {
				t.Fatal(err)
			}
			var got []uuid.UUID
			for _, inv := range page.Invites {
				got = append(got, inv.ID)
			}
			if !sameSet(got, c.want) {
				t.Errorf("List of %q = %v, want %v", c.email, got, c.want)
			}
		}

		// Of bob's two pending invites, the one in today's form stays.
		for id, want := range map[uuid.UUID]invites.Status{kept: invites.StatusPending, merged: invites.StatusCanceled} {
			if inv, err := svc.Get(ctx, admin, id); err != nil || inv.Status != want {
				t.Errorf("Get(%s) = %s, %v; want %s", id, inv.Status, err, want)
			}
		}
		res, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: now, Invites: []invites.Invite{pendingInvite("acme", "Bob@bücher.de")}})
		if err != nil || len(res) != 1 || res[0].Existing != kept {
			t.Errorf("Insert of bob@bücher.de = %+v, %v; want it blocked by %s", res, err, kept)
		}
		// The address limits count the send ledger, which is keyed by
		// today's NormalizeEmail at the time of the send (it starts empty at
		// migration 7): nothing there to renormalize.
		ids, err := svc.Forget(ctx, admin, "\u212Aate@x.io")
		if err != nil || !sameSet(ids, []uuid.UUID{kelvin}) {
			t.Errorf("Forget of the Kelvin-sign address = %v, %v; want [%s]", ids, err, kelvin)
		}

		// A second pass finds nothing left to change.
		if n, err := bunstore.Renormalize(ctx, db); err != nil || n != 0 {
			t.Errorf("Renormalize after Migrate = %d, %v; want 0", n, err)
		}
	})
}

// A host that applies Migrations with its own tool calls Renormalize:
// it rewrites the old rows, however many batches of its reads they span,
// and reports how many.
func TestRenormalizeCounts(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		store := migrated(t, db)
		const n = 2345
		invs := make([]invites.Invite, n)
		for i := range invs {
			invs[i] = pendingInvite("acme", fmt.Sprintf("\u212A%d@x.io", i)) // the Kelvin sign
		}
		for i := 0; i < n; i += 500 {
			if _, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: invs[i:min(i+500, n)]}); err != nil {
				t.Fatal(err)
			}
		}
		// Its old form: k for the Kelvin sign, as strings.ToLower has it.
		if _, err := db.ExecContext(ctx, "UPDATE invites SET email_norm = 'k' || substr(email_norm, 2)"); err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, db, "SELECT count(*) FROM invites WHERE email_norm = ?", oldNorm(invs[7].Email)); got != 1 {
			t.Fatalf("%d rows in the old form of %s, want 1", got, invs[7].Email)
		}
		if got, err := bunstore.Renormalize(ctx, db); err != nil || got != n {
			t.Fatalf("Renormalize = %d, %v; want %d", got, err, n)
		}
		if got := countRows(t, db, "SELECT count(*) FROM invites WHERE email_norm = email"); got != n {
			t.Fatalf("%d rows in today's form, want %d", got, n)
		}
	})
}

func sameSet(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[uuid.UUID]bool{}
	for _, id := range a {
		in[id] = true
	}
	for _, id := range b {
		if !in[id] {
			return false
		}
	}
	return true
}
