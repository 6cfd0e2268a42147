package invites

import (
	"context"

	"github.com/google/uuid"
)

// This file is the contract between the Service and a store, for those
// who write one; its params and results are in store_params.go, and
// package storetest is the conformance suite a store must pass.
//
//	interface    method              the store's duty
//	InviteStore  Insert              store a batch, each with its delivery,
//	                                 event and ledger row; quotas as data
//	             Get, Lookup         one invite by tenant and ID, or by token
//	             List                a filtered, ordered page, and its count
//	             Change              lock one invite; check From/Live or call
//	                                 Decide; write the Edit
//	             ExpireDue           mark expired the pending past ExpiresAt
//	             LedgerSecret        keep one random secret for ledger keys
//	OutboxStore  ClaimDeliveries     lease due emails, each with a new token
//	             RenewDeliveries     extend the leases still held
//	             ReleaseClaim        end a lost claim's leases and tokens
//	             CompleteDeliveries  record outcomes, fenced by Attempt
//	             Bounce              fail a delivery for good, once
//	             Stats               count the outbox, unhandled events and
//	                                 suppressions
//	EventStore   History             one invite's events, in order
//	             ClaimEvents         lease each invite's earliest unhandled
//	             CompleteEvent       mark an event handled, or hand it back
//	Suppression  Suppress            suppress a delivery's address, by key
//	 Store       Unsuppress          lift a tenant's suppression of a key
//	UpkeepStore  Prune               delete, in batches, what is kept no longer
//	 (optional)  Forget              erase an address, in bounded commits
//	LinkStore    CreateLink, JoinLink shareable invite links: a cap of active
//	 (optional)  and the rest        links and a join's counts as data; see
//	                                 store_links.go
//
// The Service decides (which refusal, which transition, what a quota
// allows); a store carries the decision out atomically. Where one round
// trip must both check and write, the store gets the rule as data
// (ChangeParams.From and Live, a Quota's limits), never a copy of the
// logic. Every method takes a params struct, so the contract grows
// without breaking implementers, and times come from it (Now), never from
// the store's clock; a store may keep them to the microsecond.

// Store is what every invite needs: a Service runs Send, Accept and the
// delivery of their emails on it. Each method is atomic: it happens whole
// or not at all, whatever runs beside it. Invites returned carry the
// stored Status; the Service derives expired from it. A method given a
// TenantID answers ErrNotFound for an invite of another tenant.
//
// A store may also be an UpkeepStore and a LinkStore; the Service finds
// out by type assertion, as database/sql finds a driver's optional
// interfaces.
type Store interface {
	InviteStore
	OutboxStore
	EventStore
	SuppressionStore
}

// InviteStore keeps the invites.
type InviteStore interface {
	// Insert stores a batch of new invites.
	//   - First, pending invites of the batch's addresses (tenant and
	//     NormalizeEmail) past their ExpiresAt at p.Now are marked expired,
	//     as ExpireDue does.
	//   - Each of p.Invites is stored as given (the Service stamped it
	//     pending, its times and counts included), with a queued delivery
	//     of KindInvitation due at p.Now, an EventCreated by its
	//     CreatedByUserID and a row of the send ledger (see LedgerSecret).
	//     One of p.LinkDigests gets that token instead of a delivery; one
	//     of p.FixedExpiry keeps its ExpiresAt through claims.
	//   - An invite whose address is suppressed (see SuppressionStore:
	//     p.SuppressionKey of its address has a suppression of its tenant,
	//     or one for all tenants) is not stored: Suppressed, read in this
	//     transaction, and it counts against no quota.
	//   - An invite whose address still has a pending invite is not
	//     stored: Existing names that one, and it counts against no quota.
	//   - Of the rest, in the order of p.Invites, one the address limits
	//     of p.Quota refuse is AddressLimited, one beyond the rest of
	//     p.Quota at p.Now OverQuota. The counts are taken before the
	//     batch and used in its order.
	//   - Results are in the order of p.Invites, whose addresses are
	//     distinct. With p.Idempotency set, p.Invites may be empty: the
	//     key is still checked and kept.
	Insert(ctx context.Context, p InsertParams) ([]InsertResult, error)

	// Get returns one invite of p.TenantID, or ErrNotFound.
	Get(ctx context.Context, p GetParams) (Invite, error)

	// Lookup returns the invite whose token has the digest p.Digest,
	// whatever its status, or ErrInvalidToken.
	Lookup(ctx context.Context, p LookupParams) (Invite, error)

	// List returns up to p.Limit invites of p.TenantID and the count of
	// all that match.
	//   - Those matching p.Where and p.Search, in p.Order after p.After,
	//     skipping p.Offset. Search takes % and _ literally.
	//   - Status filters and the status order read StatusAt(p.Now).
	//   - Text orders are the byte order of OrderText, as Go compares
	//     strings (COLLATE "C" in SQL).
	//   - The Service bounds ctx by p.Timeout; a store that can also bound
	//     the statement on the server does, and answers an error wrapping
	//     ErrUnavailable when that bound stopped it.
	List(ctx context.Context, p ListParams) ([]Invite, int, error)

	// Change applies one change (update, cancel, resend, accept, decline)
	// to one invite and returns it as changed. Under the invite's lock:
	//   - with p.Decide set: count what p.Count asks for (and, with
	//     p.SuppressionKey set, read Facts.Suppressed), call Decide with the
	//     Facts and write the Edit it returns; its error is returned as it
	//     is, and nothing changes;
	//   - with p.Decide nil: write p.Edit when the stored status is one of
	//     p.From and, when p.Live, ExpiresAt is after p.Now; otherwise
	//     answer a *RuleError with the invite as stored. An invite Insert
	//     stored as expired fails Live as one merely past ExpiresAt.
	//   - then call p.Hook, when set, before the commit (its error undoes
	//     the change). UpdatedAt becomes p.Now.
	// ChangeParams says which locks it may hold while the host's code
	// runs.
	Change(ctx context.Context, p ChangeParams) (Invite, error)

	// ExpireDue marks expired up to p.Limit pending invites whose
	// ExpiresAt is not after p.Now, and returns how many it changed. Any
	// store marking an invite expired (here, Insert, a renewing Change)
	// dates its StatusUpdatedAt and EventExpired at its ExpiresAt.
	ExpireDue(ctx context.Context, p ExpireParams) (int, error)

	// LedgerSecret returns the secret the Service keys the send ledger
	// with when Config.LedgerSecret is unset: at least MinLedgerSecret
	// random bytes, made at the first call and kept, the same for every
	// process of the store, for ever after. It is required, not upkeep:
	// Insert and a renewing Change write the ledger under keys made with
	// it, and a secret of each process's own would let every process
	// count one address apart.
	//
	// Every send (an Insert's invite stored, a Renew) writes one ledger
	// row in its transaction: its time, tenant, actor and the LedgerKey
	// of its address, never the address. The quotas count sends there,
	// not in the events, so Forget does not reset an address's limits.
	LedgerSecret(ctx context.Context) ([]byte, error)
}

// OutboxStore keeps the queued emails, and tells their health.
type OutboxStore interface {
	// ClaimDeliveries leases up to p.Limit queued deliveries due at p.Now,
	// adding one to Attempt and holding each until Now+Lease.
	//   - Due: from the Now that queued it, or its RetryAt, inclusive;
	//     never claimed, or its lease run out.
	//   - In the same commit the i-th claim gets the token of p.Digests[i]
	//     (Lookup finds it), and an ExpiresAt before p.RenewBefore becomes
	//     p.ExpiresAt, even for a pending invite past it, unless the
	//     invite's expiry is fixed (InsertParams.FixedExpiry). The token is
	//     durable before the claim is returned: its email may leave at once.
	//   - A delivery whose invite is no longer pending, or that is not its
	//     invite's latest, is dropped instead, and not returned.
	//   - Two callers never get one delivery while its lease runs; a store
	//     may pass over deliveries whose invite another write holds.
	//   - The tokens of earlier attempts stay valid (a failed attempt may
	//     have reached the inbox); a resend (Edit.Renew) forgets them all.
	ClaimDeliveries(ctx context.Context, p ClaimParams) ([]Claim, error)

	// RenewDeliveries extends to Now+Lease the lease of each of
	// p.Deliveries whose claim (Attempt) still holds, and returns the IDs
	// of those whose claim does not.
	RenewDeliveries(ctx context.Context, p RenewParams) ([]uuid.UUID, error)

	// ReleaseClaim hands back at once the deliveries of a claim whose
	// reply a worker never got (it may or may not have committed), and
	// returns how many it released.
	//   - Each delivery still queued under p.ClaimID is released, keeping
	//     its Attempt so the fence stays unique; one claimed since is not.
	//   - The tokens of p.Digests are forgotten: no email carried them. A
	//     store may find the deliveries through them.
	//   - A claim that never committed, or was released already, releases
	//     none.
	ReleaseClaim(ctx context.Context, p ReleaseParams) (int, error)

	// CompleteDeliveries records each outcome on its delivery and, while
	// the delivery is its invite's latest, on the invite's DeliveryStatus
	// and DeliveryError.
	//   - An EventSent, or EventDeliveryFailed when it failed for good, at
	//     DeliveryOutcome.At.
	//   - It ends the claim: an outcome handed back with RetryAt = now is
	//     claimable at once. One whose claim no longer holds changes
	//     nothing.
	//   - Losing outcomes to a crash only sends the emails again, so a
	//     store may commit them without waiting for durability.
	CompleteDeliveries(ctx context.Context, p CompleteParams) error

	// Bounce records, in one commit, that the email of p.DeliveryID
	// bounced, and returns the invite as it is after.
	//   - The delivery fails for good with p.Reason, and is not claimed
	//     again; a claim of it no longer holds (its outcome changes
	//     nothing).
	//   - When it is its invite's latest, DeliveryStatus becomes
	//     DeliveryFailed and DeliveryError p.Reason.
	//   - An EventBounced at p.Now, whatever the invite's status.
	//   - An outcome of the delivery written meanwhile (CompleteDeliveries)
	//     takes effect wholly before the bounce or not at all: whichever
	//     commits first, the invite of its latest delivery ends with the
	//     bounce's failure and reason.
	//   - false, with nothing changed, when it bounced already (a provider
	//     that tells twice); ErrNotFound when there is no such delivery.
	Bounce(ctx context.Context, p BounceParams) (Invite, bool, error)

	// Stats counts the outbox, the unhandled events and the suppressions
	// at p.Now, reading only the queued deliveries and the unhandled
	// events through their indexes and a count the suppressions keep, so
	// it is cheap enough for each metrics scrape. It is required, not
	// upkeep: httpadapter.Ready asks it whether the store answers. Stats'
	// fields say what each counts.
	Stats(ctx context.Context, p StatsParams) (Stats, error)
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

// SuppressionStore keeps the suppression list: the addresses no invite
// goes to, after a hard bounce (for the tenant that sent) or a complaint
// (for every tenant, as providers suppress an address for a whole
// account). A suppression holds its tenant, whether it holds for all
// tenants, its reason and time, the invite whose email caused it, and the
// address only as its SuppressionKey, so Forget leaves it: erasing an
// address does not let anyone mail it again. Insert and Change
// (Facts.Suppressed) read it in their transactions; nothing prunes it.
type SuppressionStore interface {
	// Suppress suppresses, in one commit, the address of the invite of
	// p.DeliveryID under the key p.SuppressionKey gives its normalized
	// address, and returns the invite.
	//   - For the invite's tenant, or for all tenants when p.AllTenants:
	//     one suppression per tenant and key, which p.AllTenants widens,
	//     its reason, time and invite becoming p's.
	//   - An EventSuppressed on the invite at p.Now, by no actor.
	//   - false, with nothing changed, when the tenant's suppression of
	//     the key already holds as widely; ErrNotFound as Bounce.
	Suppress(ctx context.Context, p SuppressParams) (Invite, bool, error)

	// Unsuppress lifts p.TenantID's suppression of p.Key, in one commit
	// with an EventUnsuppressed by p.ActorID at p.Now on the invite the
	// suppression names (which Forget or Prune may have removed: the
	// event then goes to ClaimEvents only). A suppression for all tenants
	// is lifted only by its own tenant. ErrNotFound when the tenant has
	// none.
	Unsuppress(ctx context.Context, p UnsuppressParams) error
}

// UpkeepStore is the optional capability of removing data: retention
// (Prune) and erasure (Forget). A Store without it still runs invites;
// the Service then answers ErrUnsupported for Prune and Forget, and Run
// keeps everything.
type UpkeepStore interface {
	// Prune deletes, each kind up to p.Limit and through an index, never
	// by scanning its table:
	//   - invites whose stored status is not pending and whose
	//     StatusUpdatedAt is before p.InvitesBefore, each whole, with its
	//     tokens, deliveries and events;
	//   - handled events of any invite whose At is before p.EventsBefore;
	//   - Idempotency records whose ExpiresAt is before p.KeysBefore;
	//   - the send ledger's rows before p.SendsBefore.
	// A zero time prunes nothing of its kind. A store may commit the
	// kinds apart.
	Prune(ctx context.Context, p PruneParams) (PruneResult, error)

	// Forget erases, in one commit, up to p.Limit invites of p.TenantID
	// (every one when p.Limit is 0) whose stored normalized address is
	// p.Email, whatever their status, and returns their IDs.
	//   - Each invite goes whole, with its tokens, deliveries and events,
	//     and leaves an EventForgotten by p.ActorID at p.Now, which holds
	//     no address.
	//   - None returned when none was left: the Service calls it until
	//     then, so each commit stays bounded.
	//   - The send ledger stays: the quotas still count those sends. So
	//     do the suppressions, which hold no address.
	Forget(ctx context.Context, p ForgetParams) ([]uuid.UUID, error)
}
