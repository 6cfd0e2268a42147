package bunstore_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// indexesOf lists the indexes of the three tables migration 6 rebuilds
// or indexes, by name.
func indexesOf(t *testing.T, db *bun.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('invites', 'invites_events', 'invites_deliveries') ORDER BY name`
	if db.Dialect().Name() == dialect.PG {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
			AND tablename IN ('invites', 'invites_events', 'invites_deliveries') ORDER BY indexname`
	}
	var out []string
	if err := db.NewRaw(q).Scan(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Migration 6 goes down and up again with rows in the tables it changes:
// down drops what the older schema cannot hold (a forgotten invite's
// event, the bounced and forgotten events) and turns a bounced delivery
// failed; up keeps every row and event id, and the indexes come back as
// they were. Events outlive their invite only while it is up.
func TestMigrationUpkeepDownAndUpKeepsRows(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		migrateThrough(t, db, "20261130000005")
		through := countRows(t, db, "SELECT count(*) FROM invites_migrations")
		store := migrated(t, db)
		want := indexesOf(t, db)
		for _, idx := range []string{"invites_final_idx", "invites_events_handled_idx"} {
			if !slices.Contains(want, idx) {
				t.Fatalf("no index %s after Migrate: %v", idx, want)
			}
		}
		res, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("acme", 2), Trace: "00-trace"})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := store.ClaimDeliveries(ctx, claimAt(t, base, 2, time.Minute))
		if err != nil || len(claims) != 2 {
			t.Fatalf("claim: %v, %d claims", err, len(claims))
		}
		bounced := claims[0]
		if _, done, err := store.Bounce(ctx, invites.BounceParams{Now: base, DeliveryID: bounced.ID, Reason: "hard bounce: no such user"}); err != nil || !done {
			t.Fatalf("Bounce: %v, %v", done, err)
		}
		kept := res[0].Invite
		if kept.ID == bounced.InviteID {
			kept = res[1].Invite
		}
		if _, err := store.Forget(ctx, invites.ForgetParams{Now: base, TenantID: "acme", Email: kept.EmailNorm(), ActorID: "admin"}); err != nil {
			t.Fatal(err)
		}
		events := countRows(t, db, "SELECT count(*) FROM invites_events WHERE invite_id = ?", bounced.InviteID)

		if err := bunstore.Rollback(ctx, db); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		// Rollback undoes the group Migrate applied: 6 and every later one.
		if n, want := countRows(t, db, "SELECT count(*) FROM invites_migrations"), through; n != want {
			t.Fatalf("after Rollback, %d migrations applied, want %d", n, want)
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_events WHERE type IN ('bounced', 'forgotten') OR invite_id = ?", kept.ID); n != 0 {
			t.Fatalf("after Rollback, %d bounced, forgotten or orphaned events, want 0", n)
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_deliveries WHERE id = ? AND state = 'failed'", bounced.ID); n != 1 {
			t.Fatal("after Rollback, the bounced delivery is not failed")
		}
		orphan := "INSERT INTO invites_events (invite_id, tenant_id, type, at, due_at) VALUES (?, 'acme', 'created', ?, ?)"
		if _, err := db.ExecContext(ctx, orphan, uuid.New(), base.Format(time.RFC3339), base.Format(time.RFC3339)); err == nil {
			t.Fatal("after Rollback, an event of no invite was stored: the foreign key is not back")
		}

		if err := bunstore.Migrate(ctx, db); err != nil {
			t.Fatalf("Migrate after Rollback: %v", err)
		}
		if got := indexesOf(t, db); !slices.Equal(got, want) {
			t.Fatalf("indexes after down and up:\n%v\nwant\n%v", got, want)
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_events WHERE invite_id = ?", bounced.InviteID); n != events-1 {
			t.Fatalf("after down and up, %d events of the bounced invite, want %d (all but the bounce)", n, events-1)
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_deliveries WHERE trace = ''"); n != 1 {
			t.Fatalf("after down and up, %d deliveries with an empty trace, want 1", n)
		}
		last := countRows(t, db, "SELECT max(id) FROM invites_events")
		ids, err := store.Forget(ctx, invites.ForgetParams{Now: base, TenantID: "acme", Email: bounced.Invite.EmailNorm(), ActorID: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != bounced.InviteID {
			t.Fatalf("Forget after down and up erased %v, want [%v]", ids, bounced.InviteID)
		}
		if n := countRows(t, db, "SELECT count(*) FROM invites_events WHERE id > ? AND type = 'forgotten'", last); n != 1 {
			t.Fatal("after down and up, the EventForgotten did not get a new id")
		}
	})
}

// hookLog records the events a QueryHook sees, checking that each
// AfterQuery follows its BeforeQuery.
type hookLog struct {
	mu     sync.Mutex
	before map[*bun.QueryEvent]bool
	after  []*bun.QueryEvent
	broken []string
}

func (h *hookLog) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.StartTime.IsZero() || e.DB == nil {
		h.broken = append(h.broken, "an event without StartTime or DB: "+e.Query)
	}
	h.before[e] = true
	return ctx
}

func (h *hookLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.before[e] {
		h.broken = append(h.broken, "AfterQuery without BeforeQuery: "+e.Query)
	}
	if e.Err != nil {
		h.broken = append(h.broken, "an error: "+e.Err.Error())
	}
	h.after = append(h.after, e)
}

// prepared returns the templates of the statements seen that ran
// prepared: those sent with $n placeholders, not bun's inlined values.
func (h *hookLog) prepared() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.after {
		if strings.Contains(e.Query, "$1") && e.QueryTemplate != e.Query {
			out = append(out, e.QueryTemplate)
		}
	}
	return out
}

// WithQueryHook sees the statements the Store prepares, each hot path's
// (insert, claim, accept and a list's page), as well as bun's own.
func TestQueryHookSeesPreparedStatements(t *testing.T) {
	db := testdb.Postgres(t)
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	h := &hookLog{before: map[*bun.QueryEvent]bool{}}
	store := bunstore.New(db, bunstore.WithQueryHook(h))
	ctx := t.Context()
	if _, err := store.Insert(ctx, invites.InsertParams{LedgerKey: ledgerKey, Now: base, Invites: batch("acme", 3)}); err != nil {
		t.Fatal(err)
	}
	p := claimAt(t, base, 3, time.Minute)
	claims, err := store.ClaimDeliveries(ctx, p)
	if err != nil || len(claims) != 3 {
		t.Fatalf("claim: %v, %d claims", err, len(claims))
	}
	if _, err := store.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: base, Digest: p.Digests[0], ActorID: "u1",
		From: []invites.Status{invites.StatusPending}, Live: true,
		Edit: invites.Edit{Status: invites.StatusAccepted, AcceptedByUserID: "u1", Event: invites.EventAccepted}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.List(ctx, invites.ListParams{TenantID: "acme", Now: base, Limit: 21,
		Order: invites.Order{Field: invites.OrderCreatedAt}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, invites.GetParams{TenantID: "acme", ID: claims[0].InviteID}); err != nil {
		t.Fatal(err)
	}
	got := h.prepared()
	for _, want := range []struct{ path, text string }{
		{"insert", "jsonb_to_recordset"},
		{"claim", "INSERT INTO invites_tokens"},
		{"accept", "WITH u AS (UPDATE invites"},
		{"list page", "(SELECT count(*) FROM invites WHERE"},
	} {
		if !slices.ContainsFunc(got, func(q string) bool { return strings.Contains(q, want.text) }) {
			t.Errorf("the hook saw no prepared statement of the %s (%q) among %d", want.path, want.text, len(got))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.broken) > 0 {
		t.Fatalf("the hook saw: %v", h.broken)
	}
	if !slices.ContainsFunc(h.after, func(e *bun.QueryEvent) bool {
		return strings.HasPrefix(e.Query, "SELECT id, tenant_id") && strings.Contains(e.Query, "'acme'")
	}) {
		t.Fatal("the hook did not see Get, which bun formats")
	}
}
