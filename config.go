package invites

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"time"
)

// The defaults of Config's zero fields.
const (
	DefaultTTL                      = 7 * 24 * time.Hour
	DefaultMinTTL                   = time.Hour
	DefaultMaxTTL                   = 30 * 24 * time.Hour
	DefaultMaxBatch                 = 1000
	DefaultResendCooldown           = time.Minute
	DefaultMaxResends               = 5
	DefaultLocale                   = "en-US"
	DefaultMaxSendsPerAddressPerDay = 10
	// DefaultMaxSendsPerAddressPerDayAllTenants is three tenants' worth of
	// DefaultMaxSendsPerAddressPerDay: a host of one tenant never meets it,
	// and tenants a stranger can open cannot flood an inbox together.
	DefaultMaxSendsPerAddressPerDayAllTenants = 30
	DefaultPollInterval                       = 5 * time.Second
	DefaultDeliveryBatch                      = 200
	DefaultDeliveryWorkers                    = 4
	DefaultDeliveryLease                      = 30 * time.Second
	DefaultSendTimeout                        = 30 * time.Second
	DefaultListTimeout                        = 5 * time.Second
	DefaultStoreTimeout                       = 5 * time.Second
	DefaultPassTimeout                        = 5 * time.Minute
	DefaultMaxAttempts                        = 8
	DefaultRetryBase                          = 30 * time.Second
	DefaultRetryMax                           = time.Hour
	DefaultEventBatch                         = 200
	DefaultEventLease                         = 30 * time.Second
	DefaultEventTimeout                       = 30 * time.Second
	DefaultIdempotencyTTL                     = 24 * time.Hour
)

// MinRetention is the least Config.Retention and EventRetention: the
// longest window a send quota counts over.
const MinRetention = 24 * time.Hour

// Config sets up a Service. Zero fields take the default their comment
// names; AcceptURL is required.
type Config struct {
	// Tokens mints and digests tokens. Default RandomTokens{}.
	Tokens TokenIssuer
	// AcceptURL builds the link in the email from a token, e.g.
	// "https://app.example/invites/accept?token=" + t.Reveal(). Required.
	AcceptURL func(Token) string

	// TTL is how long a link lives from the time its email is sent, to
	// within a hundredth of it: an email that goes out soon after the send
	// keeps the expiry the send gave the invite. Default DefaultTTL (7
	// days).
	TTL time.Duration
	// MinTTL and MaxTTL bound the TTL a send item or a resend may name
	// (NewInvite.TTL, ResendOptions.TTL). Default DefaultMinTTL (1 hour),
	// or TTL when it is shorter, and DefaultMaxTTL (30 days), or TTL when
	// it is longer.
	MinTTL time.Duration
	MaxTTL time.Duration
	// MaxBatch is the most items one Send takes. Default DefaultMaxBatch
	// (1000).
	MaxBatch int
	// ResendCooldown is the least time between two sends of one invite.
	// Default DefaultResendCooldown (1 minute); a negative value lets an
	// invite be resent at once.
	ResendCooldown time.Duration
	// MaxResends is how often one invite may be resent. Default
	// DefaultMaxResends (5); a negative value sets no limit.
	MaxResends int
	// DefaultLocale is the locale of an item that names none. Default
	// DefaultLocale ("en-US").
	DefaultLocale string
	// CanGrant says whether actor may grant role: asked for each role of
	// a Send item, of an Update's new roles, and of an invite a Resend
	// renews. Default: the actor holds it.
	CanGrant func(actor Actor, role string) bool
	// Authorize, when set, says whether actor may do op to inv (nil for
	// OpSend and OpList), beyond the tenant scoping every operation has:
	// that members may cancel only their own invites, say. Its error
	// refuses the operation with a *ForbiddenError, which wraps it and is
	// ErrForbidden (a 403 forbidden over HTTP). For OpUpdate, OpCancel and OpResend
	// it runs under the store's lock of the invite, before any other
	// refusal, so its answer holds for the write. Default: allow.
	Authorize func(ctx context.Context, actor Actor, op Op, inv *Invite) error
	// AuthorizeLink, when set, is asked in Authorize's place about the
	// operations on shareable links, with the link: as stored for
	// OpGetLink, OpRevokeLink, OpRotateLink, OpLinkUses and OpLinkHistory
	// (read first, an extra read for revoke, uses and history; a link's
	// creator and spec never change), as it would be made for
	// OpCreateLink (its spec checked, not yet stored), and nil for
	// OpListLinks and OpRevokeLinksBy. So a host can let members manage
	// only the links they made, or cap what a member's link grants. Its
	// error refuses as Authorize's does. Default: Authorize with a nil
	// invite.
	AuthorizeLink func(ctx context.Context, actor Actor, op Op, l *Link) error
	// OnAccept runs before an accept commits, inside the store's
	// transaction where it has one: if it fails the invite stays pending.
	// Default none.
	OnAccept func(ctx context.Context, inv Invite) error
	// RequireEmailMatch makes Accept refuse, with ErrEmailMismatch, a user
	// whose Acceptor.Email is not the invite's address (case-insensitive).
	// Default off.
	RequireEmailMatch bool
	// IsMember says which of emails already belong to the tenant; those
	// items of a Send get CodeAlreadyMember. It is asked once per batch
	// with the batch's valid addresses and answers in their order; and
	// by JoinByLink of the joiner's address (ErrAlreadyMember), before the
	// link is locked. Default none.
	IsMember func(ctx context.Context, tenantID string, emails []string) ([]bool, error)
	// MaxPendingPerTenant bounds a tenant's pending invites. Default off.
	MaxPendingPerTenant int
	// MaxSendsPerInviterPerHour bounds the sends and resends of one user
	// in any hour. Default off.
	MaxSendsPerInviterPerHour int
	// MaxSendsPerAddressPerDay bounds the emails one address gets from the
	// tenant in the 24 hours up to now: the first send and each resend of
	// all its invites, canceled or ended ones too, so cancel-and-send-again
	// cannot flood an inbox. Default DefaultMaxSendsPerAddressPerDay (10);
	// -1 turns it off.
	MaxSendsPerAddressPerDay int
	// MaxSendsPerAddressPerDayAllTenants bounds the emails one address gets
	// from all the tenants of the store in the 24 hours up to now, so
	// tenants anyone can open cannot each send MaxSendsPerAddressPerDay to
	// one victim. An item over it gets CodeAddressLimit too, which does not
	// say which limit it met. Default
	// DefaultMaxSendsPerAddressPerDayAllTenants (30); -1 turns it off.
	MaxSendsPerAddressPerDayAllTenants int
	// LedgerSecret keys the hashes of the addresses in the send ledger
	// (see LedgerKey), at least MinLedgerSecret bytes; give every process
	// of a deployment the same. Changing it forgets the day's sends to
	// the quotas. Default: one the store made at its first use and keeps
	// (Store.LedgerSecret).
	LedgerSecret []byte
	// OnEvent is told of every lifecycle event by Run, after the change
	// committed: at least once, in order per invite, retried while it
	// fails with the backoff of deliveries (RetryBase, RetryMax). Events
	// written while it is nil wait for a handler. Default none.
	OnEvent func(ctx context.Context, e Event) error
	// EventBatch is how many events one claim takes. Default
	// DefaultEventBatch (200).
	EventBatch int
	// EventLease is how long a claim of events holds before another
	// worker may take them over, so it should cover handling a whole
	// EventBatch; an event whose lease ran out may be handled twice.
	// Default DefaultEventLease (30 seconds).
	EventLease time.Duration
	// EventTimeout bounds one call of OnEvent. Default DefaultEventTimeout
	// (30 seconds).
	EventTimeout time.Duration

	// PollInterval is how often Run looks for due deliveries when nothing
	// wakes it. Default DefaultPollInterval (5 seconds).
	PollInterval time.Duration
	// DeliveryBatch is how many deliveries one claim takes, with their
	// tokens, in one commit; the next claim goes out when half of it is
	// left. Default DefaultDeliveryBatch (200).
	DeliveryBatch int
	// DeliveryWorkers is how many emails go out at once: give the mailer
	// as many connections (mailer.SMTPConfig.PoolSize). Default
	// DefaultDeliveryWorkers (4).
	DeliveryWorkers int
	// DeliveryLease is how long a claim holds before another worker may
	// take the delivery over. Run renews it every third of it while the
	// email is in flight, so it bounds what a process that dies costs:
	// its claimed emails go out that much later. Default
	// DefaultDeliveryLease (30 seconds).
	DeliveryLease time.Duration
	// SendTimeout bounds one Mailer.Send. Default DefaultSendTimeout (30
	// seconds).
	SendTimeout time.Duration
	// ListTimeout bounds one List in the store, so a list whose filters
	// scan a large tenant (patterns, search) cannot hold the database;
	// past it List answers an error wrapping ErrUnavailable. Default
	// DefaultListTimeout (5 seconds).
	ListTimeout time.Duration
	// StoreTimeout bounds every call the Service makes to the store but
	// List (ListTimeout bounds it), within the caller's own deadline: the
	// request's, and the worker's steps, whose context has none. A call
	// past it answers an error wrapping ErrUnavailable (503 over HTTP), so
	// a network that drops packets without closing the connection (a
	// firewall, a NAT timeout, a dead host) costs a request this long,
	// never a hang: a store that does not heed its context (SQLite
	// waiting out busy_timeout on a file another process locked) is left
	// to finish alone a quarter second past the bound, and its write may
	// still land, as one lost with the network may. The bound covers the
	// host's code a Change runs inside the store's call: Authorize under
	// the invite's lock, OnAccept inside the accept's transaction.
	// Default DefaultStoreTimeout (5 seconds).
	StoreTimeout time.Duration
	// PassTimeout bounds one pass of Run (delivery, expiry, pruning,
	// events): a pass that runs past it is stopped, as a stopping worker
	// stops, and Run starts anew, so a step that hangs cannot stop the
	// worker for good; Stats.WorkerStalled tells of passes that do not
	// finish at all. Set it well above the time a pass takes at the
	// backlog you expect. Default DefaultPassTimeout (5 minutes).
	PassTimeout time.Duration
	// MaxAttempts is how often a delivery is tried before it fails.
	// Default DefaultMaxAttempts (8).
	MaxAttempts int
	// RetryBase is the wait after the first failed attempt; it doubles per
	// attempt up to RetryMax, with jitter. Defaults DefaultRetryBase (30
	// seconds) and DefaultRetryMax (1 hour).
	RetryBase time.Duration
	RetryMax  time.Duration

	// Retention, when set, is how long an invite is kept after it
	// reached a final status (accepted, declined, canceled or expired):
	// Run then deletes it, with its tokens, deliveries and events, a small
	// batch at a time. At least MinRetention, so the send quotas, which
	// count the sends of ended invites too, still see a day's sends.
	// Default 0: kept for ever.
	Retention time.Duration
	// EventRetention, when set, is how long an event is kept after
	// Config.OnEvent handled it, whatever its invite's status: History
	// then starts later. Events are never handled while OnEvent is nil,
	// so without it only Retention removes them. At least MinRetention.
	// Default 0: kept for ever.
	EventRetention time.Duration

	// IdempotencyTTL is how long the answer of a write made with an
	// idempotency key (WithIdempotencyKey) is kept: a retry with the key
	// within it gets that answer and writes nothing; after it the key is
	// free, and Run's Prune deletes its record. Default
	// DefaultIdempotencyTTL (24 hours).
	IdempotencyTTL time.Duration

	// Sender names, for each email, the tenant and the user who sent the
	// invite (Message.TenantName and InviterName), so the email says who
	// invites whom to what. Run asks it before each attempt, off any
	// request; its error fails the attempt as the Mailer's would, and a
	// name that breaks CheckName's rule fails the email for good. Default
	// DefaultSender: the tenant ID when it reads as a name, no inviter.
	Sender func(ctx context.Context, inv Invite) (Sender, error)

	// The shareable invite links (links.go), on a store that is a
	// LinkStore. JoinURL builds a link's URL from its token, e.g.
	// "https://app.example/join?token=" + t.Reveal(); without it
	// CreateLink answers the token alone. OnJoin runs before a join
	// commits, as OnAccept before an accept: if it fails nothing is
	// counted. LinkView gives what CheckLink shows of a usable link's
	// tenant (nothing by default). MaxLinkUses (default
	// DefaultMaxLinkUses), MaxLinkTTL (default DefaultMaxLinkTTL) and
	// MaxActiveLinks per tenant (default DefaultMaxActiveLinks, -1 off)
	// bound what CreateLink makes; LinkUsesPerMinute bounds the joins of
	// one link in any minute (default DefaultLinkUsesPerMinute, -1 off).
	JoinURL           func(Token) string
	OnJoin            func(ctx context.Context, l Link, j Joiner) error
	LinkView          func(ctx context.Context, l Link) (json.RawMessage, error)
	MaxLinkUses       int
	MaxLinkTTL        time.Duration
	MaxActiveLinks    int
	LinkUsesPerMinute int

	// Observer, when set, is told of every operation and delivery attempt,
	// for traces and metrics (see package otelinvites). Default none.
	Observer Observer

	// Now is the clock of every rule. Default time.Now.
	Now func() time.Time
	// Logger gets delivery failures and worker errors. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults fills the zero fields, and turns the limits a negative
// value switches off into values the rules never reach, so the rules need
// no case for off. It never fails: what no default can mend is validate's.
func (c Config) withDefaults() Config {
	if c.Tokens == nil {
		c.Tokens = RandomTokens{}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.ResendCooldown < 0 {
		c.ResendCooldown = 0 // the next send may follow at once
	} else {
		def(&c.ResendCooldown, DefaultResendCooldown)
	}
	if c.MaxResends < 0 {
		c.MaxResends = math.MaxInt32 // fits every store's integer column
	} else {
		defInt(&c.MaxResends, DefaultMaxResends)
	}
	def(&c.TTL, DefaultTTL)
	def(&c.MinTTL, min(DefaultMinTTL, c.TTL))
	def(&c.MaxTTL, max(DefaultMaxTTL, c.TTL))
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.DeliveryLease, DefaultDeliveryLease)
	def(&c.SendTimeout, DefaultSendTimeout)
	def(&c.ListTimeout, DefaultListTimeout)
	def(&c.StoreTimeout, DefaultStoreTimeout)
	def(&c.PassTimeout, DefaultPassTimeout)
	def(&c.RetryBase, DefaultRetryBase)
	def(&c.RetryMax, DefaultRetryMax)
	def(&c.EventLease, DefaultEventLease)
	def(&c.EventTimeout, DefaultEventTimeout)
	def(&c.IdempotencyTTL, DefaultIdempotencyTTL)
	defInt(&c.MaxBatch, DefaultMaxBatch)
	defInt(&c.DeliveryBatch, DefaultDeliveryBatch)
	defInt(&c.DeliveryWorkers, DefaultDeliveryWorkers)
	defInt(&c.MaxAttempts, DefaultMaxAttempts)
	defInt(&c.EventBatch, DefaultEventBatch)
	if c.DefaultLocale == "" {
		c.DefaultLocale = DefaultLocale
	}
	if loc, err := parseLocale(c.DefaultLocale); err == nil {
		c.DefaultLocale = loc // validate tells of one that does not parse
	}
	if c.CanGrant == nil {
		c.CanGrant = func(a Actor, role string) bool { return slices.Contains(a.Roles, role) }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Sender == nil {
		c.Sender = DefaultSender
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	if c.MaxSendsPerAddressPerDay == 0 {
		c.MaxSendsPerAddressPerDay = DefaultMaxSendsPerAddressPerDay
	}
	if c.MaxSendsPerAddressPerDayAllTenants == 0 {
		c.MaxSendsPerAddressPerDayAllTenants = DefaultMaxSendsPerAddressPerDayAllTenants
	}
	c.LedgerSecret = slices.Clone(c.LedgerSecret)
	return c.linkDefaults()
}

// validate refuses a Config, with defaults filled, that no default mends:
// a field required, out of its range, or that does not parse.
func (c Config) validate() error {
	if c.AcceptURL == nil {
		return errors.New("invites: Config.AcceptURL is required")
	}
	if _, err := parseLocale(c.DefaultLocale); err != nil {
		return errors.New("invites: Config.DefaultLocale: " + err.Error())
	}
	if c.Retention != 0 && c.Retention < MinRetention || c.EventRetention != 0 && c.EventRetention < MinRetention {
		return errors.New("invites: Config.Retention and EventRetention must be 0 (off) or at least MinRetention (24h)")
	}
	if c.MaxPendingPerTenant < 0 || c.MaxSendsPerInviterPerHour < 0 {
		return errors.New("invites: Config quotas must not be negative")
	}
	if c.MaxSendsPerAddressPerDay < -1 {
		return errors.New("invites: Config.MaxSendsPerAddressPerDay must be positive, or -1 for off")
	}
	if c.MaxSendsPerAddressPerDayAllTenants < -1 {
		return errors.New("invites: Config.MaxSendsPerAddressPerDayAllTenants must be positive, or -1 for off")
	}
	if c.MinTTL > c.TTL || c.TTL > c.MaxTTL {
		return errors.New("invites: Config.TTL must be between MinTTL and MaxTTL")
	}
	if c.LedgerSecret != nil && len(c.LedgerSecret) < MinLedgerSecret {
		return errors.New("invites: Config.LedgerSecret must be at least MinLedgerSecret (32) bytes")
	}
	return c.validLinks()
}
