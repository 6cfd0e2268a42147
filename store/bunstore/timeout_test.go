package bunstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/token"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// scanTenant is the size of the tenant a pattern filter scans: tens of
// milliseconds on either database, far past a bound of 1 ms.
const scanTenant = 30_000

// seedScan adds scanTenant accepted invites of tenant "scan0".
func seedScan(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := t.Context()
	if db.Dialect().Name() == dialect.PG {
		if err := seedTenants(ctx, db, "scan", 1, scanTenant); err != nil {
			t.Fatal(err)
		}
		return
	}
	const at = "'2030-01-01 00:00:00.000000'"
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < ? - 1)
		INSERT INTO invites (id, tenant_id, email, email_norm, first_name, last_name, first_name_fold, last_name_fold,
			locale, roles, status, status_updated_at, expires_at, send_count, last_sent_at, delivery_status,
			created_by_user_id, created_at, updated_at)
		SELECT printf('%08x-0000-7000-8000-%012x', n, n), 'scan0', 'user' || n || '@example.com', 'user' || n || '@example.com',
			'First' || n, 'Last' || n, 'first' || n, 'last' || n, 'en-US', '["member"]', 'accepted', `+at+`, `+at+`, 1, `+at+`,
			'sent', 'inviter', `+at+`, `+at+` FROM g`, scanTenant); err != nil {
		t.Fatal(err)
	}
}

// scanQuery matches no invite, so it reads every row of the tenant.
var scanQuery = invites.Query{Where: invites.Filter{Email: invites.StringFilter{ILike: "%zzz%"}}}

// On PostgreSQL the server itself stops a list past ListParams.Timeout,
// with no deadline on the context: the store answers ErrUnavailable.
func TestListTimeoutStopsTheServer(t *testing.T) {
	db := testdb.Postgres(t)
	store := migrated(t, db)
	seedScan(t, db)
	p := invites.ListParams{TenantID: "scan0", Now: base, Where: scanQuery.Where}
	p.Limit, p.Order.Field = 21, invites.OrderCreatedAt
	if _, total, err := store.List(t.Context(), p); err != nil || total != 0 {
		t.Fatalf("unbounded list = %d, %v", total, err)
	}
	p.Timeout = time.Millisecond
	_, _, err := store.List(t.Context(), p)
	var pg *pgconn.PgError
	if !errors.Is(err, invites.ErrUnavailable) || !errors.As(err, &pg) || pg.Code != "57014" {
		t.Fatalf("list past its timeout = %v, want ErrUnavailable from query_canceled", err)
	}
	// The bound was the list's own: the connection is back in the pool
	// without it.
	var setting string
	if err := db.QueryRowContext(t.Context(), "SHOW statement_timeout").Scan(&setting); err != nil || setting != "0" {
		t.Fatalf("statement_timeout after the list = %q, %v", setting, err)
	}
}

// Through the Service, a list that scans past Config.ListTimeout answers
// ErrUnavailable on both databases, and the store serves the next call.
func TestSlowListIsUnavailable(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		store := migrated(t, db)
		seedScan(t, db)
		svc := func(timeout time.Duration) *invites.Service {
			s, err := invites.New(store, mailertest.New(), invites.Config{Tokens: token.Issuer{},
				AcceptURL: func(invites.Token) string { return "/" }, ListTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		actor := invites.Actor{UserID: "u", TenantID: "scan0"}
		_, err := svc(time.Millisecond).List(t.Context(), actor, scanQuery)
		if !errors.Is(err, invites.ErrUnavailable) {
			t.Fatalf("list past ListTimeout = %v, want ErrUnavailable", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		page, err := svc(0).List(ctx, actor, scanQuery)
		if err != nil || page.TotalCount != 0 {
			t.Fatalf("list within the default bound = %d, %v", page.TotalCount, err)
		}
	})
}
