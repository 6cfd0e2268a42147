package invites

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// The types hosts use: an Invite and its Status, the Actor and Acceptor,
// the inputs (NewInvite, Update, Query) and answers (SendResult, Page,
// TokenCheck) of the Service's methods, the Message a Mailer sends, the
// Mailer and TokenIssuer a host may plug in, and the Events of a lifecycle.
// The contract with stores is in store.go.

// Status is where an invite stands in its lifecycle.
type Status string

// The statuses. StatusExpired is what a pending invite reads as once its
// ExpiresAt has passed; a store may also write it when a write meets such a row.
const (
	StatusPending  Status = "pending"
	StatusAccepted Status = "accepted"
	StatusDeclined Status = "declined"
	StatusCanceled Status = "canceled"
	StatusExpired  Status = "expired"
)

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusAccepted, StatusDeclined, StatusCanceled, StatusExpired:
		return true
	}
	return false
}

// DeliveryStatus says whether the latest email of an invite went out.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryQueued DeliveryStatus = "queued"
	DeliverySent   DeliveryStatus = "sent"
	DeliveryFailed DeliveryStatus = "failed"
	// DeliveryHost: no email is sent; the host delivered the link the
	// send or resend answered with (ChannelHost).
	DeliveryHost DeliveryStatus = "host"
)

// Channel says who delivers an invite's link.
type Channel string

// The channels.
const (
	// ChannelEmail queues an email carrying the link: the default.
	ChannelEmail Channel = "email"
	// ChannelHost queues no email: the link is minted in the send's
	// commit and returned once, in its answer (SendResult.Links,
	// Resent.Link), for the host to deliver (by SMS, chat, its own mail).
	ChannelHost Channel = "host"
)

// valid reports whether c is "" (the default) or one of the channels.
func (c Channel) valid() bool { return c == "" || c == ChannelEmail || c == ChannelHost }

// Invite is one invitation of one email address to one tenant.
type Invite struct {
	ID               uuid.UUID       `json:"id"`
	TenantID         string          `json:"tenantId"`
	Email            string          `json:"email"`
	FirstName        string          `json:"firstName"`
	LastName         string          `json:"lastName"`
	Locale           string          `json:"locale"`
	Data             json.RawMessage `json:"data"`
	Roles            []string        `json:"roles"`
	Status           Status          `json:"status"`
	StatusUpdatedAt  time.Time       `json:"statusUpdatedAt"`
	CreatedByUserID  string          `json:"createdByUserId"`
	AcceptedByUserID string          `json:"acceptedByUserId"` // null in JSON until accepted
	// ExpiresAt is set at send and renewed each time a token is minted, so
	// an invite never expires before its email could go out; one of its
	// own TTL (NewInvite.TTL) keeps the expiry its send gave it.
	ExpiresAt time.Time `json:"expiresAt"`
	// SendCount counts the sends asked for: 1 for the first, +1 per resend.
	SendCount int `json:"sendCount"`
	// LastSentAt is when the latest send was asked for; DeliveryStatus says
	// whether its email has gone out.
	LastSentAt     time.Time      `json:"lastSentAt"`
	DeliveryStatus DeliveryStatus `json:"deliveryStatus"`
	// DeliveryError is the last failed attempt's error, its token
	// REDACTED and the recipient's address (as stored, normalized or in
	// A-labels, in any case) replaced by [recipient]: servers echo both.
	DeliveryError string    `json:"deliveryError,omitzero"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// MarshalJSON writes the shape of ROQ's User Invites API: acceptedByUserId
// is null until the invite is accepted.
func (i Invite) MarshalJSON() ([]byte, error) { return json.Marshal(i.wire()) }

// MarshalInvites returns the JSON array of invs, each as its MarshalJSON
// writes it, in one pass: encoding/json would parse each Marshaler's
// output again to check it, as long as writing a page.
func MarshalInvites(invs []Invite) ([]byte, error) {
	w := make([]wireInvite, len(invs)) // [] even when empty
	for k := range invs {
		w[k] = invs[k].wire()
	}
	return json.Marshal(w)
}

// wireInvite is an Invite in the shape of its JSON, which encoding/json
// writes without calling a method.
type wireInvite struct {
	plainInvite
	AcceptedByUserID *string `json:"acceptedByUserId"` // hides the embedded field
}

// plainInvite is an Invite without its methods, MarshalJSON among them.
type plainInvite Invite

func (i Invite) wire() wireInvite {
	w := wireInvite{plainInvite: plainInvite(i)}
	if i.AcceptedByUserID != "" {
		w.AcceptedByUserID = &i.AcceptedByUserID
	}
	return w
}

// StatusAt is the status the invite reads as at now: a pending invite past
// its ExpiresAt is expired.
func (i Invite) StatusAt(now time.Time) Status {
	if i.Status == StatusPending && !now.Before(i.ExpiresAt) {
		return StatusExpired
	}
	return i.Status
}

// EmailNorm is the invite's email as compared for uniqueness.
func (i Invite) EmailNorm() string { return NormalizeEmail(i.Email) }

// Actor is the authenticated user of the host acting on its tenant's invites.
type Actor struct {
	UserID   string
	TenantID string
	// Roles are the actor's roles in the tenant: the default roles of the
	// invites it sends, and the limit of what it may grant.
	Roles []string
	// Email is the user's own verified address, which the HTTP adapter
	// passes on as Acceptor.Email when this user accepts an invite.
	Email string
}

// Acceptor is the authenticated user who accepts an invite by its token.
type Acceptor struct {
	UserID string
	// Email of the accepting user; with Config.RequireEmailMatch it must
	// be the invite's address.
	Email string
}

// Op names an operation of an actor, for Config.Authorize.
type Op string

// The operations Config.Authorize is asked about.
const (
	OpSend    Op = "send"
	OpGet     Op = "get"
	OpList    Op = "list"
	OpUpdate  Op = "update"
	OpCancel  Op = "cancel"
	OpResend  Op = "resend"
	OpHistory Op = "history"
	OpForget  Op = "forget"
	// The operations on links (links.go): Authorize is asked about them
	// with a nil invite, or Config.AuthorizeLink with the link.
	OpCreateLink Op = "create_link"
	OpGetLink    Op = "get_link"
	OpListLinks  Op = "list_links"
	OpRevokeLink Op = "revoke_link"
	OpRotateLink Op = "rotate_link"
	OpLinkUses   Op = "link_uses"
	// OpLinkHistory reads a link's events, which name each joiner as
	// OpLinkUses does.
	OpLinkHistory   Op = "link_history"
	OpRevokeLinksBy Op = "revoke_links_by"
	// OpUnsuppress lifts a suppression (Service.Unsuppress): an
	// administrator's, as OpForget.
	OpUnsuppress Op = "unsuppress"
)

// NewInvite is one item of a Send batch.
type NewInvite struct {
	// Email is a bare address (no display name) of at most MaxEmailBytes:
	// its local part at most MaxLocalPartBytes and in Unicode NFKC, its
	// domain an IDNA2008 name of two labels or more, not localhost nor an
	// IP address, and no control, format (bidi, zero-width), U+FFFD or
	// non-ASCII space character anywhere. It is stored with the local part
	// as given and the domain canonical (Ann@BÜCHER.de is stored as
	// Ann@bücher.de) and compared by NormalizeEmail.
	Email string
	// FirstName and LastName are at most MaxNameRunes characters, without
	// control, format (bidi, zero-width) or line separator characters but
	// ZWJ and ZWNJ where RFC 5892's CONTEXTJ rules allow them (after a
	// virama; ZWNJ between joining letters), and without a URL or domain
	// name (evil.example), which the email would show as a link.
	FirstName string
	LastName  string
	// Locale is a BCP 47 tag; empty means Config.DefaultLocale.
	Locale string
	// Data is a JSON object kept with the invite; nil means none. It is at
	// most MaxDataBytes, nested at most MaxDataDepth deep, and holds no NUL
	// and no lone UTF-16 surrogate escape, so every store keeps it alike.
	Data json.RawMessage
	// Roles granted on accept; nil means the actor's own roles, and a
	// non-nil empty slice none.
	Roles []string
	// Channel is who delivers the link: "" or ChannelEmail queues an
	// email, ChannelHost returns the link in SendResult.Links instead.
	Channel Channel
	// TTL is how long the link lives, from the send, between
	// Config.MinTTL and MaxTTL (CodeInvalidTTL); zero is Config.TTL. An
	// invite's own TTL is fixed at the send: its email going out later
	// does not renew it, as it renews one of Config.TTL.
	TTL time.Duration
}

// ResendOptions are a resend's choices (Service.ResendWith); the zero
// value resends as Resend does.
type ResendOptions struct {
	// Channel is who delivers the new link: "" keeps the invite's (the
	// host's for an invite whose DeliveryStatus is DeliveryHost, an
	// email's otherwise); ChannelEmail queues an email, and ChannelHost
	// returns the link in Resent.Link.
	Channel Channel
	// TTL is the new link's lifetime, bounded as NewInvite.TTL; zero is
	// Config.TTL.
	TTL time.Duration
}

// Resent answers a ResendWith.
type Resent struct {
	Invite Invite
	// Link is the new accept link of an invite the host delivers,
	// answered here once and kept nowhere; "" when an email was queued.
	Link string
}

// Update changes an invite. A nil field is left as it is.
type Update struct {
	FirstName *string
	LastName  *string
	Locale    *string
	// Data replaces the stored object; the JSON literal null clears it.
	Data json.RawMessage
	// Roles replaces the roles, only while the invite is pending; a non-nil
	// empty slice means no roles.
	Roles []string
}

// SendResult answers a Send: one entry in Success per stored invite, one in
// Errors per refused item, as in ROQ's {success, errors}.
type SendResult struct {
	Success []Invite
	Errors  []ItemError
	// Links holds, by invite ID, the accept link of each invite of
	// Success whose Channel is ChannelHost: answered here once, never
	// stored, logged nor kept for an idempotent replay (a replay of such
	// an answer is ErrLinkNotKept). Nil when there is none.
	Links map[uuid.UUID]string
}

// ItemError says why one item of a batch was refused.
type ItemError struct {
	Index int    `json:"index"`
	Email string `json:"email"`
	Code  string `json:"code"`
	// Field is the item's field at fault (email, firstName, roles...),
	// "" when the refusal is of the item as a whole (a duplicate, a
	// quota). A Message about a field opens with its name.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// InviteID names the existing invite for CodeAlreadyInvited.
	InviteID uuid.UUID `json:"inviteId,omitzero"`
}

// Stable codes of ItemError.
const (
	CodeInvalidEmail     = "invalid_email"
	CodeInvalidName      = "invalid_name"
	CodeInvalidLocale    = "invalid_locale"
	CodeInvalidData      = "invalid_data"
	CodeInvalidRoles     = "invalid_roles"
	CodeForbiddenRole    = "forbidden_role"
	CodeDuplicateInBatch = "duplicate_in_batch"
	CodeAlreadyInvited   = "already_invited"
	CodeAlreadyMember    = "already_member"
	CodeQuotaExceeded    = "quota_exceeded"
	CodeAddressLimit     = "address_limit"
	CodeInvalidChannel   = "invalid_channel"
	// CodeInvalidTTL: NewInvite.TTL is outside Config.MinTTL..MaxTTL.
	CodeInvalidTTL = "invalid_ttl"
	// CodeSuppressed: the address bounced for good or complained, and is
	// suppressed (see Service.Unsuppress).
	CodeSuppressed = "suppressed"
)

// OrderField is a field a list can be ordered by.
type OrderField string

// The order fields. Text orders are byte orders, as Go compares strings:
// email of NormalizeEmail, first and last name of their strings.ToLower
// (so case does not split "ann" from "Ann"), locale of the tag as stored.
const (
	OrderCreatedAt OrderField = "createdAt"
	OrderUpdatedAt OrderField = "updatedAt"
	OrderEmail     OrderField = "email"
	OrderStatus    OrderField = "status"
	OrderFirstName OrderField = "firstName"
	OrderLastName  OrderField = "lastName"
	OrderLocale    OrderField = "locale"
)

// Order is a list order; ties are broken by id in the same direction.
type Order struct {
	Field OrderField
	Desc  bool
}

// Query filters, orders and pages a list of a tenant's invites. Zero
// fields do not filter.
type Query struct {
	// Statuses matches the status as read now, so StatusExpired finds
	// pending invites past their expiry. At most MaxFilterValues.
	Statuses        []Status
	Email           string // the same address, as NormalizeEmail compares
	Search          string // case-insensitive substring of email, first or last name
	CreatedByUserID string
	CreatedAfter    time.Time // inclusive
	CreatedBefore   time.Time // exclusive
	Where           Filter    // ROQ's per-field operators, ANDed with the above
	Order           Order     // default createdAt ascending
	Limit           int       // default 20, max 100
	Offset          int       // max MaxOffset; walk further with Cursor
	// Cursor is a Page.NextCursor of the same query and order; it cannot
	// be combined with Offset.
	Cursor string
}

// Page is one page of a list.
type Page struct {
	Invites    []Invite
	TotalCount int
	// NextCursor continues after this page; empty on the last one.
	NextCursor string
}

// MessageKind tells an invitation from a reminder.
type MessageKind string

// The message kinds.
const (
	KindInvitation MessageKind = "invitation"
	KindReminder   MessageKind = "reminder"
)

// Message is one email to send for an invite.
type Message struct {
	// ID is the same on every attempt of one delivery, so a receiver can
	// drop a duplicate of an at-least-once send.
	ID        string
	Kind      MessageKind
	Invite    Invite
	Token     Token
	AcceptURL string `json:"-"` // carries the token
	// TenantName and InviterName name the team the invite is to and
	// the user who sent it, as Config.Sender gave them; either may be
	// empty, and the email then says "the team" or leaves the inviter out.
	TenantName  string
	InviterName string
}

// String, GoString and LogValue keep the link, which carries the token,
// out of anything that prints a Message.
func (m Message) String() string {
	return fmt.Sprintf("invites.Message{ID:%s Kind:%s Invite:%s To:%s}", m.ID, m.Kind, m.Invite.ID, m.Invite.Email)
}

// GoString is String, for %#v.
func (m Message) GoString() string { return m.String() }

// LogValue is String's fields, for slog.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", m.ID),
		slog.String("kind", string(m.Kind)),
		slog.String("invite", m.Invite.ID.String()),
		slog.String("to", m.Invite.Email),
	)
}

// Mailer sends one email. It returns an error wrapping ErrPermanent when
// retrying cannot help (a 5xx reply); any other error is retried.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// TokenIssuer makes invite tokens and their digests. Only digests are
// stored, so a leaked database holds no working link.
type TokenIssuer interface {
	// New returns a fresh token and its digest.
	New() (Token, []byte, error)
	// Digest returns the digest of a presented token, or ErrInvalidToken
	// when it is malformed, so junk never reaches the store.
	Digest(token string) ([]byte, error)
}

// EventType names a change in an invite's life.
type EventType string

// The event types.
const (
	EventCreated        EventType = "created"
	EventSent           EventType = "sent" // its email went out
	EventDeliveryFailed EventType = "delivery_failed"
	EventResent         EventType = "resent"
	EventAccepted       EventType = "accepted"
	EventDeclined       EventType = "declined"
	EventCanceled       EventType = "canceled"
	EventExpired        EventType = "expired"
	// EventBounced: the email was sent, and its provider later said it
	// bounced (Service.RecordBounce).
	EventBounced EventType = "bounced"
	// EventForgotten: the invite was erased (Service.Forget). It is the
	// invite's only event left, and History no longer finds the invite.
	EventForgotten EventType = "forgotten"
	// EventSuppressed: the invite's address was suppressed after its
	// email bounced for good or its recipient complained
	// (Service.RecordBounce, RecordComplaint).
	EventSuppressed EventType = "suppressed"
	// EventUnsuppressed: the suppression the invite's email caused was
	// lifted (Service.Unsuppress).
	EventUnsuppressed EventType = "unsuppressed"
)

// Event is one change of one invite, written in the transaction of the
// change itself, so an event is never lost nor told of a change that did
// not happen. It holds no token.
type Event struct {
	// ID grows with each event a store writes; an invite's events are in
	// ID order.
	ID       int64     `json:"id"`
	InviteID uuid.UUID `json:"inviteId"`
	// LinkID names the link of a link's event (EventLinkCreated and the
	// rest of links.go), whose InviteID is zero.
	LinkID   uuid.UUID `json:"linkId,omitzero"`
	TenantID string    `json:"tenantId"`
	Type     EventType `json:"type"`
	// ActorID is the user who caused it; empty for the system (delivery,
	// expiry) and for a decline, which takes no login.
	ActorID string    `json:"actorId"`
	At      time.Time `json:"at"`
	// Attempt counts claims by ClaimEvents, fencing as Delivery.Attempt.
	Attempt int `json:"-"`
}

// TokenCheck is the public view of an invite: what the holder of its link
// may see, on the landing page or in the answer to an accept or decline.
// It tells a link that can still be accepted from one that expired (ask
// for a new one) and from one that never was, as ROQ's
// checkUserInviteToken. It shows no ids of the invite or of users, no data
// and no delivery state.
type TokenCheck struct {
	IsValid   bool `json:"isValid"` // Accept would take it now
	IsExpired bool `json:"isExpired"`
	// InviteID is left out of JSON: the holder of a link sees no ids.
	InviteID uuid.UUID `json:"-"`
	Status   Status    `json:"status,omitempty"` // "" when the token names no invite
	// The rest is shown only while the link can be used, or to the one
	// who just used it (PublicView); Service.Check leaves it zero for an
	// invite that is no longer pending, so an old link stops telling who
	// was invited. JSON has all of it or, when Email is "", none.
	TenantID  string    `json:"tenantId"`
	Email     string    `json:"email"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Locale    string    `json:"locale"`
	Roles     []string  `json:"roles"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// MarshalJSON writes the whole view, or only its first fields when the
// rest is withheld.
func (c TokenCheck) MarshalJSON() ([]byte, error) {
	type whole TokenCheck // no methods: no recursion
	if c.Email != "" {
		if c.Roles == nil {
			c.Roles = []string{}
		}
		return json.Marshal(whole(c))
	}
	return json.Marshal(struct {
		IsValid   bool   `json:"isValid"`
		IsExpired bool   `json:"isExpired"`
		Status    Status `json:"status,omitempty"`
	}{c.IsValid, c.IsExpired, c.Status})
}

// PublicView returns the whole public view of inv (as read at now by the
// Service): the answer to the holder of a link that was live when used,
// as by Accept and Decline.
func PublicView(inv Invite) TokenCheck { return publicView(inv, true) }

// publicView is the one builder of a TokenCheck. Unless whole, an invite
// no longer pending shows its status alone, so an old link stops telling
// who was invited.
func publicView(inv Invite, whole bool) TokenCheck {
	c := TokenCheck{IsValid: inv.Status == StatusPending, IsExpired: inv.Status == StatusExpired,
		InviteID: inv.ID, Status: inv.Status}
	if whole || c.IsValid {
		c.TenantID, c.Email, c.FirstName, c.LastName = inv.TenantID, inv.Email, inv.FirstName, inv.LastName
		c.Locale, c.Roles, c.ExpiresAt = inv.Locale, inv.Roles, inv.ExpiresAt
	}
	return c
}
