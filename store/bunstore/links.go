package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// The links of invites.LinkStore, in invites_links and invites_link_uses
// (migration 20261206000020_links). A join locks its link's row (on
// PostgreSQL by the UPDATE of its uses, a FOR NO KEY UPDATE lock, which
// the uses' foreign key does not wait for; SQLite's immediate transaction
// excludes every other writer), so joins of one link run one after
// another and the counts Decide gets hold for the write. Creations of a
// tenant take its links lock (an advisory lock on PostgreSQL) before they
// count its active links.

var _ invites.LinkStore = (*Store)(nil)

// linkCols are the columns scanLink reads, in its order.
const linkCols = "id, tenant_id, roles, max_uses, uses, allowed_domains, note, created_by_user_id, " +
	"created_at, expires_at, revoked_at, revoked_by_user_id"

// activeLink is the SQL of a link active at the time of its placeholder.
const activeLink = "revoked_at IS NULL AND uses < max_uses AND expires_at > ?"

// scanLink reads one row of linkCols, then extra.
func scanLink(r scanner, extra ...any) (invites.Link, error) {
	var (
		l                invites.Link
		roles, domains   roleList
		created, expires ts
		revoked          sql.Null[ts]
	)
	err := r.Scan(append([]any{&l.ID, &l.TenantID, &roles, &l.MaxUses, &l.Uses, &domains, &l.Note,
		&l.CreatedByUserID, &created, &expires, &revoked, &l.RevokedByUserID}, extra...)...)
	if err != nil {
		return invites.Link{}, err
	}
	l.Roles, l.AllowedDomains = []string(roles), []string(domains)
	l.CreatedAt, l.ExpiresAt = time.Time(created), time.Time(expires)
	if revoked.Valid {
		l.RevokedAt = time.Time(revoked.V)
	}
	return l, nil
}

// scanLinks reads every row of rows.
func scanLinks(rows *sql.Rows, err error) ([]invites.Link, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []invites.Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// linkEvents writes the event typ of each of ls by actor at now.
func linkEvents(ctx context.Context, db bun.IDB, ls []invites.Link, typ invites.EventType, actor string, now time.Time) error {
	evs := make([]event, len(ls))
	for i, l := range ls {
		evs[i] = event{l.ID, l.TenantID, typ, actor, now}
	}
	return writeEvents(ctx, db, evs)
}

// linkTx runs fn in a transaction and answers its error: host's, when
// the host's code (Decide, Hook) failed, as it is; else the store's.
func (s *Store) linkTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx, host *error) error) (err error) {
	defer s.settle(&err)
	s.ready(ctx)
	var host error
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		host = nil
		return fn(ctx, tx, &host)
	})
	if host != nil {
		return host
	}
	return translate(err)
}

// CreateLink implements invites.LinkStore.
func (s *Store) CreateLink(ctx context.Context, p invites.CreateLinkParams) (out invites.Link, err error) {
	l := p.Link
	err = s.linkTx(ctx, func(ctx context.Context, tx bun.Tx, _ *error) error {
		if s.pg {
			if _, err := on(tx).ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "invites.links:"+l.TenantID); err != nil {
				return err
			}
		}
		if p.Replace != uuid.Nil {
			if _, err := revokeOne(ctx, tx, s.forUpdate, l.TenantID, p.Replace, l.CreatedByUserID, p.Now); err != nil {
				return err
			}
		}
		if p.MaxActive > 0 {
			var n int
			err := on(tx).QueryRowContext(ctx, "SELECT count(*) FROM invites_links WHERE tenant_id = ? AND "+activeLink,
				l.TenantID, at(p.Now)).Scan(&n)
			if err != nil {
				return err
			}
			if n >= p.MaxActive {
				return invites.ErrQuotaExceeded
			}
		}
		var err error
		out, err = scanLink(on(tx).QueryRowContext(ctx, `INSERT INTO invites_links (id, tenant_id, token_digest, roles, max_uses,
			allowed_domains, note, created_by_user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+linkCols,
			l.ID, l.TenantID, p.Digest, roleList(l.Roles), l.MaxUses, roleList(l.AllowedDomains), l.Note, l.CreatedByUserID,
			at(l.CreatedAt), at(l.ExpiresAt)))
		if err != nil {
			return err
		}
		return linkEvents(ctx, tx, []invites.Link{out}, invites.EventLinkCreated, l.CreatedByUserID, p.Now)
	})
	if errors.Is(err, invites.ErrQuotaExceeded) {
		return invites.Link{}, invites.ErrQuotaExceeded
	}
	return out, err
}

// revokeOne revokes the link id of tenant in tx, with its event:
// ErrNotFound when there is none, a *LinkRuleError when it is revoked.
func revokeOne(ctx context.Context, tx bun.Tx, lock, tenant string, id uuid.UUID, actor string, now time.Time) (invites.Link, error) {
	cur, err := scanLink(on(tx).QueryRowContext(ctx, "SELECT "+linkCols+" FROM invites_links WHERE tenant_id = ? AND id = ?"+lock, tenant, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return invites.Link{}, invites.ErrNotFound
	case err != nil:
		return invites.Link{}, err
	case !cur.RevokedAt.IsZero():
		return invites.Link{}, &invites.LinkRuleError{Link: cur}
	}
	l, err := scanLink(on(tx).QueryRowContext(ctx, "UPDATE invites_links SET revoked_at = ?, revoked_by_user_id = ? WHERE id = ? RETURNING "+linkCols,
		at(now), actor, id))
	if err != nil {
		return invites.Link{}, err
	}
	return l, linkEvents(ctx, tx, []invites.Link{l}, invites.EventLinkRevoked, actor, now)
}

// RevokeLinks implements invites.LinkStore.
func (s *Store) RevokeLinks(ctx context.Context, p invites.RevokeLinksParams) (out []invites.Link, err error) {
	err = s.linkTx(ctx, func(ctx context.Context, tx bun.Tx, _ *error) error {
		if p.ID != uuid.Nil {
			l, err := revokeOne(ctx, tx, s.forUpdate, p.TenantID, p.ID, p.ActorID, p.Now)
			out = []invites.Link{l}
			return err
		}
		var err error
		out, err = scanLinks(on(tx).QueryContext(ctx, `UPDATE invites_links SET revoked_at = ?, revoked_by_user_id = ?
			WHERE tenant_id = ? AND created_by_user_id = ? AND `+activeLink+" RETURNING "+linkCols,
			at(p.Now), p.ActorID, p.TenantID, p.CreatedBy, at(p.Now)))
		if err != nil || len(out) == 0 {
			return err
		}
		return linkEvents(ctx, tx, out, invites.EventLinkRevoked, p.ActorID, p.Now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// JoinLink implements invites.LinkStore, in one transaction: the use
// (its row, the count and the event) and the facts under the link's lock,
// Decide, then the Hook. On PostgreSQL one statement, pgJoin, takes the
// lock and writes the use, so a join holds the lock for as few round
// trips as a hand-written one (that statement's answer, the Hook's
// statement, the commit); when Decide refuses, the transaction rolls the
// write back.
func (s *Store) JoinLink(ctx context.Context, p invites.JoinLinkParams) (out invites.Link, err error) {
	if len(p.Digest) == 0 {
		return invites.Link{}, invites.ErrInvalidToken
	}
	if s.pg {
		s.warm(ctx, pgJoin) // before the transaction holds a connection
	}
	err = s.linkTx(ctx, func(ctx context.Context, tx bun.Tx, host *error) error {
		f, used, err := s.use(ctx, tx, p)
		if errors.Is(err, sql.ErrNoRows) {
			return invites.ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if p.Decide != nil {
			if *host = p.Decide(ctx, f); *host != nil {
				return *host
			}
		}
		if f.Joined || !used {
			return errors.New("bunstore: a second use by one user, or a use past MaxUses")
		}
		out = f.Link
		out.Uses++
		if p.Hook != nil {
			if *host = p.Hook(context.WithValue(ctx, txKey{}, tx), out); *host != nil {
				return *host
			}
		}
		return nil
	})
	return out, err
}

// pgJoin uses the link of the digest ?0 for the user ?3 at ?1, when it
// has a use left, and answers it as used (linkCols), its uses after ?2
// and whether the user used it before; ?4 is EventLinkUsed. Its UPDATE
// takes the link's lock. In READ COMMITTED a statement that waited for a
// row lock reads that row as the joins it waited for left it, but every
// other table with the snapshot it began with, which misses their uses:
// so the uses after ?2 are counted by invites_link_recent_uses, whose
// query takes a snapshot of its own once the lock is held (it runs in
// RETURNING, before j writes this use), and an earlier use by the user is
// the conflict on the key of invites_link_uses, which every committed row
// raises whatever the snapshot.
const pgJoin = `WITH u AS (UPDATE invites_links SET uses = uses + 1 WHERE token_digest = ?0 AND uses < max_uses
		RETURNING ` + linkCols + `, invites_link_recent_uses(id, CAST(?2 AS timestamptz))),
	j AS (INSERT INTO invites_link_uses (link_id, user_id, at) SELECT id, CAST(?3 AS text), CAST(?1 AS timestamptz) FROM u
		ON CONFLICT DO NOTHING RETURNING link_id),
	e AS (INSERT INTO invites_events (` + eventCols + `)
		SELECT id, tenant_id, CAST(?4 AS text), CAST(?3 AS text), CAST(?1 AS timestamptz), CAST(?1 AS timestamptz) FROM u)
	SELECT u.*, NOT EXISTS (SELECT 1 FROM j) FROM u`

// use reads the LinkFacts of the link of p.Digest, locked, for p.UserID
// and writes a use of it: its row, the count and the event; sql.ErrNoRows
// when there is no link. used is false when the link has no use left or
// the user used it before, and the transaction must then roll back (on
// PostgreSQL, pgJoin wrote the count and the event of a second use by the
// user). On SQLite, whose immediate transaction excludes every other
// writer, and on PostgreSQL for a link pgJoin found no use left in, it
// reads the link under its lock, then the facts, then writes.
func (s *Store) use(ctx context.Context, tx bun.Tx, p invites.JoinLinkParams) (f invites.LinkFacts, used bool, err error) {
	now, since := at(p.Now), at(p.Now.Add(-time.Minute))
	if s.pg {
		f.Link, err = scanLink(s.queryRow(ctx, tx, pgJoin, p.Digest, now, since, p.UserID, string(invites.EventLinkUsed)), &f.RecentUses, &f.Joined)
		if !errors.Is(err, sql.ErrNoRows) {
			f.Link.Uses-- // as stored
			return f, err == nil && !f.Joined, err
		}
	}
	if f.Link, err = scanLink(on(tx).QueryRowContext(ctx, "SELECT "+linkCols+" FROM invites_links WHERE token_digest = ?"+s.forUpdate, p.Digest)); err != nil {
		return f, false, err
	}
	l := f.Link
	err = on(tx).QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM invites_link_uses WHERE link_id = ? AND user_id = ?),
		(SELECT count(*) FROM invites_link_uses WHERE link_id = ? AND at > ?)`, l.ID, p.UserID, l.ID, since).Scan(&f.Joined, &f.RecentUses)
	// On PostgreSQL the link has no use left, or pgJoin would have used it.
	if err != nil || s.pg || f.Joined || l.Uses >= l.MaxUses {
		return f, false, err
	}
	if _, err := on(tx).ExecContext(ctx, "INSERT INTO invites_link_uses (link_id, user_id, at) VALUES (?, ?, ?)", l.ID, p.UserID, now); err != nil {
		return f, false, err
	}
	if _, err := on(tx).ExecContext(ctx, "UPDATE invites_links SET uses = uses + 1 WHERE id = ?", l.ID); err != nil {
		return f, false, err
	}
	return f, true, linkEvents(ctx, tx, []invites.Link{l}, invites.EventLinkUsed, p.UserID, p.Now)
}

// GetLink implements invites.LinkStore.
func (s *Store) GetLink(ctx context.Context, p invites.GetLinkParams) (invites.Link, error) {
	s.ready(ctx)
	if p.Digest != nil {
		l, err := scanLink(on(s.reader).QueryRowContext(ctx, "SELECT "+linkCols+" FROM invites_links WHERE token_digest = ?", p.Digest))
		return l, notFound(err, invites.ErrInvalidToken)
	}
	return getLink(ctx, s.reader, p.TenantID, p.ID)
}

func getLink(ctx context.Context, db bun.IDB, tenant string, id uuid.UUID) (invites.Link, error) {
	l, err := scanLink(on(db).QueryRowContext(ctx, "SELECT "+linkCols+" FROM invites_links WHERE tenant_id = ? AND id = ?", tenant, id))
	return l, notFound(err, invites.ErrNotFound)
}

// linkStatusSQL is the condition of each status, as Link.StatusAt reads
// it at the time of its placeholders.
var linkStatusSQL = map[invites.LinkStatus]string{
	invites.LinkActive:    "(" + activeLink + ")",
	invites.LinkExhausted: "(revoked_at IS NULL AND uses >= max_uses)",
	invites.LinkExpired:   "(revoked_at IS NULL AND uses < max_uses AND expires_at <= ?)",
	invites.LinkRevoked:   "(revoked_at IS NOT NULL)",
}

// ListLinks implements invites.LinkStore, through the tenant's index of
// creation, or its creator's.
func (s *Store) ListLinks(ctx context.Context, p invites.ListLinksParams) ([]invites.Link, error) {
	s.ready(ctx)
	where, args := "tenant_id = ?", []any{p.TenantID}
	if p.CreatedBy != "" {
		where += " AND created_by_user_id = ?"
		args = append(args, p.CreatedBy)
	}
	if len(p.Statuses) > 0 {
		var or []string
		for _, st := range p.Statuses {
			c := linkStatusSQL[st]
			or = append(or, c)
			if strings.Contains(c, "?") {
				args = append(args, at(p.Now))
			}
		}
		where += " AND (" + strings.Join(or, " OR ") + ")"
	}
	if p.After != nil {
		where += " AND (created_at < ? OR created_at = ? AND id < ?)"
		args = append(args, at(p.After.CreatedAt), at(p.After.CreatedAt), p.After.ID)
	}
	out, err := scanLinks(on(s.reader).QueryContext(ctx, fmt.Sprintf("SELECT %s FROM invites_links WHERE %s ORDER BY created_at DESC, id DESC LIMIT %d",
		linkCols, where, p.Limit), args...))
	return out, wrap(err)
}

// LinkUses implements invites.LinkStore.
func (s *Store) LinkUses(ctx context.Context, p invites.LinkParams) ([]invites.LinkUse, error) {
	s.ready(ctx)
	if _, err := getLink(ctx, s.reader, p.TenantID, p.ID); err != nil {
		return nil, err
	}
	rows, err := on(s.reader).QueryContext(ctx, "SELECT user_id, at FROM invites_link_uses WHERE link_id = ? ORDER BY at, user_id", p.ID)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []invites.LinkUse
	for rows.Next() {
		u := invites.LinkUse{LinkID: p.ID}
		var when ts
		if err := rows.Scan(&u.UserID, &when); err != nil {
			return nil, wrap(err)
		}
		u.At = time.Time(when)
		out = append(out, u)
	}
	return out, wrap(rows.Err())
}

// LinkHistory implements invites.LinkStore.
func (s *Store) LinkHistory(ctx context.Context, p invites.LinkParams) ([]invites.Event, error) {
	s.ready(ctx)
	if _, err := getLink(ctx, s.reader, p.TenantID, p.ID); err != nil {
		return nil, err
	}
	rows, err := on(s.reader).QueryContext(ctx, `SELECT id, invite_id, tenant_id, type, actor_id, at FROM invites_events
		WHERE invite_id = ? AND tenant_id = ? ORDER BY id`, p.ID, p.TenantID)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanEvents(rows, false)
	return out, wrap(err)
}
