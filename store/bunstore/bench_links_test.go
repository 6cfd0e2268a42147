package bunstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// joiners is how many joins run at once in BenchmarkJoinByLink.
const joiners = 8

// BenchmarkJoinByLink joins users through links at concurrency 8, on one
// link (every join waits for the one before on its row lock) and on 64:
// ours is Service.JoinByLink with an OnJoin writing the host's membership
// row in the join's transaction (TxFromContext); raw is pgx, written from
// the schema, doing the same work with bound parameters: lock the link by
// its digest with the user's earlier use and the minute's uses, check it,
// then count the use, record it, write the membership row and the event,
// and commit. Each side joins b.N users on links of its own; it reports
// joins/s of each and joins-ours/raw, their ratio (higher is better).
func BenchmarkJoinByLink(b *testing.B) {
	for _, links := range []int{1, 64} {
		b.Run(fmt.Sprintf("links=%d", links), func(b *testing.B) { benchJoin(b, links) })
	}
}

func benchJoin(b *testing.B, links int) {
	db := testdb.Postgres(b)
	db.SetMaxOpenConns(joiners + 2)
	store := migrated(b, db)
	pool := rawPool(b, db)
	ctx := b.Context()
	if _, err := db.ExecContext(ctx, "CREATE TABLE members (tenant_id text, user_id text, PRIMARY KEY (tenant_id, user_id))"); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	svc, err := invites.New(store, mailertest.New(), invites.Config{
		Tokens: token.Issuer{}, AcceptURL: func(tok invites.Token) string { return tok.Reveal() },
		MaxLinkUses: 1 << 30, LinkUsesPerMinute: -1, MaxActiveLinks: -1,
		Now: func() time.Time { return now },
		OnJoin: func(ctx context.Context, l invites.Link, j invites.Joiner) error {
			tx, _ := bunstore.TxFromContext(ctx)
			_, err := tx.ExecContext(ctx, "INSERT INTO members (tenant_id, user_id) VALUES (?, ?)", l.TenantID, j.UserID)
			return err
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	actor := invites.Actor{TenantID: "acme", UserID: "admin", Roles: []string{"member"}}
	ours := make([]string, links)
	raws := make([][]byte, links)
	for i := range links {
		c, err := svc.CreateLink(ctx, actor, invites.LinkSpec{MaxUses: 1 << 30, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		ours[i] = c.Token.Reveal()
		d := sha256.Sum256(fmt.Appendf(nil, "raw%d", i))
		raws[i] = d[:]
		if _, err := pool.Exec(ctx, `INSERT INTO invites_links (id, tenant_id, token_digest, roles, max_uses, created_by_user_id,
			created_at, expires_at) VALUES ($1, 'acme', $2, '["member"]', $3, 'admin', $4, $5)`,
			uuid.New(), raws[i], 1<<30, now, now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	ourJoin := func(i int, user string) error {
		_, err := svc.JoinByLink(ctx, ours[i%links], invites.Joiner{UserID: "o" + user})
		return err
	}
	rawJoin := func(i int, user string) error { return rawJoinLink(ctx, pool, raws[i%links], "r"+user, now) }
	// Warm both pools' connections (and pgx's statement cache) first.
	for i := range 2 * joiners {
		if err := ourJoin(i, fmt.Sprintf("warm%d", i)); err != nil {
			b.Fatal(err)
		}
		if err := rawJoin(i, fmt.Sprintf("warm%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	// Ours and raw take turns, a quarter of the joins each time, so both
	// see the same machine.
	var o, r time.Duration
	for q := range 4 {
		from, to := b.N*q/4, b.N*(q+1)/4
		o += concurrently(b, from, to, ourJoin)
		r += concurrently(b, from, to, rawJoin)
	}
	b.ReportMetric(float64(b.N)/o.Seconds(), "ours-joins/s")
	b.ReportMetric(float64(b.N)/r.Seconds(), "raw-joins/s")
	b.ReportMetric(r.Seconds()/o.Seconds(), "joins-ours/raw")
}

// concurrently runs join for from..to-1, each with a user of its own, on
// joiners goroutines and returns the time they took.
func concurrently(b *testing.B, from, to int, join func(i int, user string) error) time.Duration {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, joiners)
	start := time.Now()
	for range joiners {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < to; i = int(next.Add(1)) - 1 {
				if err := join(i, fmt.Sprintf("u%d", i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return took
}

var errRawRefused = errors.New("raw join refused")

// rawJoinLink is a join as a host on pgx alone writes it.
func rawJoinLink(ctx context.Context, pool *pgxpool.Pool, digest []byte, user string, now time.Time) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var (
			id            uuid.UUID
			maxUses, uses int
			expires       time.Time
			revoked       *time.Time
			joined        bool
			recent        int
		)
		err := tx.QueryRow(ctx, `SELECT l.id, l.max_uses, l.uses, l.expires_at, l.revoked_at,
			EXISTS (SELECT 1 FROM invites_link_uses u WHERE u.link_id = l.id AND u.user_id = $2),
			(SELECT count(*) FROM invites_link_uses u WHERE u.link_id = l.id AND u.at > $3)
			FROM invites_links l WHERE l.token_digest = $1 FOR NO KEY UPDATE`, digest, user, now.Add(-time.Minute)).
			Scan(&id, &maxUses, &uses, &expires, &revoked, &joined, &recent)
		if err != nil {
			return err
		}
		if revoked != nil || uses >= maxUses || !expires.After(now) || joined || recent < 0 {
			return errRawRefused
		}
		_, err = tx.Exec(ctx, `WITH u AS (UPDATE invites_links SET uses = uses + 1 WHERE id = $1 RETURNING tenant_id),
			j AS (INSERT INTO invites_link_uses (link_id, user_id, at) VALUES ($1, $2, $3)),
			e AS (INSERT INTO invites_events (invite_id, tenant_id, type, actor_id, at, due_at)
				SELECT $1, tenant_id, 'link_used', $2, $3, $3 FROM u)
			INSERT INTO members (tenant_id, user_id) SELECT tenant_id, $2 FROM u`, id, user, now)
		return err
	})
}
