package bunstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// The send ledger, invites_sends (see invites.Store and migration 7): one
// row per send, written in the send's transaction, read by every quota,
// left by Forget, pruned by age. Each count has the index of its shape,
// whatever the statistics: a tenant's sends to an address and all
// tenants' through invites_sends_address_idx (address, tenant_id, at), a
// user's through invites_sends_actor_idx, Prune's through
// invites_sends_at_idx.

// errNoLedgerKey refuses a write that must record a send without the
// function that keys it.
var errNoLedgerKey = errors.New("bunstore: a send needs the params' LedgerKey")

// addressLimited reports whether q has an address limit, of a tenant or
// of all tenants.
func addressLimited(q invites.Quota) bool {
	return q.MaxSendsPerAddressPerDay > 0 || q.MaxSendsPerAddressPerDayAllTenants > 0
}

// LedgerSecret implements invites.Store: each caller offers 32 random
// bytes, the first offer stored stays, and every caller reads it back.
func (s *Store) LedgerSecret(ctx context.Context) (_ []byte, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	offer := make([]byte, 32)
	rand.Read(offer) // never fails (see its doc)
	if _, err := on(s.db).ExecContext(ctx, `INSERT INTO invites_secrets (name, value) VALUES ('ledger', ?)
		ON CONFLICT (name) DO NOTHING`, offer); err != nil {
		return nil, wrap(err)
	}
	var secret []byte
	if err := on(s.db).QueryRowContext(ctx, "SELECT value FROM invites_secrets WHERE name = 'ledger'").Scan(&secret); err != nil {
		return nil, wrap(err)
	}
	return secret, nil
}

// send is one row of the ledger, at the Now of its write.
type send struct {
	tenant, actor string
	key           []byte
}

// pgRecordSends writes the sends of arrays of tenants ?0, actors ?1 and
// keys ?2 at ?3: one text for any batch, so it runs prepared.
const pgRecordSends = `INSERT INTO invites_sends (tenant_id, actor_id, address, at)
	SELECT t, a, k, CAST(?3 AS timestamptz) FROM unnest(CAST(?0 AS text[]), CAST(?1 AS text[]), CAST(?2 AS bytea[])) AS r(t, a, k)`

// recordSends writes sends to the ledger at now in one statement.
func (s *Store) recordSends(ctx context.Context, tx bun.Tx, now time.Time, sends []send) error {
	if len(sends) == 0 {
		return nil
	}
	if s.pg {
		ts, as, ks := make(textArray, len(sends)), make(textArray, len(sends)), make(byteaArray, len(sends))
		for i, r := range sends {
			ts[i], as[i], ks[i] = r.tenant, r.actor, r.key
		}
		return s.execIn(ctx, tx, pgRecordSends, ts, as, ks, at(now))
	}
	args := make([]any, 0, 4*len(sends))
	for _, r := range sends {
		args = append(args, r.tenant, r.actor, r.key, at(now))
	}
	_, err := on(tx).ExecContext(ctx, values("INSERT INTO invites_sends (tenant_id, actor_id, address, at) VALUES ",
		"(?, ?, ?, ?)", len(sends)), args...)
	return err
}

// keyTable is a list of (tenant_id, ledger key) as a table of columns t
// and a: a VALUES list on SQLite.
type keyTable []keyRow

type keyRow struct {
	tenant string
	key    []byte
}

// AppendQuery writes the list as a subquery.
func (p keyTable) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	b = append(b, "(SELECT column1 AS t, column2 AS a FROM (VALUES "...)
	for i, r := range p {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '(')
		b = gen.Dialect().AppendString(b, r.tenant)
		b = append(b, ", "...)
		b = gen.Dialect().AppendBytes(b, r.key)
		b = append(b, ')')
	}
	return append(b, "))"...), nil
}

// batchKeys is batchAddresses for ledger keys: the (tenant, key) of a
// batch as a table of columns t and a, and its arguments numbered from
// first: two arrays on PostgreSQL, or two values for one key (see
// batchAddresses for why), a keyTable on SQLite.
func (s *Store) batchKeys(first int, keys keyTable) (string, []any) {
	switch {
	case !s.pg:
		return fmt.Sprintf("?%d", first), []any{keys}
	case len(keys) == 1:
		return fmt.Sprintf(`(SELECT CAST(?%d AS text) AS t, CAST(?%d AS bytea) AS a)`, first, first+1),
			[]any{keys[0].tenant, keys[0].key}
	}
	ts, ks := make(textArray, len(keys)), make(byteaArray, len(keys))
	for i, k := range keys {
		ts[i], ks[i] = k.tenant, k.key
	}
	return fmt.Sprintf(`(SELECT t, a FROM unnest(CAST(?%d AS text[]), CAST(?%d AS bytea[])) AS x(t, a))`, first, first+1),
		[]any{ts, ks}
}

// addressCount is the statement counting, for each (tenant, key) of from
// (numbered from 1), the sends to that address since the time ?0 of that
// tenant and of all tenants. A count per address, so each is one range of
// invites_sends_address_idx.
func addressCount(from string) string {
	return `SELECT k.t, k.a,
		(SELECT count(*) FROM invites_sends AS s WHERE s.address = k.a AND s.tenant_id = k.t AND s.at > ?0),
		(SELECT count(*) FROM invites_sends AS s WHERE s.address = k.a AND s.at > ?0)
		FROM ` + from + ` AS k`
}

// addressSends are the sends to addresses in the 24 hours up to now.
type addressSends struct {
	mine map[sendKey]int // (tenant, string(key)) -> that tenant's
	all  map[string]int  // string(key) -> all tenants'
}

// sendKey is a keyRow as a map key.
type sendKey [2]string

// countAddresses counts the sends to each address of from (as
// addressCount's) in the 24 hours up to now, in one statement; nothing
// when q has no address limit.
func (s *Store) countAddresses(ctx context.Context, tx bun.Tx, q invites.Quota, now time.Time, from string, args ...any) (addressSends, error) {
	c := addressSends{mine: map[sendKey]int{}, all: map[string]int{}}
	if !addressLimited(q) {
		return c, nil
	}
	err := s.queryIn(ctx, tx, addressCount(from), append([]any{at(now.Add(-24 * time.Hour))}, args...), func(r scanner) error {
		var (
			t         string
			k         []byte
			mine, all int
		)
		if err := r.Scan(&t, &k, &mine, &all); err != nil {
			return err
		}
		c.mine[sendKey{t, string(k)}], c.all[string(k)] = mine, all
		return nil
	})
	return c, err
}

// allows reports whether q lets the address of k one more send.
func (c addressSends) allows(q invites.Quota, k keyRow) bool {
	return (q.MaxSendsPerAddressPerDay <= 0 || c.mine[sendKey{k.tenant, string(k.key)}] < q.MaxSendsPerAddressPerDay) &&
		(q.MaxSendsPerAddressPerDayAllTenants <= 0 || c.all[string(k.key)] < q.MaxSendsPerAddressPerDayAllTenants)
}

// count counts one more send to the address of k: one batch may hold an
// address for several tenants.
func (c addressSends) count(k keyRow) {
	c.mine[sendKey{k.tenant, string(k.key)}]++
	c.all[string(k.key)]++
}
