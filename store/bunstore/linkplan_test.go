package bunstore_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/uptrace/bun"
)

// seedLinks loads, into freshly migrated tables never analyzed,
// freshRows links of 100 tenants made one every 20 seconds up to
// freshNow by 7 creators, each with one use and its EventLinkCreated;
// every seventh is revoked and every sixth used up.
func seedLinks(ctx context.Context, t *testing.T, db bun.IDB) {
	t.Helper()
	for _, table := range []string{"invites_links", "invites_link_uses", "invites_events"} {
		if _, err := db.ExecContext(ctx, "ALTER TABLE "+table+" SET (autovacuum_enabled = false)"); err != nil {
			t.Fatal(err)
		}
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`INSERT INTO invites_links (id, tenant_id, token_digest, roles, max_uses, uses, created_by_user_id,
				created_at, expires_at, revoked_at)
				SELECT md5('l' || g)::uuid, 't' || g % 100, sha256(CAST('link' || g AS bytea)), '["member"]', 6,
					CASE WHEN g % 6 = 0 THEN 6 ELSE 1 END, 'inviter' || g % 7, c, c + interval '30 days',
					CASE WHEN g % 7 = 0 THEN c + interval '1 hour' END
				FROM generate_series(0, ?0 - 1) AS g,
					LATERAL (SELECT timestamptz '2030-06-01 12:00:00+00' - (?0 - g) * interval '20 seconds' AS c) AS ts`,
			`INSERT INTO invites_link_uses (link_id, user_id, at) SELECT id, 'user' || created_at, created_at + interval '1 minute' FROM invites_links`,
			`INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at, handled)
				SELECT id, tenant_id, 'link_created', created_by_user_id, created_at, created_at, TRUE FROM invites_links`,
		} {
			if _, err := tx.ExecContext(ctx, q, freshRows); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	neverAnalyzed(t, db)
}

// Every statement of the link methods reads invites_links,
// invites_link_uses and invites_events through an index on tables of
// 100,000 rows never analyzed, as TestPlansWithoutStatistics checks the
// invites' statements.
func TestLinkPlansWithoutStatistics(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := t.Context()
	if err := bunstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	seedLinks(ctx, t, db)
	log := &sqlLog{}
	svc, err := invites.New(bunstore.New(db, bunstore.WithQueryHook(log)), mailertest.New(), invites.Config{
		Tokens:         token.Issuer{},
		AcceptURL:      func(tok invites.Token) string { return tok.Reveal() },
		MaxActiveLinks: 1_000_000,
		Now:            func() time.Time { return freshNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	actor := invites.Actor{UserID: "inviter3", TenantID: "t3", Roles: []string{"member"}}
	var made invites.CreatedLink
	var explained int
	for _, c := range []struct {
		name string
		run  func() error
		must []string
	}{
		{"create", func() (err error) {
			made, err = svc.CreateLink(ctx, actor, invites.LinkSpec{MaxUses: 5, TTL: time.Hour})
			return err
		}, []string{"pg_advisory_xact_lock", "SELECT count(*) FROM invites_links", "INSERT INTO invites_links"}},
		{"check and join", func() error {
			if _, err := svc.CheckLink(ctx, made.Token.Reveal()); err != nil {
				return err
			}
			_, err := svc.JoinByLink(ctx, made.Token.Reveal(), invites.Joiner{UserID: "joiner"})
			return err
		}, []string{"WHERE token_digest =", "UPDATE invites_links SET uses = uses + 1"}},
		{"join a used-up link", func() error {
			c, err := svc.CreateLink(ctx, actor, invites.LinkSpec{MaxUses: 1, TTL: time.Hour})
			if err != nil {
				return err
			}
			if _, err := svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: "first"}); err != nil {
				return err
			}
			_, err = svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: "second"})
			if !errors.Is(err, invites.ErrLinkExhausted) {
				return fmt.Errorf("a join of a used-up link: %v, want ErrLinkExhausted", err)
			}
			return nil
		}, []string{"FOR NO KEY UPDATE", "SELECT EXISTS (SELECT 1 FROM invites_link_uses"}},
		{"get, uses and history", func() error {
			if _, err := svc.GetLink(ctx, actor, made.Link.ID); err != nil {
				return err
			}
			if _, err := svc.LinkUses(ctx, actor, made.Link.ID); err != nil {
				return err
			}
			_, err := svc.LinkHistory(ctx, actor, made.Link.ID)
			return err
		}, []string{"FROM invites_link_uses WHERE link_id", "FROM invites_events"}},
		{"list", func() error {
			p, err := svc.ListLinks(ctx, actor, invites.LinkQuery{Limit: 5})
			if err != nil {
				return err
			}
			for _, q := range []invites.LinkQuery{
				{Cursor: p.NextCursor},
				{Statuses: []invites.LinkStatus{invites.LinkActive, invites.LinkExpired}},
				{Statuses: []invites.LinkStatus{invites.LinkRevoked}, CreatedByUserID: "inviter3", Cursor: p.NextCursor},
			} {
				if _, err := svc.ListLinks(ctx, actor, q); err != nil {
					return err
				}
			}
			return nil
		}, []string{"ORDER BY created_at DESC, id DESC", "created_by_user_id ="}},
		{"rotate and revoke", func() error {
			r, err := svc.RotateLink(ctx, actor, made.Link.ID)
			if err != nil {
				return err
			}
			_, err = svc.RevokeLink(ctx, actor, r.Link.ID)
			return err
		}, []string{"UPDATE invites_links SET revoked_at"}},
		{"revoke by creator", func() error {
			ls, err := svc.RevokeLinksBy(ctx, actor, "inviter3")
			if err == nil && len(ls) == 0 {
				err = fmt.Errorf("RevokeLinksBy revoked none")
			}
			return err
		}, []string{"created_by_user_id = "}},
	} {
		t.Run(c.name, func(t *testing.T) { planCase(t, db, &conn, log, &explained, c.run, c.must) })
	}
	// The join's statement counts the recent uses by a function, whose
	// query its EXPLAIN does not show: its generic plan, as PL/pgSQL
	// caches it.
	t.Run("recent uses", func(t *testing.T) {
		var src string
		if err := conn.QueryRowContext(ctx, `SELECT prosrc FROM pg_proc
			WHERE proname = 'invites_link_recent_uses' AND pronamespace = current_schema()::regnamespace`).Scan(&src); err != nil {
			t.Fatal(err)
		}
		q := regexp.MustCompile(`SELECT count\(\*\) FROM invites_link_uses WHERE [^)]*`).FindString(src)
		if q == "" {
			t.Fatalf("invites_link_recent_uses holds no count of invites_link_uses: %s", src)
		}
		q = strings.NewReplacer("link_id = link", "link_id = $1", "at > since", "at > $2").Replace(q)
		if _, err := conn.ExecContext(ctx, "PREPARE recent_uses (uuid, timestamptz) AS "+q); err != nil {
			t.Fatal(err)
		}
		idx := scanFree(t, &conn, q, fmt.Sprintf("EXPLAIN (FORMAT JSON) EXECUTE recent_uses('%s', '2030-06-01 12:00:00+00')", made.Link.ID))
		if !slices.Contains(idx, "invites_link_uses_at_idx") {
			t.Errorf("%s reads %v, want invites_link_uses_at_idx", q, idx)
		}
	})
	neverAnalyzed(t, db)
}
