package bunstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
)

// BenchmarkListOrderByStatus lists a page of 20 (21 asked, as the Service
// asks) of a tenant of 100,000 invites in status order and in createdAt
// order, each way, as its first page and as a page by a cursor 90,000 rows
// deep, the orders taking turns in each iteration; it reports each
// status/createdAt ratio of median times. Status is read at a Now when a
// fifth of the pending invites have passed their expiry. The store is
// given the Service's default list timeout, so both run as through it.
func BenchmarkListOrderByStatus(b *testing.B) {
	db := testdb.Postgres(b)
	ctx := b.Context()
	migrateFirst(b, db)
	if err := seedBig(ctx, db); err != nil {
		b.Fatal(err)
	}
	if err := seedTenants(ctx, db, "tenant-", 1000, 100); err != nil {
		b.Fatal(err)
	}
	store := migrated(b, db)
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE invites"); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2030, 1, 8, 5, 0, 0, 0, time.UTC)
	list := func(o invites.Order, offset int, after *invites.Cursor, limit int) []invites.Invite {
		got, total, err := store.List(ctx, invites.ListParams{TenantID: "big", Now: now, Timeout: 5 * time.Second, After: after,
			Order: o, Limit: limit, Offset: offset})
		if err != nil || total != scaleTenant || len(got) != limit {
			b.Fatalf("List(%+v): %d rows of %d, %v", o, len(got), total, err)
		}
		return got
	}
	type series struct {
		name string
		o    invites.Order
		deep *invites.Cursor
		ds   []time.Duration
	}
	var all []*series
	for _, desc := range []bool{false, true} {
		for _, f := range []invites.OrderField{invites.OrderStatus, invites.OrderCreatedAt} {
			o := invites.Order{Field: f, Desc: desc}
			at := list(o, 90_000, nil, 1)[0]
			deep := &invites.Cursor{ID: at.ID, Text: invites.OrderText(f, at, now), Time: at.CreatedAt}
			for _, c := range []*invites.Cursor{nil, deep} {
				name := fmt.Sprintf("%s-desc=%t-", f, desc)
				if c == nil {
					name += "first"
				} else {
					name += "deep"
				}
				all = append(all, &series{name: name, o: o, deep: c})
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		for _, s := range all {
			t := time.Now()
			list(s.o, 0, s.deep, 21)
			s.ds = append(s.ds, time.Since(t))
		}
	}
	b.StopTimer()
	med := map[string]time.Duration{}
	for _, s := range all {
		slices.Sort(s.ds)
		med[s.name] = s.ds[len(s.ds)/2]
	}
	for _, desc := range []bool{false, true} {
		for _, page := range []string{"first", "deep"} {
			st := med[fmt.Sprintf("status-desc=%t-%s", desc, page)]
			cr := med[fmt.Sprintf("createdAt-desc=%t-%s", desc, page)]
			dir := "asc"
			if desc {
				dir = "desc"
			}
			b.ReportMetric(float64(st.Microseconds())/1000, dir+"-"+page+"-status-ms")
			b.ReportMetric(float64(cr.Microseconds())/1000, dir+"-"+page+"-createdAt-ms")
			b.ReportMetric(float64(st)/float64(cr), dir+"-"+page+"-status/createdAt")
		}
	}
}
