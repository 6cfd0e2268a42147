package bunstore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
)

// Each statement that reads the send ledger reads it through the index
// of its shape, on a table never analyzed (autovacuum off, no ANALYZE), so
// whatever the statistics: the address counts, for one address and for a
// batch, through invites_sends_address_idx, the inviter's through
// invites_sends_actor_idx, Prune's through invites_sends_at_idx.
func TestLedgerPlansUseTheirIndex(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := t.Context()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := New(db)
	// 60,000 sends of 50 tenants, 7 inviters and 6,000 addresses, a
	// second apart.
	if _, err := db.ExecContext(ctx, `INSERT INTO invites_sends (tenant_id, actor_id, address, at)
		SELECT 't' || (g % 50), 'u' || (g % 7), sha256(('a' || (g % 6000))::bytea), timestamptz '2030-01-01' + g * interval '1 second'
		FROM generate_series(0, 59999) AS g`); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	key := func(n string) keyRow { return keyRow{"t1", invites.LedgerKey(make([]byte, 32), n)} }
	one, oneArgs := s.batchKeys(1, keyTable{key("a1@x.io")})
	many, manyArgs := s.batchKeys(1, keyTable{key("a1@x.io"), key("a2@x.io"), key("a3@x.io")})
	since := at(now.Add(-24 * time.Hour))
	for _, c := range []struct {
		name, q, index string
		args           []any
	}{
		{"address count, one", addressCount(one), "invites_sends_address_idx", append([]any{since}, oneArgs...)},
		{"address count, a batch", addressCount(many), "invites_sends_address_idx", append([]any{since}, manyArgs...)},
		{"inviter count", `SELECT count(*) FROM invites_sends WHERE tenant_id = ?0 AND actor_id = ?1 AND at > ?2`,
			"invites_sends_actor_idx", []any{"t1", "u1", at(now.Add(-time.Hour))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var plan string
			if err := db.DB.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+dollars(c.q), bound(c.args)...).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			checkPlan(t, c.name, plan, c.index)
		})
	}
	t.Run("prune", func(t *testing.T) {
		w := s.pruneSends(now.Add(-24*time.Hour), 200)
		var plan string
		if err := db.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+w.sql+" DELETE FROM invites_sends WHERE "+w.in, w.args...).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		checkPlan(t, "prune", plan, "invites_sends_at_idx")
	})
}

// checkPlan fails the test when plan, an EXPLAIN (FORMAT JSON), scans
// invites_sends or does not use index.
func checkPlan(t *testing.T, name, plan, index string) {
	t.Helper()
	var doc []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(plan), &doc); err != nil {
		t.Fatal(err)
	}
	var nodes []map[string]any
	flatten(doc[0].Plan, &nodes)
	var used []string
	for _, n := range nodes {
		if n["Relation Name"] == "invites_sends" && strings.Contains(n["Node Type"].(string), "Seq Scan") {
			t.Fatalf("%s scans invites_sends:\n%s", name, plan)
		}
		if ix, ok := n["Index Name"].(string); ok {
			used = append(used, ix)
		}
	}
	if !slices.Contains(used, index) {
		t.Fatalf("%s uses %v, not %s:\n%s", name, used, index, plan)
	}
}

// flatten lists the nodes of an EXPLAIN (FORMAT JSON) plan.
func flatten(node map[string]any, out *[]map[string]any) {
	*out = append(*out, node)
	subs, _ := node["Plans"].([]any)
	for _, s := range subs {
		if m, ok := s.(map[string]any); ok {
			flatten(m, out)
		}
	}
}
