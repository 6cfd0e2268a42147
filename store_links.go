package invites

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// LinkStore is the optional capability of keeping shareable invite links
// (links.go). A Store without it still runs invites; the Service then
// answers ErrUnsupported for every link method. Its params and results
// follow the interface.
//
//	method       the store's duty
//	CreateLink   store a link with its digest and EventLinkCreated, under
//	             the tenant's cap of active links (data); revoke the link
//	             it replaces in the same commit
//	RevokeLinks  revoke one link, or a user's active ones, with events
//	JoinLink     under the link's lock: count the facts, call Decide,
//	             record the use, add one to Uses, EventLinkUsed, Hook
//	GetLink      one link by tenant and ID, or by digest
//	ListLinks    a filtered page, newest first
//	LinkUses     the uses of one link, in order
//	LinkHistory  the events of one link, in order
//
// A link's events are written to the events' outbox as an invite's are,
// with the link's ID in Event.InviteID (the key of their order for
// ClaimEvents); the Service hands them on with it in LinkID. Prune and
// Forget leave links and their events alone, but for the handled events
// Prune removes by their time.
type LinkStore interface {
	// CreateLink stores p.Link (stamped by the Service, Uses 0) with its
	// token's digest p.Digest, and an EventLinkCreated by its creator at
	// p.Now, and returns it as stored.
	//   - With p.Replace set, that link of the tenant is revoked first, in
	//     the same commit, with its EventLinkRevoked by the creator:
	//     ErrNotFound when there is none, a *LinkRuleError when it is
	//     revoked already.
	//   - p.MaxActive, when above 0, bounds the tenant's active links at
	//     p.Now (not revoked, Uses below MaxUses, ExpiresAt after Now),
	//     the replaced one no longer counted: at the bound nothing is
	//     written and the answer is ErrQuotaExceeded. Creations of one
	//     tenant are serialized, so the bound holds under concurrency.
	CreateLink(ctx context.Context, p CreateLinkParams) (Link, error)

	// RevokeLinks revokes, at p.Now by p.ActorID, each with an
	// EventLinkRevoked, and returns them as revoked:
	//   - with p.ID set, that link of p.TenantID: ErrNotFound when there
	//     is none, a *LinkRuleError when it is revoked already;
	//   - else every link of p.TenantID created by p.CreatedBy that is
	//     active at p.Now (an expired or exhausted link cannot be used
	//     again); none is no error.
	RevokeLinks(ctx context.Context, p RevokeLinksParams) ([]Link, error)

	// JoinLink uses the link whose digest is p.Digest for p.UserID, or
	// answers ErrInvalidToken when there is none. Under the link's lock,
	// which joins of one link wait for:
	//   - it counts the LinkFacts and calls p.Decide with them; an error
	//     is returned as it is, and nothing changes;
	//   - it records the use (p.UserID at p.Now), adds one to Uses and
	//     writes an EventLinkUsed by p.UserID at p.Now;
	//   - it calls p.Hook with the link as used, before the commit: its
	//     error undoes the use and is returned as it is.
	// It returns the link as used. A store refuses, as a broken rule
	// rather than a decision, a second use by one user and Uses past
	// MaxUses (a unique key, a CHECK), should Decide let them through.
	JoinLink(ctx context.Context, p JoinLinkParams) (Link, error)

	// GetLink returns the link of p.TenantID with p.ID, or with p.Digest
	// set the link of that digest in any tenant; ErrNotFound, or
	// ErrInvalidToken for a digest, when there is none.
	GetLink(ctx context.Context, p GetLinkParams) (Link, error)

	// ListLinks returns up to p.Limit links of p.TenantID matching
	// p.Statuses (StatusAt p.Now; any when empty) and p.CreatedBy (any
	// when ""), ordered by CreatedAt then ID, both descending, after
	// p.After when set.
	ListLinks(ctx context.Context, p ListLinksParams) ([]Link, error)

	// LinkUses returns the uses of the link of p.TenantID with p.ID,
	// oldest first (ties by UserID), or ErrNotFound. They are at most its
	// MaxUses.
	LinkUses(ctx context.Context, p LinkParams) ([]LinkUse, error)

	// LinkHistory returns the events of the link of p.TenantID with p.ID
	// in the order they happened, InviteID holding the link's ID, or
	// ErrNotFound.
	LinkHistory(ctx context.Context, p LinkParams) ([]Event, error)
}

// CreateLinkParams is what CreateLink takes.
type CreateLinkParams struct {
	Now    time.Time
	Link   Link
	Digest []byte
	// MaxActive is Config.MaxActiveLinks: 0 sets no bound.
	MaxActive int
	// Replace names the link a RotateLink replaces; uuid.Nil for none.
	Replace uuid.UUID
}

// RevokeLinksParams is what RevokeLinks takes: ID, or CreatedBy.
type RevokeLinksParams struct {
	Now       time.Time
	TenantID  string
	ActorID   string
	ID        uuid.UUID
	CreatedBy string
}

// JoinLinkParams is what JoinLink takes.
type JoinLinkParams struct {
	Now    time.Time
	Digest []byte
	UserID string
	// Decide decides, on the facts read under the link's lock, whether
	// the join may go on.
	Decide func(ctx context.Context, f LinkFacts) error
	// Hook is the host's (Config.OnJoin), run before the commit.
	Hook func(ctx context.Context, l Link) error
}

// LinkFacts is what JoinLink's Decide decides on, read under the link's
// lock: the link as stored, whether JoinLinkParams.UserID used it before,
// and its uses in the minute up to Now (those after Now minus a minute).
type LinkFacts struct {
	Link       Link
	Joined     bool
	RecentUses int
}

// GetLinkParams is what GetLink takes: TenantID and ID, or Digest.
type GetLinkParams struct {
	TenantID string
	ID       uuid.UUID
	Digest   []byte
}

// ListLinksParams is a LinkQuery checked by the Service.
type ListLinksParams struct {
	TenantID  string
	Now       time.Time
	Statuses  []LinkStatus
	CreatedBy string
	Limit     int
	// After is the position of LinkQuery.Cursor: the CreatedAt and ID of
	// the last link of the page before; nil for the first page.
	After *LinkCursor
}

// LinkCursor is a decoded position in a list of links.
type LinkCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// LinkParams names one link of a tenant.
type LinkParams struct {
	TenantID string
	ID       uuid.UUID
}

// LinkRuleError answers a revoke, or a create replacing a link, whose
// link is revoked already: Link is as stored.
type LinkRuleError struct{ Link Link }

func (e *LinkRuleError) Error() string { return "invites: the link is revoked already" }

// Is reports whether target is ErrLinkRevoked, so errors.Is(err,
// ErrLinkRevoked) holds.
func (e *LinkRuleError) Is(target error) bool { return target == ErrLinkRevoked }
