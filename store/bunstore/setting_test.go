package bunstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// nonStandardPool opens a pool of its own on db's schema whose every
// connection runs with standard_conforming_strings off, a per-session
// setting, so no other test's connections see it. mode is pgx's
// default_query_exec_mode: with simple_protocol pgx itself refuses a query
// (not an Exec) in such a session; with exec it sends bun's text as it is.
func nonStandardPool(t *testing.T, db *bun.DB, mode string) *bun.DB {
	t.Helper()
	dsn, err := testdb.WithParams(testdb.SchemaDSN(t, testdb.Schema(t, db)),
		"standard_conforming_strings", "off", "default_query_exec_mode", mode)
	if err != nil {
		t.Fatal(err)
	}
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	off := bun.NewDB(sqldb, pgdialect.New())
	off.SetMaxOpenConns(2)
	t.Cleanup(func() { off.Close() })
	return off
}

// refusal checks that err refuses the session, naming the setting:
// ErrNonStandardStrings, or in simple_protocol mode pgx's own refusal of
// the check's query.
func refusal(t *testing.T, mode, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "standard_conforming_strings") ||
		(mode != "simple_protocol" && !errors.Is(err, bunstore.ErrNonStandardStrings)) {
		t.Errorf("%s with standard_conforming_strings off = %v, want a refusal naming the setting", what, err)
	}
}

// With standard_conforming_strings off, backslashes in bun's inlined
// string literals are escapes, and a value can end its literal: Migrate
// and every Store method refuse to run, and write nothing.
func TestRefusesNonStandardStrings(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			refusesNonStandardStrings(t, mode)
		})
	}
}

func refusesNonStandardStrings(t *testing.T, mode string) {
	ctx := t.Context()
	db := testdb.Postgres(t)
	off := nonStandardPool(t, db, mode)

	refusal(t, mode, "Migrate", bunstore.Migrate(ctx, off))
	var table *string
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('invites')::text").Scan(&table); err != nil || table != nil {
		t.Fatalf("the refused Migrate made the invites table (%v, %v)", table, err)
	}

	good := migrated(t, db)
	res, err := good.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: []invites.Invite{pendingInvite("acme", "kate@example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	inv := res[0].Invite
	digest := []byte("a token digest of 32 bytes......")
	claims, err := good.ClaimDeliveries(ctx, invites.ClaimParams{Now: base, Limit: 1, Lease: time.Minute,
		Digests: [][]byte{digest}, ExpiresAt: base.Add(time.Hour)})
	if err != nil || len(claims) != 1 {
		t.Fatalf("ClaimDeliveries: %v, %d", err, len(claims))
	}
	evs, err := good.ClaimEvents(ctx, invites.ClaimEventsParams{Now: base, Limit: 10, Lease: time.Minute})
	if err != nil || len(evs) == 0 {
		t.Fatalf("ClaimEvents: %v, %d", err, len(evs))
	}
	tables := []string{"invites", "invites_events", "invites_deliveries", "invites_tokens"}
	before := map[string]int{}
	for _, tbl := range tables {
		before[tbl] = countRows(t, db, "SELECT count(*) FROM "+tbl)
	}

	// A name that, with backslashes as escapes, ends its literal.
	evil := `x\', tenant_id = 'other`
	later := base.Add(time.Hour)
	calls := map[string]func(s *bunstore.Store) error{
		"Insert": func(s *bunstore.Store) error {
			in := pendingInvite("acme", "evil@example.com")
			in.FirstName = evil
			_, err := s.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: []invites.Invite{in}})
			return err
		},
		"Get": func(s *bunstore.Store) error {
			_, err := s.Get(ctx, invites.GetParams{TenantID: "acme", ID: inv.ID})
			return err
		},
		"List": func(s *bunstore.Store) error {
			_, _, err := s.List(ctx, invites.ListParams{TenantID: "acme", Now: later, Search: evil, Limit: 10})
			return err
		},
		"Change": func(s *bunstore.Store) error {
			_, err := s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: later, TenantID: "acme", ID: inv.ID, ActorID: "inviter",
				Decide: func(context.Context, invites.Facts) (invites.Edit, error) {
					return invites.Edit{Fields: invites.Update{FirstName: &evil}}, nil
				}})
			return err
		},
		"Lookup": func(s *bunstore.Store) error {
			_, err := s.Lookup(ctx, invites.LookupParams{Digest: digest})
			return err
		},
		"ClaimDeliveries": func(s *bunstore.Store) error {
			_, err := s.ClaimDeliveries(ctx, claimAt(t, later, 10, time.Minute))
			return err
		},
		"RenewDeliveries": func(s *bunstore.Store) error {
			_, err := s.RenewDeliveries(ctx, invites.RenewParams{Now: later, Lease: time.Minute, Deliveries: []invites.Delivery{claims[0].Delivery}})
			return err
		},
		"CompleteDeliveries": func(s *bunstore.Store) error {
			return s.CompleteDeliveries(ctx, invites.CompleteParams{Outcomes: []invites.DeliveryOutcome{
				{Delivery: claims[0].Delivery, Status: invites.DeliverySent, At: later}}})
		},
		"ExpireDue": func(s *bunstore.Store) error {
			_, err := s.ExpireDue(ctx, invites.ExpireParams{Now: base.Add(48 * time.Hour), Limit: 10})
			return err
		},
		"History": func(s *bunstore.Store) error {
			_, err := s.History(ctx, invites.HistoryParams{TenantID: "acme", ID: inv.ID})
			return err
		},
		"ClaimEvents": func(s *bunstore.Store) error {
			_, err := s.ClaimEvents(ctx, invites.ClaimEventsParams{Now: later, Limit: 10, Lease: time.Minute})
			return err
		},
		"CompleteEvent": func(s *bunstore.Store) error { return s.CompleteEvent(ctx, invites.CompleteEventParams{Event: evs[0]}) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			// A Store of its own: each method checks, not only the first
			// one called.
			refusal(t, mode, name, call(bunstore.New(off)))
		})
	}
	for _, tbl := range tables {
		if n := countRows(t, db, "SELECT count(*) FROM "+tbl); n != before[tbl] {
			t.Errorf("%s has %d rows after the refused calls, want %d", tbl, n, before[tbl])
		}
	}
	var first, tenant string
	if err := db.QueryRowContext(ctx, "SELECT first_name, tenant_id FROM invites WHERE id = ?", inv.ID).Scan(&first, &tenant); err != nil {
		t.Fatal(err)
	}
	if first != "" || tenant != "acme" {
		t.Errorf("the invite became %q of %q after the refused calls", first, tenant)
	}

	// The same reads and writes with the setting on work, and store the
	// values as given.
	for _, name := range []string{"Insert", "Get", "List", "Change", "Lookup", "History"} {
		if err := calls[name](good); err != nil {
			t.Errorf("%s with standard_conforming_strings on = %v", name, err)
		}
	}
	got, err := good.Get(ctx, invites.GetParams{TenantID: "acme", ID: inv.ID})
	if err != nil || got.FirstName != evil || got.TenantID != "acme" {
		t.Fatalf("with the setting on, Change stored %q in %q (%v), want the name as given", got.FirstName, got.TenantID, err)
	}
}

// A refusal is not remembered: once the session's setting is on, the same
// Store runs.
func TestRecoversWhenStandardStringsTurnOn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testdb.Postgres(t)
	migrated(t, db)
	off := nonStandardPool(t, db, "exec")
	off.SetMaxOpenConns(1) // one session, so SET reaches the Store's queries
	s := bunstore.New(off)
	id := uuid.New()
	_, err := s.Get(ctx, invites.GetParams{TenantID: "acme", ID: id})
	refusal(t, "exec", "Get", err)
	if _, err := off.ExecContext(ctx, "SET standard_conforming_strings = on"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, invites.GetParams{TenantID: "acme", ID: id}); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Get once the setting is on = %v, want ErrNotFound", err)
	}
	if err := bunstore.Migrate(ctx, off); err != nil {
		t.Fatalf("Migrate once the setting is on: %v", err)
	}
}

// asked makes s put its one question about standard_conforming_strings
// now, so that a test logging s's statements sees only the call it
// watches.
func asked(t testing.TB, s *bunstore.Store) *bunstore.Store {
	t.Helper()
	if _, err := s.Get(t.Context(), invites.GetParams{TenantID: "none"}); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
	return s
}
