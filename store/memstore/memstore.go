// Package memstore is the in-memory invites.Store, for tests and small
// single-process hosts. It is a real fake: it keeps the same contract as the
// SQL store, including its row-lock behaviour around the Accept hook, and
// holds only token digests, never plaintext tokens. State lives only as
// long as the process.
package memstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Store is an in-memory invites.Store, safe for concurrent use. The zero
// value is not usable; call New.
type Store struct {
	mu sync.Mutex
	// cond wakes writers waiting for a busy invite; it uses mu.
	cond *sync.Cond

	invites  map[uuid.UUID]*record
	byTenant map[string][]uuid.UUID // insertion order, for List
	pending  map[string]uuid.UUID   // tenant+"\x00"+NormalizeEmail -> pending invite
	byEmail  map[string][]uuid.UUID // tenant+"\x00"+NormalizeEmail -> every invite, for Forget
	digests  map[string]uuid.UUID   // string(digest) -> invite

	deliveries map[uuid.UUID]*delivery
	latest     map[uuid.UUID]uuid.UUID // invite -> its latest delivery
	active     map[uuid.UUID]struct{}  // queued deliveries, the claimable set

	events    []*event               // every event, in ID order
	lastEvent int64                  // the ID of the last event written
	history   map[uuid.UUID][]*event // invite -> its events
	unhandled map[uuid.UUID][]*event // invite -> its events not yet handled, oldest first

	// busy marks invites whose Accept hook is running: the stand-in for a
	// SQL row lock held across the hook. Writers to them wait on cond.
	busy map[uuid.UUID]struct{}
	// waiters counts writers blocked on busy invites, so tests can tell a
	// writer is really waiting.
	waiters int

	// keys holds the idempotency records; keyHeld the keys whose write is
	// under way, which other writes of the key wait for on cond.
	keys           map[keyID]*kept
	keyHeld        map[keyID]struct{}
	ledger         map[string][]send // string(LedgerKey) -> its sends (see ledger.go)
	byTenantLedger map[string][]send // tenant -> its sends
	secret         []byte            // LedgerSecret's
	lk             links             // see links.go
	// suppressions is the suppression list (see suppress.go).
	suppressions map[string]map[string]*suppression
}

type record struct {
	inv invites.Invite
	// digests of the tokens minted for the latest delivery: none until
	// the first is minted, and none again after a resend.
	digests [][]byte
	// fixed: a claim does not renew the invite's ExpiresAt, its own TTL's.
	fixed bool
}

type delivery struct {
	d           invites.Delivery
	nextAttempt time.Time
	leaseUntil  time.Time
	// claimID is the ClaimParams.ClaimID of its latest claim.
	claimID uuid.UUID
	// failed: an attempt failed and the delivery waits for a retry.
	failed bool
	// bounced: Bounce ended it; it is neither claimed nor bounced again.
	bounced bool
}

var (
	_ invites.Store       = (*Store)(nil)
	_ invites.UpkeepStore = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	s := &Store{
		invites:        map[uuid.UUID]*record{},
		byTenant:       map[string][]uuid.UUID{},
		pending:        map[string]uuid.UUID{},
		byEmail:        map[string][]uuid.UUID{},
		digests:        map[string]uuid.UUID{},
		deliveries:     map[uuid.UUID]*delivery{},
		latest:         map[uuid.UUID]uuid.UUID{},
		active:         map[uuid.UUID]struct{}{},
		busy:           map[uuid.UUID]struct{}{},
		history:        map[uuid.UUID][]*event{},
		unhandled:      map[uuid.UUID][]*event{},
		ledger:         map[string][]send{},
		byTenantLedger: map[string][]send{},
		secret:         make([]byte, 32),
		keys:           map[keyID]*kept{},
		keyHeld:        map[keyID]struct{}{},
		lk:             newLinks(),
		suppressions:   map[string]map[string]*suppression{},
	}
	rand.Read(s.secret) // never fails (see its doc)
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Dump renders every stored field, digests in hex, in a stable order. It
// exists so tests can check what the store holds, e.g. that no plaintext
// token ever reaches it.
func (s *Store) Dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	ids := make([]uuid.UUID, 0, len(s.invites))
	for id := range s.invites {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		r := s.invites[id]
		fmt.Fprintf(&b, "invite %#v\n  data=%s digests=%x latest=%s\n",
			r.inv, r.inv.Data, r.digests, s.latest[id])
		for _, ev := range s.history[id] {
			fmt.Fprintf(&b, "  event %#v\n", ev.e)
		}
	}
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "pending %q -> %s\n", k, s.pending[k])
	}
	keys = keys[:0]
	for k := range s.digests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "digest %x -> %s\n", k, s.digests[k])
	}
	keys = keys[:0]
	for k := range s.ledger {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, r := range s.ledger[k] {
			fmt.Fprintf(&b, "send %x tenant=%q actor=%q at=%s\n", k, r.tenant, r.actor, r.at)
		}
	}
	ids = ids[:0]
	for id := range s.deliveries {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		d := s.deliveries[id]
		_, act := s.active[id]
		fmt.Fprintf(&b, "delivery %#v next=%s lease=%s active=%t\n",
			d.d, d.nextAttempt, d.leaseUntil, act)
	}
	s.dumpLinks(&b)
	s.dumpSuppressions(&b)
	return b.String()
}

func sortIDs(ids []uuid.UUID) {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
}

// clone deep-copies the slices of an invite so neither the caller nor the
// store can change the other's copy.
func clone(i invites.Invite) invites.Invite {
	i.Roles = slices.Clone(i.Roles)
	i.Data = bytes.Clone(i.Data)
	return i
}

func pendingKey(tenantID, email string) string {
	return tenantID + "\x00" + invites.NormalizeEmail(email)
}

// freeKey releases r's address for a new pending invite, if r holds it.
func (s *Store) freeKey(r *record) {
	k := pendingKey(r.inv.TenantID, r.inv.Email)
	if s.pending[k] == r.inv.ID {
		delete(s.pending, k)
	}
}

// expire stores expired on a pending row past its expiry, as a SQL write
// meeting such a row would, and frees its address. Its status and event
// are dated when it really expired, as the Service shows an expiry it
// derives.
func (s *Store) expire(r *record, now time.Time) {
	r.inv.Status = invites.StatusExpired
	r.inv.StatusUpdatedAt = r.inv.ExpiresAt
	r.inv.UpdatedAt = now
	s.freeKey(r)
	s.emit(r, invites.EventExpired, "", r.inv.ExpiresAt)
}

// holder returns the pending invite of an address, or nil.
func (s *Store) holder(tenantID, email string) *record {
	id, ok := s.pending[pendingKey(tenantID, email)]
	if !ok {
		return nil
	}
	return s.invites[id]
}

// waitIdle blocks, with s.mu held, until no invite named by touched is
// busy, as a SQL write blocks on a row lock. touched is asked again after
// each wake-up since the state may have moved meanwhile.
func (s *Store) waitIdle(ctx context.Context, touched func() []uuid.UUID) error {
	return s.waitUntil(ctx, func() bool { return !s.anyBusy(touched()) })
}

// waitUntil waits on cond until ready holds or ctx ends; callers hold s.mu.
func (s *Store) waitUntil(ctx context.Context, ready func() bool) error {
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if ready() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if stop == nil {
			// Broadcast under mu so the wake-up cannot slip in between the
			// ctx check above and Wait.
			stop = context.AfterFunc(ctx, func() {
				s.mu.Lock()
				s.cond.Broadcast()
				s.mu.Unlock()
			})
		}
		s.waiters++
		s.cond.Wait()
		s.waiters--
	}
}

func (s *Store) anyBusy(ids []uuid.UUID) bool {
	for _, id := range ids {
		if _, ok := s.busy[id]; ok {
			return true
		}
	}
	return false
}

// release ends a busy spell and wakes the writers waiting on it.
func (s *Store) release(id uuid.UUID) {
	delete(s.busy, id)
	s.cond.Broadcast()
}

// callHook runs hook without s.mu, so reads and other invites go on while
// it runs; the lock is taken back even if hook panics.
func (s *Store) callHook(ctx context.Context, hook func(context.Context, invites.Invite) error, inv invites.Invite) error {
	s.mu.Unlock()
	defer s.mu.Lock()
	return hook(ctx, inv)
}
