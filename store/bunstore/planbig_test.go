package bunstore_test

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// scaleTenant is the size of the one large tenant of TestListPlansAtScale.
const scaleTenant = 100_000

// seedBig adds scaleTenant invites of tenant "big" in one statement, with
// every column a filter or order reads varied: names and their folds,
// five locales, every status, inviters, acceptors on accepted invites.
func seedBig(ctx context.Context, db bun.IDB) error {
	_, err := db.ExecContext(ctx, `INSERT INTO invites (id, tenant_id, email, email_norm, first_name, last_name,
		first_name_fold, last_name_fold, locale, roles, status, status_updated_at, expires_at, send_count,
		last_sent_at, delivery_status, created_by_user_id, accepted_by_user_id, created_at, updated_at)
		SELECT gen_random_uuid(), 'big', 'User' || g || '@Example.com', 'user' || g || '@example.com',
			'First' || (g % 5000), 'Last' || (g % 1000), 'first' || (g % 5000), 'last' || (g % 1000),
			(ARRAY['en-US', 'de-AT', 'fr', 'de', 'es'])[1 + g % 5], '["member"]', st, t, t + interval '7 days', 1, t,
			'sent', 'inviter' || (g % 7), CASE WHEN st = 'accepted' THEN 'acceptor' || (g % 50) END,
			t, t + (g % 97) * interval '1 minute'
		FROM generate_series(0, ? - 1) AS g,
			LATERAL (SELECT timestamptz '2030-01-01' + g * interval '1 second' AS t,
				(ARRAY['pending', 'accepted', 'declined', 'canceled', 'pending'])[1 + (g / 7) % 5] AS st) AS v`, scaleTenant)
	return err
}

// Every order both ways, and every filter operator, on a tenant of
// 100,000 invites among other tenants' rows, reads invites only through
// the tenant's indexes: first page, deep cursor page and offset page.
// The log (go test -v) has each plan's indexes and EXPLAIN ANALYZE time.
func TestListPlansAtScale(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := t.Context()
	// Rows go in under the first migration's indexes, and the later ones
	// build theirs from the filled table: far faster than inserting into
	// all of them, and it migrates a table with data in it.
	migrateFirst(t, db)
	// The other tenants hold most of the table, as they would in a host's
	// database: with the big tenant most of it, a count reads the whole
	// table faster than an index, and PostgreSQL rightly does so.
	if err := seedBig(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := seedTenants(ctx, db, "tenant-", 2000, 100); err != nil {
		t.Fatal(err)
	}
	migrated(t, db)
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE invites"); err != nil {
		t.Fatal(err)
	}
	log := &queryLog{}
	store := unprepared(t, db, log)
	now := time.Date(2030, 1, 2, 6, 0, 0, 0, time.UTC) // some pending invites have expired
	plan := func(t *testing.T, what string, p invites.ListParams) {
		t.Helper()
		p.TenantID, p.Now = "big", now
		if p.Limit == 0 {
			p.Limit = 21 // a page of 20, as the Service asks
		}
		if p.Order.Field == "" {
			p.Order.Field = invites.OrderCreatedAt
		}
		log.take()
		got, total, err := store.List(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		stmts := log.take()
		if len(stmts) == 0 {
			t.Fatal("List ran no statement")
		}
		indexes, ms := tenantPlan(t, db, stmts[0], true)
		t.Logf("%s: %d of %d rows, %.2f ms, indexes %v", what, len(got), total, ms, indexes)
	}
	for _, o := range orders() {
		t.Run(orderName(o), func(t *testing.T) {
			plan(t, "first page", invites.ListParams{Order: o})
			// The cursor of the 90,000th invite in this order.
			deep, _, err := store.List(ctx, invites.ListParams{TenantID: "big", Now: now,
				Order: o, Limit: 1, Offset: 90_000})
			if err != nil || len(deep) != 1 {
				t.Fatalf("the 90,000th invite: %v", err)
			}
			c := &invites.Cursor{ID: deep[0].ID, Text: invites.OrderText(o.Field, deep[0], now), Time: deep[0].CreatedAt}
			if o.Field == invites.OrderUpdatedAt {
				c.Time = deep[0].UpdatedAt
			}
			plan(t, "cursor at 90,000", invites.ListParams{Order: o, After: c})
			plan(t, "offset 1,000", invites.ListParams{Order: o, Offset: 1000})
		})
	}
	s := func(v string) *string { return &v }
	someID := uuid.MustParse("0190d5a4-0000-7000-8000-000000000000")
	desc := invites.Order{Field: invites.OrderCreatedAt, Desc: true}
	for _, c := range []struct {
		name string
		w    invites.Filter
		o    invites.Order
	}{
		{"id equalTo", invites.Filter{ID: invites.IDFilter{EqualTo: someID}}, desc},
		{"id notEqualTo", invites.Filter{ID: invites.IDFilter{NotEqualTo: someID}}, desc},
		{"id valueIn", invites.Filter{ID: invites.IDFilter{ValueIn: []uuid.UUID{someID, uuid.Max}}}, desc},
		{"id valueNotIn", invites.Filter{ID: invites.IDFilter{ValueNotIn: []uuid.UUID{someID}}}, desc},
		{"email equalTo", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: s("user77@example.com")}}}, desc},
		{"email notEqualTo", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: s("user77@example.com")}}}, desc},
		{"email valueIn", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: []string{"user1@example.com", "user2@example.com"}}}}, desc},
		{"email valueNotIn", invites.Filter{Email: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"user1@example.com"}}}}, desc},
		{"email like", invites.Filter{Email: invites.StringFilter{Like: "User99%"}}, desc},
		{"email iLike", invites.Filter{Email: invites.StringFilter{ILike: "%9999@EXAMPLE.com"}}, desc},
		{"firstName equalTo", invites.Filter{FirstName: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: s("First42")}}}, desc},
		{"firstName iLike, by firstName", invites.Filter{FirstName: invites.StringFilter{ILike: "first42%"}}, invites.Order{Field: invites.OrderFirstName}},
		{"lastName valueIn", invites.Filter{LastName: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueIn: []string{"Last1", "Last2"}}}}, desc},
		{"lastName like, by lastName desc", invites.Filter{LastName: invites.StringFilter{Like: "%\\_%"}}, invites.Order{Field: invites.OrderLastName, Desc: true}},
		{"locale equalTo, by locale", invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: s("fr")}}}, invites.Order{Field: invites.OrderLocale}},
		{"locale iLike", invites.Filter{Locale: invites.StringFilter{ILike: "DE%"}}, desc},
		{"locale valueNotIn", invites.Filter{Locale: invites.StringFilter{ValueFilter: invites.ValueFilter{ValueNotIn: []string{"en-US"}}}}, desc},
		{"status equalTo expired", invites.Filter{Status: invites.StatusFilter{EqualTo: invites.StatusExpired}}, desc},
		{"status notEqualTo", invites.Filter{Status: invites.StatusFilter{NotEqualTo: invites.StatusPending}}, desc},
		{"status valueIn, by status", invites.Filter{Status: invites.StatusFilter{ValueIn: []invites.Status{invites.StatusAccepted, invites.StatusDeclined}}},
			invites.Order{Field: invites.OrderStatus}},
		{"status valueNotIn", invites.Filter{Status: invites.StatusFilter{ValueNotIn: []invites.Status{invites.StatusPending}}}, desc},
		{"createdByUserId valueIn", invites.Filter{CreatedByUserID: invites.ValueFilter{ValueIn: []string{"inviter1", "inviter2"}}}, desc},
		{"createdByUserId notEqualTo", invites.Filter{CreatedByUserID: invites.ValueFilter{NotEqualTo: s("inviter1")}}, desc},
		{"acceptedByUserId equalTo empty", invites.Filter{AcceptedByUserID: invites.ValueFilter{EqualTo: s("")}}, desc},
		{"acceptedByUserId equalTo, by updatedAt", invites.Filter{AcceptedByUserID: invites.ValueFilter{EqualTo: s("acceptor3")}},
			invites.Order{Field: invites.OrderUpdatedAt}},
		{"acceptedByUserId valueNotIn", invites.Filter{AcceptedByUserID: invites.ValueFilter{ValueNotIn: []string{"acceptor3"}}}, desc},
		{"combined, by email", invites.Filter{
			Status:   invites.StatusFilter{ValueIn: []invites.Status{invites.StatusPending}},
			Email:    invites.StringFilter{ILike: "%1%"},
			LastName: invites.StringFilter{ValueFilter: invites.ValueFilter{NotEqualTo: s("Last1")}},
		}, invites.Order{Field: invites.OrderEmail}},
	} {
		t.Run(c.name, func(t *testing.T) { plan(t, "first page", invites.ListParams{Where: c.w, Order: c.o}) })
	}
}

// orders is every order, both ways.
func orders() []invites.Order {
	var out []invites.Order
	for _, f := range []invites.OrderField{invites.OrderCreatedAt, invites.OrderUpdatedAt, invites.OrderEmail,
		invites.OrderStatus, invites.OrderFirstName, invites.OrderLastName, invites.OrderLocale} {
		out = append(out, invites.Order{Field: f}, invites.Order{Field: f, Desc: true})
	}
	return out
}

func orderName(o invites.Order) string {
	if o.Desc {
		return "-" + string(o.Field)
	}
	return fmt.Sprint(o.Field)
}

// migrateFirst applies only the first PostgreSQL migration.
func migrateFirst(t testing.TB, db *bun.DB) { migrateThrough(t, db, "20261123000001") }

// migrateThrough applies the migrations of db's dialect up to the one of
// version last, as one group: a Migrate after it applies the rest as
// another, which Rollback then undoes alone.
func migrateThrough(t testing.TB, db *bun.DB, last string) {
	t.Helper()
	dir := "sqlite"
	if db.Dialect().Name() == dialect.PG {
		dir = "postgres"
	}
	files, err := fs.Glob(bunstore.Migrations, dir+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	some := fstest.MapFS{}
	for _, f := range files {
		name := path.Base(f)
		if name[:len(last)] > last {
			continue
		}
		b, err := fs.ReadFile(bunstore.Migrations, f)
		if err != nil {
			t.Fatal(err)
		}
		some[name] = &fstest.MapFile{Data: b}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(some); err != nil {
		t.Fatal(err)
	}
	m := migrate.NewMigrator(db, ms, migrate.WithTableName("invites_migrations"),
		migrate.WithLocksTableName("invites_migration_locks"), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
}
