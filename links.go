package invites

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// The types of shareable invite links: a Link anyone holding it may join
// a tenant through, up to MaxUses times until it expires or is revoked;
// the inputs (LinkSpec, Joiner, LinkQuery) and answers (CreatedLink,
// LinkPage, LinkUse, LinkCheck) of the Service's link methods, and their
// refusals. The methods are in links_write.go, links_join.go and
// links_read.go; the store's side in store_links.go.

// LinkStatus is where a link stands at a time; it is derived, never
// stored: revoked, else exhausted once its uses reached MaxUses, else
// expired once past ExpiresAt, else active.
type LinkStatus string

// The link statuses.
const (
	LinkActive    LinkStatus = "active"
	LinkExhausted LinkStatus = "exhausted"
	LinkExpired   LinkStatus = "expired"
	LinkRevoked   LinkStatus = "revoked"
)

// Valid reports whether s is one of the four link statuses.
func (s LinkStatus) Valid() bool {
	switch s {
	case LinkActive, LinkExhausted, LinkExpired, LinkRevoked:
		return true
	}
	return false
}

// Link is a shareable invite link. Only its token's digest is stored:
// the token itself is in the CreatedLink CreateLink answers, once. A
// link's spec never changes; only Uses grows and a revocation ends it.
type Link struct {
	ID       uuid.UUID `json:"id"`
	TenantID string    `json:"tenantId"`
	// Roles are granted to each user who joins through it.
	Roles   []string `json:"roles"`
	MaxUses int      `json:"maxUses"`
	Uses    int      `json:"uses"`
	// AllowedDomains, when not empty, admits only joiners whose verified
	// address is at one of them, in canonical (IDNA U-label) form.
	AllowedDomains  []string  `json:"allowedDomains"`
	Note            string    `json:"note"`
	CreatedByUserID string    `json:"createdByUserId"`
	CreatedAt       time.Time `json:"createdAt"`
	ExpiresAt       time.Time `json:"expiresAt"`
	// RevokedAt and RevokedByUserID are zero until it is revoked.
	RevokedAt       time.Time `json:"revokedAt,omitzero"`
	RevokedByUserID string    `json:"revokedByUserId,omitzero"`
	// Status is StatusAt the time the Service read it; a store leaves it
	// empty.
	Status LinkStatus `json:"status"`
}

// StatusAt is the status the link reads as at now.
func (l Link) StatusAt(now time.Time) LinkStatus {
	switch {
	case !l.RevokedAt.IsZero():
		return LinkRevoked
	case l.Uses >= l.MaxUses:
		return LinkExhausted
	case !now.Before(l.ExpiresAt):
		return LinkExpired
	}
	return LinkActive
}

// LinkSpec is what CreateLink makes a link of.
type LinkSpec struct {
	// Roles granted on join; nil means the actor's own roles. The actor
	// must be able to grant each (Config.CanGrant).
	Roles []string
	// MaxUses is how many users may join through it: 1 to
	// Config.MaxLinkUses.
	MaxUses int
	// ExpiresAt or TTL (at most one) ends it, within Config.MaxLinkTTL;
	// neither means DefaultLinkTTL, or MaxLinkTTL when that is shorter.
	ExpiresAt time.Time
	TTL       time.Duration
	// AllowedDomains, when set, admits only joiners whose address is
	// verified and at one of these domains exactly (no subdomains),
	// compared IDNA-normalized as NormalizeEmail compares domains. At
	// most MaxLinkDomains.
	AllowedDomains []string
	// Note is the creator's reminder of what the link is for, at most
	// MaxLinkNoteRunes characters; never shown to joiners.
	Note string
}

// Bounds of a LinkSpec, and its default lifetime.
const (
	MaxLinkDomains   = 20
	MaxLinkNoteRunes = 200
	DefaultLinkTTL   = 7 * 24 * time.Hour
)

// CreatedLink answers CreateLink and RotateLink: the link and, this once,
// its token and URL (Config.JoinURL), which carries the token. String and
// LogValue leave both out.
type CreatedLink struct {
	Link  Link
	Token Token
	URL   string
}

func (c CreatedLink) String() string {
	return fmt.Sprintf("invites.CreatedLink{Link:%s Tenant:%s}", c.Link.ID, c.Link.TenantID)
}

// LogValue is String's fields, for slog.
func (c CreatedLink) LogValue() slog.Value {
	return slog.GroupValue(slog.String("link", c.Link.ID.String()), slog.String("tenant", c.Link.TenantID))
}

// Joiner is the authenticated user who joins through a link.
type Joiner struct {
	UserID string
	// Email is the user's address; only when EmailVerified does it pass a
	// link's AllowedDomains.
	Email         string
	EmailVerified bool
}

// LinkUse is one join through a link: who and when.
type LinkUse struct {
	LinkID uuid.UUID `json:"linkId"`
	UserID string    `json:"userId"`
	At     time.Time `json:"at"`
}

// LinkQuery filters and pages ListLinks, newest first. Zero fields do not
// filter.
type LinkQuery struct {
	// Statuses matches the status as read now. At most MaxFilterValues.
	Statuses        []LinkStatus
	CreatedByUserID string
	Limit           int // default DefaultLimit, max MaxLimit
	// Cursor is a LinkPage.NextCursor of the same query.
	Cursor string
}

// LinkPage is one page of ListLinks.
type LinkPage struct {
	Links []Link
	// NextCursor continues after this page; empty on the last one.
	NextCursor string
}

// LinkCheck is what the holder of a link may see before joining: whether
// it can be used, or why not, and only what Config.LinkView chooses to
// show of the tenant, while it can be used.
type LinkCheck struct {
	IsValid bool `json:"isValid"`
	// Status is "" when the token names no link.
	Status LinkStatus      `json:"status,omitempty"`
	View   json.RawMessage `json:"view,omitempty"`
}

// The refusals of the link methods, checked with errors.Is. A link that
// cannot be used any more answers ErrLinkRevoked, ErrLinkExhausted or
// ErrLinkExpired, in that order.
var (
	ErrLinkRevoked   = errors.New("invites: link revoked")
	ErrLinkExhausted = errors.New("invites: link has no uses left")
	ErrLinkExpired   = errors.New("invites: link expired")
	// ErrAlreadyJoined refuses a user who joined through this link before.
	ErrAlreadyJoined = errors.New("invites: user already joined through this link")
	// ErrAlreadyMember refuses a user Config.IsMember says belongs to the
	// link's tenant.
	ErrAlreadyMember = errors.New("invites: user already a member")
	// ErrDomainNotAllowed refuses a joiner whose address is unverified or
	// at none of the link's AllowedDomains.
	ErrDomainNotAllowed = errors.New("invites: address domain not allowed by the link")
	// ErrLinkRateLimited refuses a join past Config.LinkUsesPerMinute.
	ErrLinkRateLimited = errors.New("invites: link used too often, retry in a minute")
)

// The events of a link's life, written in the commit of their change and
// handed to Config.OnEvent with Event.LinkID set.
const (
	EventLinkCreated EventType = "link_created"
	EventLinkUsed    EventType = "link_used" // by the joiner
	EventLinkRevoked EventType = "link_revoked"
)

// linkEvent reports whether t is an event of a link.
func linkEvent(t EventType) bool {
	return t == EventLinkCreated || t == EventLinkUsed || t == EventLinkRevoked
}

// forHost is e as the host sees it: a store keeps a link's events under
// the link's ID in InviteID, their key of order; the host gets it in
// LinkID.
func (e Event) forHost() Event {
	if linkEvent(e.Type) {
		e.LinkID, e.InviteID = e.InviteID, uuid.Nil
	}
	return e
}
