package memstore

import (
	"errors"
	"slices"
	"time"

	"github.com/invitekit/invites"
)

// The send ledger (see invites.Store): one send per first send or resend,
// kept apart from the invites, so Forget leaves it, until Prune removes
// it by age. It holds the address's LedgerKey, never the address.

// send is one row of the ledger.
type send struct {
	tenant, actor string
	at            time.Time
}

// errNoLedgerKey refuses a write that must record a send without the
// function that keys it.
var errNoLedgerKey = errors.New("memstore: a send needs the params' LedgerKey")

// addressLimit reports whether q's per-tenant or all-tenant limit keeps
// the address of key from one more send of tenant at now.
func (s *Store) addressLimit(q invites.Quota, tenant, key string, now time.Time, b batchSends) bool {
	if q.MaxSendsPerAddressPerDay <= 0 && q.MaxSendsPerAddressPerDayAllTenants <= 0 {
		return false
	}
	mine, all := s.addressSends(tenant, key, now)
	mine, all = mine+b.mine[tenant+"\x00"+key], all+b.all[key]
	return q.MaxSendsPerAddressPerDay > 0 && mine >= q.MaxSendsPerAddressPerDay ||
		q.MaxSendsPerAddressPerDayAllTenants > 0 && all >= q.MaxSendsPerAddressPerDayAllTenants
}

// batchSends counts the sends an Insert decided on before it writes
// them, by ledger key and by tenant and key, so the later items of its
// batch count the earlier ones.
type batchSends struct{ all, mine map[string]int }

func newBatchSends() batchSends { return batchSends{map[string]int{}, map[string]int{}} }

func (b batchSends) add(tenant, key string) {
	b.all[key]++
	b.mine[tenant+"\x00"+key]++
}

// record writes one send to the ledger.
func (s *Store) record(tenant, actor, key string, now time.Time) {
	r := send{tenant: tenant, actor: actor, at: now}
	s.ledger[key] = append(s.ledger[key], r)
	s.byTenantLedger[tenant] = append(s.byTenantLedger[tenant], r)
}

// addressSends counts the sends to the address of key in the 24 hours up
// to now: of tenant, and of all tenants.
func (s *Store) addressSends(tenant, key string, now time.Time) (mine, all int) {
	since := now.Add(-24 * time.Hour)
	for _, r := range s.ledger[key] {
		if r.at.After(since) {
			all++
			if r.tenant == tenant {
				mine++
			}
		}
	}
	return mine, all
}

// userSends counts the sends by user in tenantID in the hour up to now.
func (s *Store) userSends(tenantID, user string, now time.Time) int {
	n := 0
	since := now.Add(-time.Hour)
	for _, r := range s.byTenantLedger[tenantID] {
		if r.actor == user && r.at.After(since) {
			n++
		}
	}
	return n
}

// pruneSends deletes up to limit sends before t, and returns how many.
func (s *Store) pruneSends(t time.Time, limit int) int {
	n := 0
	for key, rows := range s.ledger {
		keep := rows[:0]
		for _, r := range rows {
			if n < limit && r.at.Before(t) {
				n++
				s.dropTenantSend(r)
				continue
			}
			keep = append(keep, r)
		}
		if len(keep) == 0 {
			delete(s.ledger, key)
		} else {
			s.ledger[key] = keep
		}
	}
	return n
}

// dropTenantSend removes r from the ledger by tenant.
func (s *Store) dropTenantSend(r send) {
	rows := s.byTenantLedger[r.tenant]
	if i := slices.Index(rows, r); i >= 0 {
		rows = slices.Delete(rows, i, i+1)
	}
	if len(rows) == 0 {
		delete(s.byTenantLedger, r.tenant)
	} else {
		s.byTenantLedger[r.tenant] = rows
	}
}
