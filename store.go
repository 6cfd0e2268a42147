package invites

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// This file is the contract between the Service and a store, for those
// who write one; hosts use the types of invites.go. The Service decides
// (which refusal, which transition, what a quota allows); a store carries
// the decision out atomically. Where one round trip must both check and
// write, the store gets the rule as data (ChangeParams.From and Live, a
// Quota's limits), never a copy of the logic. Every method takes a params
// struct, so the contract grows without breaking implementers, and times
// come from it (Now), never from the store's clock. package storetest
// holds the conformance suite a store must pass.

// Store keeps invites, their outbox and their events. Each method is
// atomic: it happens whole or not at all, whatever runs beside it.
// Invites returned carry the stored Status; the Service derives expired
// from it. A method given a TenantID answers ErrNotFound for an invite of
// another tenant.
type Store interface {
	InviteStore
	OutboxStore
	EventStore
	UpkeepStore
}

// InviteStore keeps the invites.
type InviteStore interface {
	// Insert stores each of p.Invites as given (the Service has stamped
	// them pending, with their times and counts), each with a queued
	// delivery of KindInvitation due at p.Now and an EventCreated by its
	// CreatedByUserID. Pending invites of the batch's addresses (tenant
	// and NormalizeEmail) whose ExpiresAt is not after p.Now are first
	// marked expired (see ExpireDue). An invite whose address still has a
	// pending invite is not stored: its result carries that invite's ID
	// in Existing. Of the rest, in the order of p.Invites, one whose
	// address p.Quota.MaxSendsPerAddressPerDay allows no more sends is
	// not stored (AddressLimited), nor are those beyond what the rest of
	// p.Quota allows at p.Now (OverQuota). Results are in the order of
	// p.Invites, whose addresses are distinct. With p.Idempotency set,
	// p.Invites may be empty: the key is still checked and kept.
	Insert(ctx context.Context, p InsertParams) ([]InsertResult, error)

	// Get returns one invite of p.TenantID, or ErrNotFound.
	Get(ctx context.Context, p GetParams) (Invite, error)

	// Lookup returns the invite whose token has the digest p.Digest,
	// whatever its status, or ErrInvalidToken.
	Lookup(ctx context.Context, p LookupParams) (Invite, error)

	// List returns up to p.Limit invites of p.TenantID matching p.Where
	// and p.Search in p.Order after p.After (skipping p.Offset), and the
	// count of all that match. Status filters and order by status use
	// StatusAt(p.Now). Text orders are the byte order of OrderText
	// (COLLATE "C" in SQL); Search takes % and _ literally. The Service
	// bounds ctx by p.Timeout; a store that can also bound the statement
	// on the database server (so the server stops scanning, whatever the
	// driver does on cancel) does, and answers an error wrapping
	// ErrUnavailable when that bound stopped it.
	List(ctx context.Context, p ListParams) ([]Invite, int, error)

	// Change applies one change to one invite and returns the invite as
	// changed (see ChangeParams).
	Change(ctx context.Context, p ChangeParams) (Invite, error)

	// ExpireDue marks expired up to p.Limit pending invites whose
	// ExpiresAt is not after p.Now, dating StatusUpdatedAt and their
	// EventExpired at their ExpiresAt, and returns how many it changed.
	ExpireDue(ctx context.Context, p ExpireParams) (int, error)
}

// OutboxStore keeps the queued emails.
type OutboxStore interface {
	// ClaimDeliveries leases up to p.Limit queued deliveries due at p.Now
	// (never claimed, or whose lease has run out), adding one to Attempt
	// and holding them until Now+Lease, and in the same commit gives each
	// the token of its digest in p.Digests: the digest joins those of the
	// invite (Lookup finds it), and an ExpiresAt before p.RenewBefore
	// becomes p.ExpiresAt, even for a pending invite past it. The token is
	// durable before the Claim is returned, since its email may leave at
	// once. A delivery whose invite is no longer pending, or that is not
	// its invite's latest, is dropped instead, and not returned. Two
	// callers never get one delivery while its lease runs; a store may
	// pass over deliveries whose invite another write holds.
	//
	// The tokens of earlier attempts of the same delivery stay valid: an
	// attempt that failed may still have reached the inbox, and a receiver
	// that drops the retry as a duplicate (same Message.ID) keeps that
	// first email's link. A resend (Edit.Renew) forgets them all.
	ClaimDeliveries(ctx context.Context, p ClaimParams) ([]Claim, error)

	// ReleaseClaim ends at once the lease of each delivery the claim
	// p.ClaimID took that no claim has taken since (it is still queued
	// under that ClaimID), keeping its Attempt so the fence stays unique,
	// and forgets the tokens of p.Digests, the digests that claim was
	// offered: no email carried them. It returns how many deliveries it
	// released. A worker calls it for a claim whose reply it never got,
	// which may or may not have committed, so those emails need not wait
	// out the lease; a claim that never committed, or was released
	// already, releases none. A store may find the deliveries through
	// the tokens of p.Digests, which the claim gave them.
	ReleaseClaim(ctx context.Context, p ReleaseParams) (int, error)

	// RenewDeliveries extends to Now+Lease the lease of each of
	// p.Deliveries whose claim (Attempt) still holds, and returns the IDs
	// of those whose claim does not.
	RenewDeliveries(ctx context.Context, p RenewParams) ([]uuid.UUID, error)

	// Bounce records that the email of delivery p.DeliveryID bounced, in
	// one commit: the delivery fails for good with p.Reason (a queued one
	// is not claimed again); when it is its invite's latest, the invite's
	// DeliveryStatus becomes DeliveryFailed and its DeliveryError
	// p.Reason; and an EventBounced is written at p.Now, whatever the
	// invite's status. A claim of the delivery no longer holds: its
	// outcome changes nothing. An outcome of the delivery written
	// meanwhile (CompleteDeliveries) takes effect wholly before the bounce
	// or not at all: whichever commits first, the invite of its latest
	// delivery ends with the bounce's failure and reason. It returns the
	// invite as it is after, and false with nothing changed when the
	// delivery bounced already (a provider that tells twice). ErrNotFound
	// when there is no such delivery.
	Bounce(ctx context.Context, p BounceParams) (Invite, bool, error)

	// CompleteDeliveries records each outcome of an attempt on its
	// delivery and on the invite's DeliveryStatus and DeliveryError (as
	// long as the delivery is its latest), with an EventSent or, when it
	// failed for good, EventDeliveryFailed. An outcome whose claim no
	// longer holds changes nothing. Losing the outcomes to a crash can
	// only make the emails go again, never lose them, so a store may
	// commit them without waiting for durability.
	CompleteDeliveries(ctx context.Context, p CompleteParams) error
}

// EventStore keeps the lifecycle events, written by the other methods in
// the transaction of their change.
type EventStore interface {
	// History returns the events of one invite of p.TenantID in the order
	// they happened, or ErrNotFound. An invite erased by Forget is not
	// found: its EventForgotten goes to ClaimEvents only.
	History(ctx context.Context, p HistoryParams) ([]Event, error)

	// ClaimEvents leases up to p.Limit events not yet handled, due at
	// p.Now, adding one to Attempt: of each invite only its earliest
	// unhandled event, and none of an invite whose earliest is leased to
	// another caller, so events reach the handler in order per invite.
	ClaimEvents(ctx context.Context, p ClaimEventsParams) ([]Event, error)

	// CompleteEvent marks p.Event handled, or when p.RetryAt is not zero
	// hands it back to be claimed again from then. ErrStaleDelivery when
	// its claim (Attempt) no longer holds.
	CompleteEvent(ctx context.Context, p CompleteEventParams) error
}

// UpkeepStore answers for the health of the outbox and removes what is
// kept no longer.
type UpkeepStore interface {
	// Stats counts the outbox and the unhandled events at p.Now. It reads
	// only the queued deliveries and the unhandled events, found through
	// their indexes, so it is cheap enough to run at each metrics scrape.
	Stats(ctx context.Context, p StatsParams) (Stats, error)

	// Prune deletes up to p.Limit invites whose stored status is not
	// pending and whose StatusUpdatedAt is before p.InvitesBefore, each
	// with its tokens, deliveries and events; and up to p.Limit handled
	// events whose At is before p.EventsBefore, of any invite; and up to
	// p.Limit Idempotency records whose ExpiresAt is before p.KeysBefore;
	// and up to p.Limit rows of the send ledger before p.SendsBefore.
	// A zero time prunes nothing of its kind. Each kind is found through
	// an index, never by scanning its table. A store may commit the kinds
	// apart; each invite goes whole or not at all.
	Prune(ctx context.Context, p PruneParams) (PruneResult, error)

	// Forget deletes, in one commit, up to p.Limit invites of p.TenantID
	// (every one when p.Limit is 0) whose stored normalized address is
	// p.Email, whatever their status, each with its tokens, deliveries and
	// events, and writes for each an EventForgotten by p.ActorID at p.Now,
	// which holds no address. Each invite goes whole or not at all. It
	// returns the IDs of the invites deleted, none when none was left: the
	// Service calls it until then, so each commit stays bounded however
	// many invites the address has. It leaves the send ledger: the quotas
	// still count those sends.
	Forget(ctx context.Context, p ForgetParams) ([]uuid.UUID, error)

	// LedgerSecret returns the secret the Service keys the send ledger
	// with when Config.LedgerSecret is unset: at least 32 random bytes,
	// made at the first call and kept, the same for every process of the
	// store, for ever after.
	LedgerSecret(ctx context.Context) ([]byte, error)
}

// The send ledger: every send (an Insert's invite stored, a Renew) writes
// one row in its transaction, which holds its time, tenant, actor and the
// LedgerKey of its address, never the address. The quotas count sends
// there, not in the events: Forget leaves the ledger, so erasing an
// address does not reset its limits, and Prune removes the rows older
// than the longest quota window (PruneParams.SendsBefore).

// InsertParams is what Insert takes.
type InsertParams struct {
	Now     time.Time
	Invites []Invite
	Quota   Quota
	// Trace is kept with each delivery queued (Delivery.Trace).
	Trace string
	// Idempotency, when set, guards the insert with a client's key (see
	// Idempotency); Answer then gives the answer to keep from the results,
	// in the transaction, and an error from it undoes the insert and is
	// returned as it is.
	Idempotency *Idempotency
	Answer      func([]InsertResult) ([]byte, error)
	// LedgerKey gives the key of a NormalizeEmail address in the send
	// ledger (see LedgerKey). Required.
	LedgerKey func(emailNorm string) []byte
}

// InsertResult is one invite's outcome of Insert.
type InsertResult struct {
	Invite    Invite    // the stored invite, when none of the fields below is set
	Existing  uuid.UUID // the pending invite that blocked it
	OverQuota bool      // not stored: the tenant's or the creator's Quota allowed no more
	// AddressLimited: not stored, the address has had
	// Quota.MaxSendsPerAddressPerDay sends from its tenant, or
	// MaxSendsPerAddressPerDayAllTenants from all tenants.
	AddressLimited bool
}

// Quota bounds sends; a zero field is off. Insert applies it as data;
// for a Change the store counts what Decide needs (Facts).
type Quota struct {
	// MaxPending bounds the tenant's invites pending (not expired) at now.
	MaxPending int
	// MaxSendsPerHour bounds one user's sends (the ledger's rows of that
	// tenant and actor) in the hour up to now.
	MaxSendsPerHour int
	// MaxSendsPerAddressPerDay bounds the sends to one address of a tenant
	// (the ledger's rows of that tenant and LedgerKey) in the 24 hours up
	// to now. A store serializes it per address, not per tenant, so it
	// costs no tenant-wide lock.
	MaxSendsPerAddressPerDay int
	// MaxSendsPerAddressPerDayAllTenants bounds the sends to one address
	// from all the tenants of the store (the ledger's rows of that
	// LedgerKey) in the 24 hours up to now. A store serializes it per
	// address across tenants, taking that lock in one order with the
	// per-tenant ones.
	MaxSendsPerAddressPerDayAllTenants int
}

// GetParams is what Get takes.
type GetParams struct {
	TenantID string
	ID       uuid.UUID
}

// LookupParams is what Lookup takes.
type LookupParams struct {
	Digest []byte
}

// ListParams is a Query checked by the Service and resolved for a store:
// Query's shorthand fields are folded into Where.
type ListParams struct {
	TenantID      string
	Now           time.Time
	Where         Filter
	Search        string    // case-insensitive substring of email, first or last name
	CreatedAfter  time.Time // inclusive; zero does not filter
	CreatedBefore time.Time // exclusive; zero does not filter
	Order         Order
	Limit         int
	Offset        int
	// After is the keyset position of Query.Cursor, nil for the first page.
	After *Cursor
	// Timeout is Config.ListTimeout: how long the list may run (see
	// List); zero means no bound.
	Timeout time.Duration
}

// Cursor is a decoded keyset position: the order value and id of the last
// invite of the page before.
type Cursor struct {
	Time time.Time // for createdAt and updatedAt
	Text string    // for the text orders, as OrderField's doc compares them
	ID   uuid.UUID
}

// ChangeParams is one change of one invite: an update, cancel, resend,
// accept or decline. The invite is TenantID's invite ID or, when Digest
// is not nil, the invite of that token (ErrInvalidToken when none).
//
// A store locks the invite, then:
//   - with Decide set, counts what Count asks for (under the quota locks
//     Insert takes, before the invite's), calls Decide with the Facts,
//     and applies the Edit it returns; an error from Decide is returned
//     as it is, and nothing changes. From and Live are not used.
//   - with Decide nil, applies Edit when the invite's stored status is
//     one of From and, when Live, its ExpiresAt is after Now; otherwise
//     it changes nothing and returns a *RuleError with the invite as
//     stored. A store may check and write in one statement.
//
// Then, when Hook is set, it calls Hook with the changed invite before
// the change commits: an error from Hook undoes the change and is
// returned as it is. Of any number of changes racing on one invite, each
// sees the invite as the one before it left it. Decide and Hook run the
// host's code and may be slow: while they run a store holds the invite's
// lock and, when Count asked for counts, the quota locks those counts
// need (so the tenant's sends wait, as they must for the counts to hold),
// and nothing else.
type ChangeParams struct {
	Now      time.Time
	TenantID string
	ID       uuid.UUID
	Digest   []byte
	// ActorID is the user making the change: the actor of its event, and
	// whose sends Facts.UserSends counts.
	ActorID string

	From []Status
	Live bool
	Edit Edit

	Decide func(ctx context.Context, f Facts) (Edit, error)
	// Count names the limits whose counts Decide needs: a store counts,
	// for each limit set, the matching field of Facts.
	Count Quota
	Hook  func(ctx context.Context, inv Invite) error

	// Idempotency, when set, guards the change with a client's key (see
	// Idempotency); Answer, called after Hook with the changed invite,
	// then gives the answer to keep, and an error from it undoes the
	// change and is returned as it is.
	Idempotency *Idempotency
	Answer      func(Invite) ([]byte, error)
	// LedgerKey gives the key of the invite's address in the send ledger:
	// required when Count has an address limit or the Edit may Renew.
	LedgerKey func(emailNorm string) []byte
}

// Facts is what Decide decides on: the invite as stored, read under the
// lock the change takes (it cannot change before the write), and the
// counts ChangeParams.Count asked for, taken under the quota's locks.
type Facts struct {
	Invite Invite
	// AddressSends counts the sends (the ledger's rows) to the invite's
	// address in its tenant in the 24 hours up to Now.
	AddressSends int
	// AllTenantSends counts the sends to the invite's address from all
	// tenants in the 24 hours up to Now.
	AllTenantSends int
	// UserSends counts the sends by ActorID in the tenant in the hour up
	// to Now.
	UserSends int
	// TenantPending counts the tenant's invites pending (not expired) at
	// Now.
	TenantPending int
}

// Edit is what a Change writes. UpdatedAt becomes Now; StatusUpdatedAt
// becomes Now when Status changes.
type Edit struct {
	// Status is the new status; "" keeps the stored one.
	Status Status
	// AcceptedByUserID is set with StatusAccepted.
	AcceptedByUserID string
	// Fields replaces the fields it sets (see Update).
	Fields Update
	// Renew sends the invite again (a resend): status pending,
	// SendCount+1, LastSentAt now, ExpiresAt as given here, delivery
	// queued; every token of the invite is forgotten (the old links die at
	// once), and a queued delivery of KindReminder due at Now supersedes
	// any queued before it. A pending invite of the same address past its
	// expiry is marked expired first (as by Insert); one still live makes
	// the change ErrAlreadyInvited.
	Renew     bool
	ExpiresAt time.Time
	// Trace is kept with the delivery Renew queues (Delivery.Trace).
	Trace string
	// Event is the event the change writes, by ActorID; "" writes none.
	Event EventType
}

// RuleError answers a Change whose From or Live did not hold: Invite is
// as stored, and the Service says why it was refused.
type RuleError struct{ Invite Invite }

func (e *RuleError) Error() string {
	return "invites: the invite is " + string(e.Invite.Status) + ", which the change does not apply to"
}

// ExpireParams is what ExpireDue takes.
type ExpireParams struct {
	Now   time.Time
	Limit int
}

// Delivery is a queued email in the outbox.
type Delivery struct {
	ID       uuid.UUID
	InviteID uuid.UUID
	TenantID string
	Kind     MessageKind
	// Attempt counts claims, this one included; it fences a worker whose
	// lease ran out from completing a delivery another worker reclaimed.
	Attempt int
	// QueuedAt is when the delivery was queued (the Now of its Insert or
	// Change).
	QueuedAt time.Time
	// Trace is what the send that queued it left for its attempts to link
	// to (InsertParams.Trace, Edit.Trace): at most MaxTraceBytes,
	// returned as stored.
	Trace string
}

// MaxTraceBytes bounds Delivery.Trace; the Service gives no more.
const MaxTraceBytes = 256

// ClaimParams is what ClaimDeliveries takes.
type ClaimParams struct {
	Now   time.Time
	Limit int
	// Lease is how long the claim holds from Now unless renewed.
	Lease time.Duration
	// Digests holds the digest of a fresh token for each delivery the claim
	// may take, at least Limit of them: the i-th Claim returned gets
	// Digests[i].
	Digests [][]byte
	// ExpiresAt is the new expiry of each claimed invite whose ExpiresAt is
	// before RenewBefore, so a link lives about TTL from when its email
	// goes out, however long it waited; the others keep theirs, so the
	// claim need not write the invite.
	ExpiresAt   time.Time
	RenewBefore time.Time
	// ClaimID names this claim: a store keeps it with each delivery the
	// claim leases, for ReleaseClaim.
	ClaimID uuid.UUID
}

// ReleaseParams is what ReleaseClaim takes.
type ReleaseParams struct {
	// ClaimID is the ClaimParams.ClaimID of the claim, never zero.
	ClaimID uuid.UUID
	// Digests are the ClaimParams.Digests of the claim.
	Digests [][]byte
}

// Claim is a delivery leased to one worker, with its invite as the new
// token left it.
type Claim struct {
	Delivery
	Invite Invite
}

// RenewParams is what RenewDeliveries takes.
type RenewParams struct {
	Now        time.Time
	Lease      time.Duration
	Deliveries []Delivery
}

// CompleteParams is what CompleteDeliveries takes.
type CompleteParams struct {
	Outcomes []DeliveryOutcome
}

// DeliveryOutcome is how one attempt of a delivery ended.
type DeliveryOutcome struct {
	Delivery Delivery
	// Status is DeliverySent, DeliveryFailed (final), or DeliveryQueued to
	// retry at RetryAt.
	Status  DeliveryStatus
	RetryAt time.Time
	Error   string
	// At is when the attempt ended: the time of its event.
	At time.Time
}

// HistoryParams is what History takes.
type HistoryParams struct {
	TenantID string
	ID       uuid.UUID
}

// ClaimEventsParams is what ClaimEvents takes.
type ClaimEventsParams struct {
	Now   time.Time
	Limit int
	Lease time.Duration
}

// CompleteEventParams is what CompleteEvent takes.
type CompleteEventParams struct {
	Event   Event
	RetryAt time.Time
}

// BounceParams is what Bounce takes.
type BounceParams struct {
	Now        time.Time
	DeliveryID uuid.UUID
	// Reason is at most MaxBounceReasonBytes.
	Reason string
	// TenantID, when set, scopes the bounce to one tenant: a delivery of
	// another tenant's invite is ErrNotFound, and nothing changes.
	TenantID string
}

// StatsParams is what Stats takes.
type StatsParams struct {
	Now time.Time
}

// Stats is the health of the outbox and of the events' handling.
type Stats struct {
	// Queued counts the deliveries waiting to be sent: due, leased to a
	// worker, or waiting for a retry. The delivery of an invite that left
	// pending (canceled, say) counts until a claim drops it.
	Queued int `json:"queued"`
	// Due counts those of Queued whose time has come and that no worker
	// holds: a number that keeps growing says the workers fall behind.
	Due int `json:"due"`
	// OldestDueAge is how long the longest-waiting of Due has been due;
	// zero when none is.
	OldestDueAge time.Duration `json:"oldestDueAge"`
	// Failing counts those of Queued whose last attempt failed, waiting
	// for a retry.
	Failing int `json:"failing"`
	// UnhandledEvents counts the events not yet handled by
	// Config.OnEvent (all of them while it is nil).
	UnhandledEvents int `json:"unhandledEvents"`

	// The Service fills these, of Run in its own process; a store leaves
	// them zero.

	// LastPassAt is when a pass of Run last returned (or Run started);
	// zero while no Run goes in this process.
	LastPassAt time.Time `json:"lastPassAt,omitzero"`
	// WorkerStalled says Run goes in this process but has not finished a
	// pass in twice Config.PassTimeout: its passes hang in a step that
	// ignores its context, and are left behind one after another.
	// httpadapter.Ready answers 503 then.
	WorkerStalled bool `json:"workerStalled,omitzero"`
}

// PruneParams is what Prune takes.
type PruneParams struct {
	InvitesBefore time.Time
	EventsBefore  time.Time
	// KeysBefore deletes up to Limit Idempotency records whose ExpiresAt
	// is before it; zero deletes none.
	KeysBefore time.Time
	// SendsBefore prunes up to Limit rows of the send ledger whose time
	// is before it, through an index.
	SendsBefore time.Time
	Limit       int
}

// PruneResult is what one Prune deleted.
type PruneResult struct {
	Invites int // the invites, with their own tokens, deliveries and events
	Events  int // the handled events before EventsBefore
	Keys    int // the Idempotency records expired before KeysBefore
	Sends   int // the ledger's rows before SendsBefore
}

// ForgetParams is what Forget takes.
type ForgetParams struct {
	Now      time.Time
	TenantID string
	// Email is in NormalizeEmail's form, compared with the stored form
	// as it is (never validated again).
	Email   string
	ActorID string
	// Limit bounds the invites one call deletes; 0 is no bound.
	Limit int
	// Idempotency, when set, guards the erasure with a client's key (see
	// Idempotency); Answer then gives the answer to keep from the IDs
	// deleted, and an error from it undoes the erasure.
	Idempotency *Idempotency
	Answer      func([]uuid.UUID) ([]byte, error)
}
