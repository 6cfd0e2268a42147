package bunstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
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
// t and n: one JSON literal on PostgreSQL, a VALUES list on SQLite. It is
// joined from, not matched with IN, so the planners look each address up
// in invites_tenant_email_idx rather than scan the tenant's invites.
type addressTable [][2]string

// AppendQuery writes the list as a subquery.
func (p addressTable) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	if gen.Dialect().Name() == dialect.PG {
		js, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		b = append(b, "(SELECT r->>0 AS t, (r->>1) COLLATE \"C\" AS n FROM jsonb_array_elements("...)
		b = gen.Dialect().AppendString(b, string(js))
		return append(b, "::jsonb) AS r)"...), nil
	}
	b = appendTuples(gen, append(b, "(SELECT column1 AS t, column2 AS n FROM (VALUES "...), p)
	return append(b, "))"...), nil
}

// anInvite is the address of one invite as a table of columns t and n.
const anInvite = "(SELECT tenant_id AS t, email_norm AS n FROM invites WHERE tenant_id = ? AND id = ?)"

// lockAddresses takes the address locks of the addresses of from (an
// addressTable, or anInvite with its arguments) when q has an address
// limit.
func (s *Store) lockAddresses(ctx context.Context, tx bun.IDB, q invites.Quota, from string, args ...any) error {
	if !s.pg || q.MaxSendsPerAddressPerDay <= 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, addressLocks("SELECT t, n FROM "+from+" AS a"), args...)
	return err
}

// addressesLeft is how many more sends q lets each address of from (as
// for lockAddresses) have in the 24 hours up to now, counted in one
// statement: an address absent from the answer has all of
// q.MaxSendsPerAddressPerDay left. Nil when q has no address limit.
func addressesLeft(ctx context.Context, tx bun.IDB, q invites.Quota, now time.Time, from string, args ...any) (map[[2]string]int, error) {
	if q.MaxSendsPerAddressPerDay <= 0 {
		return nil, nil
	}
	// A count per address, so the planner starts from each address's
	// invites; a join of all of them lets it start from the day's events
	// instead, every send of every tenant.
	rows, err := tx.QueryContext(ctx, `SELECT k.t, k.n, (SELECT count(*) FROM invites AS i
			JOIN invites_events AS e ON e.invite_id = i.id
			WHERE i.tenant_id = k.t AND i.email_norm = k.n AND e.type IN ('created', 'resent') AND e.at > ?)
		FROM `+from+` AS k`, append([]any{at(now.Add(-24 * time.Hour))}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	left := map[[2]string]int{}
	for rows.Next() {
		var (
			k [2]string
			n int
		)
		if err := rows.Scan(&k[0], &k[1], &n); err != nil {
			return nil, err
		}
		left[k] = max(q.MaxSendsPerAddressPerDay-n, 0)
	}
	return left, rows.Err()
}

// addressLeft is the answer of addressesLeft for the address k: -1 for
// no bound.
func addressLeft(q invites.Quota, left map[[2]string]int, k [2]string) int {
	if q.MaxSendsPerAddressPerDay <= 0 {
		return -1
	}
	if n, ok := left[k]; ok {
		return n
	}
	return q.MaxSendsPerAddressPerDay
}
