package invites

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The params and results of the methods of store.go, in the order of the
// interfaces there.

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
	// LinkDigests holds, by invite ID, the token digest of each invite of
	// Invites the host delivers (ChannelHost; the Service stamped it
	// DeliveryHost): stored, that invite gets this token (Lookup finds
	// it, Accept takes it) and no delivery, so no claim ever sends it.
	LinkDigests map[uuid.UUID][]byte
	// FixedExpiry names the invites of Invites whose ExpiresAt is their
	// own TTL's: a claim of their email never renews it (see
	// ClaimDeliveries).
	FixedExpiry map[uuid.UUID]bool
	// SuppressionKey gives the key of a NormalizeEmail address in the
	// suppression list (see SuppressionKey). The Service always sets it;
	// nil checks no suppression, for a host's own tools that insert.
	SuppressionKey func(emailNorm string) []byte
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
	// Suppressed: not stored, the address is suppressed for the tenant
	// (see SuppressionStore).
	Suppressed bool
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

// ChangeParams is one change of one invite (see InviteStore.Change). The
// invite is TenantID's invite ID or, when Digest is not nil, the invite of
// that token (ErrInvalidToken when none). A store may check From and Live
// and write in one statement.
//
// Of any number of changes racing on one invite, each sees the invite as
// the one before it left it. Decide and Hook run the host's code and may
// be slow: while they run a store holds the invite's lock and, when Count
// asked for counts, the quota locks those counts need (taken as Insert
// takes them, before the invite's), so the tenant's sends wait, as they
// must for the counts to hold; and nothing else.
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
	// SuppressionKey, when set with Decide, gives the key of the
	// invite's address in the suppression list, for Facts.Suppressed.
	SuppressionKey func(emailNorm string) []byte
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
	// Suppressed says the invite's address is suppressed for its tenant
	// (see SuppressionStore), read when ChangeParams.SuppressionKey is
	// set.
	Suppressed bool
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
	// SendCount+1, LastSentAt now, ExpiresAt as given here,
	// DeliveryStatus queued (the latest email has not gone out); every token of the invite is forgotten (the old links die at
	// once), and a queued delivery of KindReminder due at Now supersedes
	// any queued before it. A pending invite of the same address past its
	// expiry is marked expired first (as by Insert); one still live makes
	// the change ErrAlreadyInvited.
	Renew     bool
	ExpiresAt time.Time
	// Trace is kept with the delivery Renew queues (Delivery.Trace).
	Trace string
	// LinkDigest, with Renew, is the digest of the new token of a link
	// the host delivers: after the old tokens are forgotten it is stored
	// (Lookup finds it, Accept takes it), no delivery is queued, a queued
	// one is superseded, DeliveryStatus becomes DeliveryHost, and no
	// earlier delivery is the invite's latest any more.
	LinkDigest []byte
	// FixedExpiry, with Renew, says whether a claim may no longer renew
	// ExpiresAt (see InsertParams.FixedExpiry); false lets it again.
	FixedExpiry bool
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
	// claim need not write the invite, and so do those of a fixed expiry
	// (InsertParams.FixedExpiry, Edit.FixedExpiry).
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

// SuppressParams is what Suppress takes.
type SuppressParams struct {
	Now        time.Time
	DeliveryID uuid.UUID
	// TenantID, when set, scopes the call to one tenant, as
	// BounceParams.TenantID.
	TenantID string
	// AllTenants suppresses the address for every tenant (a complaint),
	// not only for the invite's.
	AllTenants bool
	// Reason is at most MaxBounceReasonBytes.
	Reason string
	// SuppressionKey gives the key of the invite's NormalizeEmail
	// address (see SuppressionKey). Required.
	SuppressionKey func(emailNorm string) []byte
}

// UnsuppressParams is what Unsuppress takes.
type UnsuppressParams struct {
	Now      time.Time
	TenantID string
	// Key is the SuppressionKey of the address.
	Key     []byte
	ActorID string
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
	// OldestDueAge is how long the longest-waiting of Due has been due,
	// from when it came due (its queue time, or the RetryAt of its last
	// attempt); zero when none is.
	OldestDueAge time.Duration `json:"oldestDueAge"`
	// Failing counts those of Queued whose last outcome handed them back
	// to retry (DeliveryQueued), while they wait and once their retry is
	// due.
	Failing int `json:"failing"`
	// UnhandledEvents counts the events not yet handled by
	// Config.OnEvent (all of them while it is nil).
	UnhandledEvents int `json:"unhandledEvents"`
	// Suppressions counts the suppressions (see SuppressionStore): one
	// per tenant and address, a complaint's once though it holds for
	// every tenant.
	Suppressions int `json:"suppressions"`

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
