package bunstore

import (
	"context"
	"fmt"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// The address limits (Quota.MaxSendsPerAddressPerDay, and
// MaxSendsPerAddressPerDayAllTenants) are on by default, so they must not
// serialize a tenant's sends: on PostgreSQL they take transaction-scoped
// advisory locks per address, not the tenant's quota lock: one per tenant
// and address, and with the limit across tenants one per address alone,
// which serializes the sends of every tenant to it. Every transaction
// takes its locks in one global order, the tenant's quota lock first
// (lockQuotas) and then all its address locks, of both kinds, in
// ascending hash order, each batch's in one statement, so two
// transactions never wait on each other in a circle.

// addressLocks is the statement locking the addresses (t, n) of the rows
// of from, per tenant and, when all, across tenants, in ascending order
// of their lock keys. The sorted subquery is kept apart from the outer
// SELECT by OFFSET 0, so the locks are taken as its rows come out of the
// sort: in order.
func addressLocks(from string, all bool) string {
	keys := `SELECT hashtextextended('invites.address:' || length(t) || ':' || t || ':' || n, 0) FROM (` + from + `) AS k(t, n)`
	if all {
		keys += ` UNION ALL SELECT hashtextextended('invites.anyaddress:' || n, 0) FROM (` + from + `) AS k(t, n)`
	}
	return `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT h FROM (` + keys + `) AS u(h) ORDER BY h OFFSET 0) AS s`
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
	if !s.pg || !addressLimited(q) {
		return nil
	}
	return s.execIn(ctx, tx, addressLocks("SELECT t, n FROM "+from+" AS b", q.MaxSendsPerAddressPerDayAllTenants > 0), args...)
}
