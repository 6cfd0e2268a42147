// Package invites gives a Go application the whole user-invitation
// lifecycle, modelled on ROQ's User Invites API: send invites in bulk to a
// tenant with roles and locale, resend, cancel, accept or decline by a
// one-time link, update, get, and list with filters, search, order and
// paging, with email delivered through a transactional outbox.
//
// The host builds a Service from a Store, a Mailer and a Config, calls its
// methods from its own handlers, and runs Service.Run in the background to
// deliver email.
//
// # Lifecycle
//
// An invite is pending from Send until it is accepted, declined or
// canceled; a pending invite past its ExpiresAt reads as expired.
//
//	operation  who                               allowed from
//	Send       actor of the tenant               (new invites)
//	Resend     actor of the tenant               pending, expired
//	Cancel     actor of the tenant               pending, expired
//	Update     actor of the tenant               names, locale, data: any; roles: pending
//	Accept     token holder, authenticated user  pending, not expired
//	Decline    token holder                      pending, not expired
//	Lookup     token holder                      any
//	Check      token holder                      any (ROQ's checkUserInviteToken)
//	Get, List  actor of the tenant               any
//	History    actor of the tenant               any
//
// Send makes one pending invite per valid item and queues its email.
// Resend gives the invite a new token (the old link dies) and a new
// expiry, and queues its email; Config.ResendCooldown (1 minute) and
// Config.MaxResends (5) bound it, and a negative value turns either off.
// Cancel stops the link at once. Accept sets AcceptedByUserID after
// Config.OnAccept ran. Lookup returns the invite for a landing page (over
// HTTP its public view); Check returns the public view, past pending only
// the status. Get and List see the tenant's invites only; History returns
// an invite's events, oldest first.
//
// Accepted, declined and canceled are final. When Accept, Decline and
// Cancel race on one invite exactly one wins; the others get a
// *NotPendingError naming the winner's status. Every call of an actor is
// scoped to its tenant: another tenant's invite is ErrNotFound. There is at
// most one pending invite per tenant and address (NormalizeEmail); a Send
// that meets one reports the item as CodeAlreadyInvited. An address must
// keep RFC 5321's limits and have an IDNA2008 domain of two labels or
// more (no IP literal, no localhost, no invisible characters); it is
// stored with its domain in canonical form, and two addresses are the same
// only when NormalizeEmail says so, which never folds a look-alike (the
// Kelvin sign) into a letter. An item without
// roles (nil) gets the actor's, and an empty list none; granting a role,
// by Send, Update or a Resend that renews it, is refused unless
// Config.CanGrant allows it. Config.Authorize may refuse any operation
// (Config.AuthorizeLink, when set, those on shareable links, seeing the
// link).
//
// Tokens are 256-bit random strings (token.Issuer, unless Config.Tokens
// names another issuer). Only their SHA-256 digest is stored, a token is
// minted when its email is sent (so the link lives a full TTL from then), a
// resend forgets the old ones, and the Token type prints as REDACTED. An
// item of ChannelHost sends no email: its token is minted with the send,
// and its link answered once (SendResult.Links) for the host to deliver;
// NewInvite.TTL gives an invite a lifetime of its own. Each
// attempt of one email mints its own token and all of them work: an
// attempt that failed may still have reached the inbox, and a receiver may
// drop the retry as its duplicate. Accept runs
// Config.OnAccept before it commits, so the host can create the membership
// in the same step. Check tells a landing page a usable link (IsValid) from
// an expired one (IsExpired: ask for a new one) and from one that never
// was (neither, and no error).
//
// An expired invite does not block its address: Send creates a new invite
// (the old one is stored expired), and Resend renews the expired invite
// itself with a new token and expiry.
//
// # What hosts ask for
//
// Config.IsMember is asked once per Send batch which addresses already
// belong to the tenant; their items get CodeAlreadyMember.
// Config.RequireEmailMatch makes Accept refuse a user whose Acceptor.Email
// is not the invite's address (ErrEmailMismatch), checked on the locked row
// inside the accepting transaction. Config.MaxPendingPerTenant and
// Config.MaxSendsPerInviterPerHour are quotas enforced atomically
// (a per-tenant lock on PostgreSQL): the items beyond them get
// CodeQuotaExceeded, and a batch none of whose items fits, or a Resend
// over them, is ErrQuotaExceeded. Config.MaxSendsPerAddressPerDay, on by
// default (10), bounds the emails one address gets from a tenant in a day
// across all its invites, so cancel-and-send-again cannot flood an inbox:
// an item over it gets CodeAddressLimit (its own item error, even alone
// in its batch), and a Resend over it is ErrQuotaExceeded. It holds
// atomically too, with a lock per address on PostgreSQL.
// Config.MaxSendsPerAddressPerDayAllTenants (30 by default) bounds the
// same across all the tenants of a store, so tenants anyone may open
// cannot together flood an inbox; an item over it gets CodeAddressLimit
// too. The quotas count a send ledger kept apart from the invites: one
// row per send with its time, tenant, actor and the address as an HMAC
// (LedgerKey, keyed by Config.LedgerSecret or a secret the store makes),
// never as text. Forget leaves it, so erasing an address does not reset
// its limits; Run prunes its rows once older than a day.
//
// # Events
//
// Every change writes a lifecycle Event (created, sent, delivery_failed,
// resent, accepted, declined, canceled, expired, bounced, forgotten,
// suppressed, unsuppressed; link_created, link_used and link_revoked for
// a shareable link) with its actor and time, in the same transaction as
// the change, never with a token. History returns an invite's events,
// LinkHistory a link's. The events table is also an outbox:
// Service.Run hands each event to Config.OnEvent after it committed, at
// least once, in order per invite, retrying a failing handler with the
// delivery backoff while the invite's later events wait, so a host can
// sync a CRM or send a webhook without losing an event when the process
// dies. Run also marks pending invites past their expiry as expired
// (ExpireDue), so their expiry is an event too.
//
// # Listing
//
// List filters with Query's own fields and with Query.Where, ROQ's
// operators per field (Filter): equalTo, notEqualTo, valueIn and
// valueNotIn on every field, like and iLike (SQL LIKE patterns, with a
// backslash to make % and _ literal) on email, names and locale. It orders
// by createdAt, updatedAt, email, status, firstName, lastName or locale,
// either way, and pages by offset or by the keyset cursor of the page
// before.
//
// # Stores
//
// A Store makes each step atomic; the Service holds the rules. Its
// contract, for those who write one, is store.go: four small interfaces
// every store has (InviteStore, OutboxStore, EventStore,
// SuppressionStore) and an optional one (UpkeepStore: Prune and Forget),
// whose methods take params
// structs. Every change of one invite is a Change: the store locks the
// invite and either checks a rule given as data (ChangeParams.From and
// Live) or asks the Service's Decide, then writes the Edit. bunstore
// keeps invites in PostgreSQL or SQLite through bun, with embedded
// migrations, and joins the host's transaction when built on a bun.Tx;
// memstore is the in-memory Store for tests and single-process hosts.
// Every Store must pass the conformance suite in store/storetest,
// concurrency cases included.
//
// # Delivery
//
// Send and Resend queue a delivery in the same atomic step as the invite
// change. Service.Run (or one pass of DeliverPending) claims due
// deliveries a batch at a time under a lease, their tokens stored in the
// claim's own commit, sends the Messages, and records the outcomes in
// groups: a failure is retried with exponential backoff and jitter up to
// Config.MaxAttempts, an error wrapping ErrPermanent fails at once, a
// lease is renewed while its email is in flight, and a claim whose worker
// died is taken over when its lease runs out.
// Delivery is at least once; Message.ID is stable across attempts.
//
// An outage of the store sends nothing twice: the outcomes of emails sent
// are kept, their leases renewed, until the store records them, and no
// claim is made meanwhile; a claim whose reply was lost is released
// (Store.ReleaseClaim) as soon as the store answers, so its emails do not
// wait out the lease. What still goes twice is an email whose worker
// died before recording it, or whose lease another worker took over
// while this one could not reach the store (an outage longer than
// DeliveryLease that other workers did not share).
//
// # Retries
//
// A client that got no answer to a write (a 503, a timeout, a dropped
// connection) cannot tell whether it committed. With an idempotency key
// (WithIdempotencyKey; httpadapter's Idempotency-Key header) it retries
// safely: Send, Update, Cancel, Resend, Accept, Decline and Forget keep
// their answer with the key in the commit of their write, and the same
// call with the same key within Config.IdempotencyTTL answers it again and
// writes nothing, so no second invite and no second email; the key with
// other arguments is ErrIdempotencyMismatch. Keys are scoped by tenant and
// actor (for Accept and Decline, which take no login, by the token).
// RecordBounce and RecordComplaint need none: each told twice is
// recorded once; nor does Unsuppress, whose retry lifts nothing more.
//
// # Production
//
// Config.Observer is told of every operation and delivery attempt, for
// traces and metrics (package otelinvites puts them on OpenTelemetry).
// Stats reads the outbox's health; Config.Retention and EventRetention
// let Run delete what has ended; Forget erases one address from a
// tenant, in commits of at most 200 invites, reaching invites stored
// under older address rules, and no error text the worker logs, stores
// or traces holds a recipient's address; RecordBounce records a bounce a
// mail provider reports, for a Message-ID of the mailer's domain only
// (MessageIDDomainer), and RecordTenantBounce one the caller knows the
// tenant of. A hard bounce suppresses the address for its tenant and a
// complaint (RecordComplaint) for every tenant: a Send to it is then
// CodeSuppressed and a Resend ErrSuppressed, until Unsuppress; the store
// keeps a keyed hash of the address (SuppressionKey), which Forget
// leaves. On SQLite, sqlitedb runs synchronous FULL, so a commit
// survives a power loss.
//
// Every call to the store is bounded by Config.StoreTimeout (List by
// ListTimeout): a network that drops packets, a locked SQLite file or a
// database that does not answer costs a request that long and answers
// ErrUnavailable (503 with Retry-After over HTTP), never a hang. A
// primary turned read-only answers ErrUnavailable too, and bunstore lets
// go of its sessions so a multi-host DSN finds the new primary. Run
// bounds each pass by Config.PassTimeout and starts anew past it; Stats
// tells when it last finished one (LastPassAt, WorkerStalled), and
// httpadapter.Ready answers 503 for a stalled worker. An outage is logged
// once, when it starts and when it ends.
//
// # Testing
//
// Hosts test their own code against memstore and mailer/mailertest, whose
// Mailer records every message and hands a test the token of the latest
// email to an address, so a test can accept like a user. All times come
// from Config.Now, so expiry and cooldowns are tested by moving a clock.
package invites
