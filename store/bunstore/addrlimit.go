package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// The address limit (Quota.MaxSendsPerAddressPerDay) is on by default, so
// it must not serialize a tenant's sends: on PostgreSQL it takes a
// transaction-scoped advisory lock per address, not the tenant's quota
// lock. Every transaction takes its locks in one global order, the
// tenant's quota lock first (lockQuotas) and then the address locks in
// ascending hash order, each batch's in one statement, so two
// transactions never wait on each other in a circle.

// addressLocks is the statement locking the addresses (t, n) of the rows
// of from, in ascending order of their lock keys. The sorted subquery is
// kept apart from the outer SELECT by OFFSET 0, so the locks are taken as
// its rows come out of the sort: in order.
func addressLocks(from string) string {
	return `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT
		hashtextextended('invites.address:' || length(t) || ':' || t || ':' || n, 0) AS h
		FROM (` + from + `) AS k(t, n) ORDER BY h OFFSET 0) AS s`
}

// addressTable is a list of (tenant_id, email_norm) as a table of columns
// t and n: a VALUES list on SQLite. It is joined from, not matched with
// IN, so the planners look each address up in invites_tenant_email_idx
// rather than scan the tenant's invites.
type addressTable [][2]string

// AppendQuery writes the list as a subquery.
func (p addressTable) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	b = appendTuples(gen, append(b, "(SELECT column1 AS t, column2 AS n FROM (VALUES "...), p)
	return append(b, "))"...), nil
}

// batchAddresses returns the addresses of a batch as a table of columns t
// and n, and its arguments, numbered from first: on PostgreSQL two arrays
// (so the statement's text is the same for any batch, and runs prepared),
// or for one address two strings (whose plan, unlike an array's, does not
// depend on the values, so PostgreSQL keeps one generic plan rather than
// plan each call anew); on SQLite an addressTable.
func (s *Store) batchAddresses(first int, keys [][2]string) (string, []any) {
	switch {
	case !s.pg:
		return fmt.Sprintf("?%d", first), []any{addressTable(keys)}
	case len(keys) == 1:
		return fmt.Sprintf(`(SELECT CAST(?%d AS text) AS t, CAST(?%d AS text) COLLATE "C" AS n)`, first, first+1),
			[]any{keys[0][0], keys[0][1]}
	}
	ts, ns := make(textArray, len(keys)), make(textArray, len(keys))
	for i, k := range keys {
		ts[i], ns[i] = k[0], k[1]
	}
	return fmt.Sprintf(`(SELECT t, n COLLATE "C" AS n FROM unnest(CAST(?%d AS text[]), CAST(?%d AS text[])) AS a(t, n))`, first, first+1),
		[]any{ts, ns}
}

// anInvite returns the address of one invite as a table of columns t and
// n, whose tenant and id are the arguments numbered first and first+1.
func anInvite(first int) string {
	return fmt.Sprintf("(SELECT tenant_id AS t, email_norm AS n FROM invites WHERE tenant_id = ?%d AND id = ?%d)", first, first+1)
}

// lockAddresses takes the address locks of the addresses of from
// (batchAddresses or anInvite, numbered from 0, with its arguments) when q
// has an address limit.
func (s *Store) lockAddresses(ctx context.Context, tx bun.Tx, q invites.Quota, from string, args ...any) error {
	if !s.pg || q.MaxSendsPerAddressPerDay <= 0 {
		return nil
	}
	return s.execIn(ctx, tx, addressLocks("SELECT t, n FROM "+from+" AS b"), args...)
}

// addressCount is the statement counting the sends to each address of
// from (numbered from 1) since the time ?0.
func addressCount(from string) string {
	// A count per address, so the planner starts from each address's
	// invites; a join of all of them lets it start from the day's events
	// instead, every send of every tenant.
	return `SELECT k.t, k.n, (SELECT count(*) FROM invites AS i
			JOIN invites_events AS e ON e.invite_id = i.id
			WHERE i.tenant_id = k.t AND i.email_norm = k.n AND e.type IN ('created', 'resent') AND e.at > ?0)
		FROM ` + from + ` AS k`
}

// addressSends counts the sends to each address of from (as
// addressCount's) in the 24 hours up to now, in one statement. Nil when q
// has no address limit.
func (s *Store) addressSends(ctx context.Context, tx bun.Tx, q invites.Quota, now time.Time, from string, args ...any) (map[[2]string]int, error) {
	if q.MaxSendsPerAddressPerDay <= 0 {
		return nil, nil
	}
	sends := map[[2]string]int{}
	err := s.queryIn(ctx, tx, addressCount(from), append([]any{at(now.Add(-24 * time.Hour))}, args...), func(r scanner) error {
		var (
			k [2]string
			n int
		)
		if err := r.Scan(&k[0], &k[1], &n); err != nil {
			return err
		}
		sends[k] = n
		return nil
	})
	return sends, err
}
