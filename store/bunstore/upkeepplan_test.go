package bunstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/uptrace/bun"
)

// seedOutbox gives each invite of a seeded table a delivery (1 in 100
// queued, the rest sent) and an EventCreated (1 in 100 unhandled), as an
// outbox that keeps up looks.
func seedOutbox(ctx context.Context, db bun.IDB) error {
	for _, q := range []string{
		`INSERT INTO invites_deliveries (id, invite_id, tenant_id, kind, state, attempt, due_at, created_at)
			SELECT gen_random_uuid(), id, tenant_id, 'invitation',
				CASE WHEN hashtext(id::text) % 100 = 0 THEN 'queued' ELSE 'sent' END, 1, created_at, created_at
			FROM invites`,
		`INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at, handled)
			SELECT id, tenant_id, 'created', created_by_user_id, created_at, created_at, hashtext(id::text) % 100 <> 1
			FROM invites`,
		"VACUUM ANALYZE invites",
		"VACUUM ANALYZE invites_deliveries",
		"VACUUM ANALYZE invites_events",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// upkeepTables are the tables no upkeep statement may scan whole.
var upkeepTables = []string{"invites", "invites_events", "invites_deliveries", "invites_tokens"}

// indexPlan EXPLAINs stmt and fails if it scans one of upkeepTables
// whole; it returns the indexes the plan reads.
func indexPlan(t *testing.T, db bun.IDB, stmt string) []string {
	t.Helper()
	nodes, js, _ := explain(t, db, "FORMAT JSON", stmt)
	var indexes []string
	for _, n := range nodes {
		rel, _ := n["Relation Name"].(string)
		if strings.HasPrefix(n["Node Type"].(string), "Seq Scan") && slices.Contains(upkeepTables, rel) {
			t.Fatalf("the plan of\n%s\nscans the whole table %s:\n%s", stmt, rel, js)
		}
		if name, ok := n["Index Name"].(string); ok {
			indexes = append(indexes, name)
		}
	}
	return indexes
}

// Prune's two deletes, Forget's lookup and Stats's counts read their
// partial or address indexes on tables of 200,000 invites, deliveries
// and events, never a whole table.
func TestUpkeepPlansUseIndexes(t *testing.T) {
	db := testdb.Postgres(t)
	migrated(t, db)
	ctx := t.Context()
	if err := seedTenants(ctx, db, "tenant-", 2000, 100); err != nil {
		t.Fatal(err)
	}
	if err := seedOutbox(ctx, db); err != nil {
		t.Fatal(err)
	}
	log := &queryLog{}
	store := unprepared(t, db, log)
	seeded := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // the first invite's times
	for _, c := range []struct {
		name string
		run  func() error
		// want is an index each statement's plan must read, in order of
		// the statements that read invites tables.
		want []string
	}{
		{"Prune", func() error {
			r, err := store.Prune(ctx, invites.PruneParams{InvitesBefore: seeded.Add(40 * time.Minute),
				EventsBefore: seeded.Add(10 * time.Minute), Limit: 200})
			if err == nil && (r.Invites == 0 || r.Events == 0) {
				t.Errorf("Prune deleted %+v, want some of each", r)
			}
			return err
		}, []string{"invites_final_idx", "invites_events_invite_idx", "invites_events_handled_idx"}},
		{"Forget", func() error {
			ids, err := store.Forget(ctx, invites.ForgetParams{Now: seeded, TenantID: "tenant-42", Email: "user42042@example.com", ActorID: "admin", Limit: 200})
			if err == nil && len(ids) != 1 {
				t.Errorf("Forget erased %v, want one invite", ids)
			}
			return err
		}, []string{"invites_tenant_email_idx", "invites_events_invite_idx", ""}},
		{"Stats", func() error {
			st, err := store.Stats(ctx, invites.StatsParams{Now: seeded.Add(100 * 24 * time.Hour)})
			if err == nil && (st.Queued == 0 || st.UnhandledEvents == 0) {
				t.Errorf("Stats %+v, want queued deliveries and unhandled events", st)
			}
			return err
		}, []string{"invites_deliveries_due_idx", "invites_events_due_idx", "invites_counts_pkey"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			log.take()
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
			var stmts []string
			for _, q := range log.take() {
				if strings.Contains(q, "invites") {
					stmts = append(stmts, q)
				}
			}
			if len(stmts) != len(c.want) {
				t.Fatalf("%d statements, want %d: %q", len(stmts), len(c.want), stmts)
			}
			for i, q := range stmts {
				got := indexPlan(t, db, q)
				t.Logf("%s: indexes %v", q[:min(len(q), 60)], got)
				if c.want[i] != "" && !slices.Contains(got, c.want[i]) {
					t.Errorf("the plan of\n%s\nreads %v, not %s", q, got, c.want[i])
				}
			}
		})
	}
}
