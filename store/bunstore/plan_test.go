package bunstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
)

// seedTenants fills a PostgreSQL invites table in one statement: perTenant
// invites in each of tenants tenants named prefix0..., each tenant's in
// every status, created a second apart. Emails are userN@example.com, first names FirstN.
func seedTenants(ctx context.Context, db bun.IDB, prefix string, tenants, perTenant int) error {
	_, err := db.ExecContext(ctx, `INSERT INTO invites (id, tenant_id, email, email_norm, first_name, last_name,
		locale, roles, status, status_updated_at, expires_at, send_count, last_sent_at, delivery_status,
		created_by_user_id, created_at, updated_at)
		SELECT gen_random_uuid(), ? || (g % ?), 'user' || g || '@example.com', 'user' || g || '@example.com',
			'First' || g, 'Last' || (g % 1000), 'en-US', '["member"]',
			(ARRAY['pending', 'accepted', 'declined', 'canceled', 'pending'])[1 + (g / ?) % 5],
			t, t + interval '7 days', 1, t, 'sent', 'inviter' || (g % 7), t, t
		FROM generate_series(0, ? - 1) AS g,
			LATERAL (SELECT timestamptz '2030-01-01' + g * interval '1 second' AS t) AS ts`,
		prefix, tenants, tenants, tenants*perTenant)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "VACUUM ANALYZE invites")
	return err
}

// queryLog keeps the SQL of the statements a database runs.
type queryLog struct{ statementCounter }

func (l *queryLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stmts = append(l.stmts, e.Query)
}

// planNodes flattens an EXPLAIN (FORMAT JSON) plan.
func planNodes(node map[string]any, out *[]map[string]any) {
	*out = append(*out, node)
	subs, _ := node["Plans"].([]any)
	for _, s := range subs {
		if m, ok := s.(map[string]any); ok {
			planNodes(m, out)
		}
	}
}

// Every list a page can ask for reads the invites table through one of
// the tenant's indexes, never by scanning the table; then only the page's
// rows, by id.
func TestListPlansUseTheTenantIndex(t *testing.T) {
	db := testdb.Postgres(t)
	migrated(t, db)
	ctx := t.Context()
	if err := seedTenants(ctx, db, "tenant-", 200, 100); err != nil {
		t.Fatal(err)
	}
	log := &queryLog{}
	store := unprepared(t, db, log)
	now := time.Date(2030, 1, 1, 6, 0, 0, 0, time.UTC)
	after := &invites.Cursor{Time: now, Text: "pending", ID: [16]byte{1}}
	status := func(st invites.Status) invites.StatusFilter {
		return invites.StatusFilter{ValueIn: []invites.Status{st}}
	}
	is := func(v string) invites.ValueFilter { return invites.ValueFilter{EqualTo: &v} }
	// The lists as the Service resolves a Query: its Statuses, Email and
	// CreatedByUserID folded into Where.
	for _, c := range []struct {
		name string
		p    invites.ListParams
	}{
		{"plain", invites.ListParams{}},
		{"status and search", invites.ListParams{Where: invites.Filter{Status: status(invites.StatusPending)}, Search: "user1"}},
		{"expired, by inviter, created range", invites.ListParams{
			Where:        invites.Filter{Status: status(invites.StatusExpired), CreatedByUserID: is("inviter3")},
			CreatedAfter: now.Add(-time.Hour), CreatedBefore: now}},
		{"email", invites.ListParams{Where: invites.Filter{Email: invites.StringFilter{ValueFilter: is("User42@example.com")}}}},
		{"by email desc, cursor", invites.ListParams{Order: invites.Order{Field: invites.OrderEmail, Desc: true}, After: after}},
		{"by updatedAt, cursor", invites.ListParams{Order: invites.Order{Field: invites.OrderUpdatedAt}, After: after}},
		{"by status, cursor", invites.ListParams{Order: invites.Order{Field: invites.OrderStatus}, After: after}},
		{"created desc, cursor", invites.ListParams{Order: invites.Order{Desc: true}, After: after}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.p.TenantID, c.p.Now, c.p.Limit = "tenant-7", now, 20
			log.take()
			if _, _, err := store.List(ctx, c.p); err != nil {
				t.Fatal(err)
			}
			stmts := log.take()
			if len(stmts) == 0 {
				t.Fatal("List ran no statement")
			}
			indexes, _ := tenantPlan(t, db, stmts[0], false)
			t.Logf("indexes: %s", fmt.Sprint(indexes))
		})
	}
}

// tenantPlan EXPLAINs stmt (with ANALYZE when analyze is set) and fails
// unless it reads invites only through indexes led by the tenant, the
// primary key by id for the rows of the page, or the pending past their
// expiry. It returns the indexes read
// and, with analyze, the execution time in milliseconds.
func tenantPlan(t *testing.T, db bun.IDB, stmt string, analyze bool) ([]string, float64) {
	t.Helper()
	opts := "FORMAT JSON"
	if analyze {
		opts = "ANALYZE, " + opts
	}
	nodes, js, ms := explain(t, db, opts, stmt)
	var indexes []string
	byID := false
	for _, n := range nodes {
		if n["Node Type"] == "Seq Scan" && n["Relation Name"] == "invites" {
			t.Fatalf("the plan scans the whole invites table:\n%s", js)
		}
		name, ok := n["Index Name"].(string)
		if !ok {
			continue
		}
		cond, _ := n["Index Cond"].(string)
		if name == "invites_pkey" && strings.Contains(cond, "id =") {
			byID = true // reading rows picked by id: the page's, or a filter's
			continue
		}
		if name == "invites_pending_expiry_idx" && strings.HasPrefix(cond, "(expires_at <=") {
			// The pending invites past their expiry, of every tenant: the
			// few the worker's ExpireDue has yet to mark, and the planner
			// takes this way only while its statistics say they are few.
			indexes = append(indexes, name)
			continue
		}
		if !strings.Contains(cond, "tenant_id =") {
			t.Fatalf("the plan reads index %s without the tenant (%q):\n%s", name, cond, js)
		}
		indexes = append(indexes, name)
	}
	if len(indexes) == 0 && !byID {
		t.Fatalf("the plan reads invites through no index:\n%s", js)
	}
	return indexes, ms
}

// explain runs EXPLAIN (opts) stmt, opts including FORMAT JSON, and
// returns the plan's nodes, its JSON, and with ANALYZE the execution
// time in milliseconds.
func explain(t *testing.T, db bun.IDB, opts, stmt string) ([]map[string]any, string, float64) {
	t.Helper()
	var plan []struct {
		Plan          map[string]any
		ExecutionTime float64 `json:"Execution Time"`
	}
	var js string
	if err := db.QueryRowContext(t.Context(), "EXPLAIN ("+opts+") "+stmt).Scan(&js); err != nil {
		t.Fatalf("EXPLAIN %s: %v", stmt, err)
	}
	if err := json.Unmarshal([]byte(js), &plan); err != nil || len(plan) != 1 {
		t.Fatalf("EXPLAIN output: %v", err)
	}
	var nodes []map[string]any
	planNodes(plan[0].Plan, &nodes)
	return nodes, js, plan[0].ExecutionTime
}

// unprepared returns a Store on one connection of db, with hook: on a
// bun.Conn the Store prepares nothing, so hook sees every statement with
// its values, to EXPLAIN.
func unprepared(t *testing.T, db *bun.DB, hook bun.QueryHook) *bunstore.Store {
	t.Helper()
	conn, err := db.WithQueryHook(hook).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return bunstore.New(conn)
}
