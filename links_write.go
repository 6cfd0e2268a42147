package invites

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The writes of links: CreateLink, RotateLink, RevokeLink and
// RevokeLinksBy. Each rule is decided here and handed to the LinkStore as
// data (the cap of active links, the link a rotation replaces); JoinByLink
// is in links_join.go.

// links returns the store as a LinkStore, or an error wrapping
// ErrUnsupported that names op. The Service holds the store bounded (see
// bound), which is a LinkStore exactly when the host's store is one.
func (s *Service) links(op string) (LinkStore, error) {
	if l, ok := s.store.(LinkStore); ok {
		return l, nil
	}
	return nil, fmt.Errorf("%w: %s needs a store that is a LinkStore", ErrUnsupported, op)
}

// CreateLink makes a shareable link of spec in the actor's tenant and
// answers it with its token and URL, which are never shown again. The
// refusals, in order: the actor's authorization (OpCreateLink), an
// *InputError or ErrForbiddenRole for the spec, and ErrQuotaExceeded at
// Config.MaxActiveLinks.
func (s *Service) CreateLink(ctx context.Context, actor Actor, spec LinkSpec) (c CreatedLink, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameCreateLink, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err, LinkID: c.Link.ID}) }()
	ls, err := s.linkActor(ctx, OpNameCreateLink, actor, OpCreateLink, true)
	if err != nil {
		return CreatedLink{}, err
	}
	now := s.cfg.Now()
	l, err := s.newLink(actor, spec, now)
	if err != nil {
		return CreatedLink{}, err
	}
	if err := s.authorizeLink(ctx, actor, OpCreateLink, &l); err != nil {
		return CreatedLink{}, err
	}
	return s.createLink(ctx, ls, l, uuid.Nil, now)
}

// RotateLink revokes a link of the actor's tenant and makes, in the same
// commit, a new one of the same spec and lifetime (from now, within
// Config.MaxLinkTTL), answered as CreateLink answers. ErrNotFound, or
// ErrLinkRevoked for a link revoked already.
func (s *Service) RotateLink(ctx context.Context, actor Actor, id uuid.UUID) (c CreatedLink, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameRotateLink, TenantID: actor.TenantID, LinkID: id})
	defer func() { end(OpResult{Err: err, LinkID: c.Link.ID}) }()
	ls, err := s.linkActor(ctx, OpNameRotateLink, actor, OpRotateLink, true)
	if err != nil {
		return CreatedLink{}, err
	}
	// A link's spec never changes, so it may be read before the commit.
	old, err := ls.GetLink(ctx, GetLinkParams{TenantID: actor.TenantID, ID: id})
	if err != nil {
		return CreatedLink{}, err
	}
	if err := s.authorizeLink(ctx, actor, OpRotateLink, &old); err != nil {
		return CreatedLink{}, err
	}
	now := s.cfg.Now()
	if !old.RevokedAt.IsZero() {
		return CreatedLink{}, ErrLinkRevoked
	}
	if err := s.grantable(actor, old.Roles); err != nil {
		return CreatedLink{}, err
	}
	l := Link{ID: uuid.Must(uuid.NewV7()), TenantID: actor.TenantID, Roles: old.Roles,
		MaxUses: min(old.MaxUses, s.cfg.MaxLinkUses), AllowedDomains: old.AllowedDomains, Note: old.Note,
		CreatedByUserID: actor.UserID, CreatedAt: now,
		ExpiresAt: now.Add(min(old.ExpiresAt.Sub(old.CreatedAt), s.cfg.MaxLinkTTL))}
	return s.createLink(ctx, ls, l, id, now)
}

// RevokeLink ends a link of the actor's tenant at once and answers it as
// revoked: ErrNotFound, or ErrLinkRevoked when it was already.
func (s *Service) RevokeLink(ctx context.Context, actor Actor, id uuid.UUID) (_ Link, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameRevokeLink, TenantID: actor.TenantID, LinkID: id})
	defer func() { end(OpResult{Err: err}) }()
	ls, err := s.linkActor(ctx, OpNameRevokeLink, actor, OpRevokeLink, true)
	if err != nil {
		return Link{}, err
	}
	if err := s.authorizeStored(ctx, ls, actor, OpRevokeLink, id); err != nil {
		return Link{}, err
	}
	now := s.cfg.Now()
	ls2, err := ls.RevokeLinks(ctx, RevokeLinksParams{Now: now, TenantID: actor.TenantID, ActorID: actor.UserID, ID: id})
	if re := (*LinkRuleError)(nil); errors.As(err, &re) {
		return Link{}, ErrLinkRevoked
	}
	if err != nil {
		return Link{}, err
	}
	s.committed(ctx, EventLinkRevoked, len(ls2))
	return s.readLink(ls2[0], now), nil
}

// RevokeLinksBy revokes, in one commit, every link of the actor's tenant
// that userID created and that is still active, for a host that demotes
// or removes that user, and answers them. Their links that expired or
// were used up stay so; a RotateLink of one makes a link of the rotating
// actor's, who must be able to grant its roles.
func (s *Service) RevokeLinksBy(ctx context.Context, actor Actor, userID string) (out []Link, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameRevokeLinksBy, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err, Count: len(out)}) }()
	ls, err := s.linkActor(ctx, OpNameRevokeLinksBy, actor, OpRevokeLinksBy, false)
	if err != nil {
		return nil, err
	}
	if err := validID("userId", userID); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	out, err = ls.RevokeLinks(ctx, RevokeLinksParams{Now: now, TenantID: actor.TenantID, ActorID: actor.UserID, CreatedBy: userID})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		s.committed(ctx, EventLinkRevoked, len(out))
	}
	for i := range out {
		out[i] = s.readLink(out[i], now)
	}
	return out, nil
}

// linkActor is what every link method of an actor checks first: a
// LinkStore, a valid actor, and the leave for op of Config.Authorize, or
// of Config.AuthorizeLink with no link. An op on one link (onLink) is
// left, when AuthorizeLink is set, to authorizeLink with the link.
func (s *Service) linkActor(ctx context.Context, name string, actor Actor, op Op, onLink bool) (LinkStore, error) {
	ls, err := s.links(name)
	if err != nil {
		return nil, err
	}
	if err := validActor(actor); err != nil {
		return nil, err
	}
	switch {
	case s.cfg.AuthorizeLink == nil:
		return ls, s.authorize(ctx, actor, op, nil)
	case !onLink:
		return ls, s.authorizeLink(ctx, actor, op, nil)
	}
	return ls, nil
}

// authorizeLink asks Config.AuthorizeLink, when set, about op on l.
func (s *Service) authorizeLink(ctx context.Context, actor Actor, op Op, l *Link) error {
	if s.cfg.AuthorizeLink == nil {
		return nil
	}
	if l != nil {
		seen := s.readLink(*l, s.cfg.Now())
		l = &seen
	}
	if err := s.cfg.AuthorizeLink(ctx, actor, op, l); err != nil {
		return &ForbiddenError{Op: op, Err: err}
	}
	return nil
}

// authorizeStored reads the link of id for Config.AuthorizeLink, when it
// is set, and asks it about op.
func (s *Service) authorizeStored(ctx context.Context, ls LinkStore, actor Actor, op Op, id uuid.UUID) error {
	if s.cfg.AuthorizeLink == nil {
		return nil
	}
	l, err := ls.GetLink(ctx, GetLinkParams{TenantID: actor.TenantID, ID: id})
	if err != nil {
		return err
	}
	return s.authorizeLink(ctx, actor, op, &l)
}

// createLink mints l's token and stores l, replacing the link replace
// when it is set, and answers it with its token.
func (s *Service) createLink(ctx context.Context, ls LinkStore, l Link, replace uuid.UUID, now time.Time) (CreatedLink, error) {
	tok, d, err := s.cfg.Tokens.New()
	if err != nil {
		return CreatedLink{}, err
	}
	stored, err := ls.CreateLink(ctx, CreateLinkParams{Now: now, Link: l, Digest: d, MaxActive: s.cfg.MaxActiveLinks, Replace: replace})
	if re := (*LinkRuleError)(nil); errors.As(err, &re) {
		return CreatedLink{}, ErrLinkRevoked
	}
	if err != nil {
		return CreatedLink{}, err
	}
	if replace != uuid.Nil {
		s.committed(ctx, EventLinkRevoked, 1)
	}
	s.committed(ctx, EventLinkCreated, 1)
	c := CreatedLink{Link: s.readLink(stored, now), Token: tok}
	if s.cfg.JoinURL != nil {
		c.URL = s.cfg.JoinURL(tok)
	}
	return c, nil
}

// newLink checks spec and returns the link of it actor creates at now.
func (s *Service) newLink(actor Actor, spec LinkSpec, now time.Time) (Link, error) {
	roles := spec.Roles
	if roles == nil {
		roles = actor.Roles
	}
	roles, err := validRoles(roles)
	if err != nil {
		return Link{}, err
	}
	if err := s.grantable(actor, roles); err != nil {
		return Link{}, err
	}
	if spec.MaxUses < 1 || spec.MaxUses > s.cfg.MaxLinkUses {
		return Link{}, invalid("maxUses", "must be a whole number from 1 to %d", s.cfg.MaxLinkUses)
	}
	expires, err := s.linkExpiry(spec, now)
	if err != nil {
		return Link{}, err
	}
	domains, err := validDomains(spec.AllowedDomains)
	if err != nil {
		return Link{}, err
	}
	if err := validText("note", spec.Note, MaxLinkNoteRunes); err != nil {
		return Link{}, err
	}
	return Link{ID: uuid.Must(uuid.NewV7()), TenantID: actor.TenantID, Roles: roles, MaxUses: spec.MaxUses,
		AllowedDomains: domains, Note: spec.Note, CreatedByUserID: actor.UserID, CreatedAt: now, ExpiresAt: expires}, nil
}

// linkExpiry is when a link of spec made at now ends.
func (s *Service) linkExpiry(spec LinkSpec, now time.Time) (time.Time, error) {
	latest := now.Add(s.cfg.MaxLinkTTL)
	switch {
	case !spec.ExpiresAt.IsZero() && spec.TTL != 0:
		return time.Time{}, invalid("expiresAt", "cannot be given with a lifetime (TTL) too")
	case !spec.ExpiresAt.IsZero():
		if !spec.ExpiresAt.After(now) || spec.ExpiresAt.After(latest) {
			return time.Time{}, invalid("expiresAt", "must be after now and at most %s from now", s.cfg.MaxLinkTTL)
		}
		return spec.ExpiresAt, nil
	case spec.TTL != 0:
		if spec.TTL < 0 || spec.TTL > s.cfg.MaxLinkTTL {
			return time.Time{}, invalid("ttl", "must be positive and at most %s", s.cfg.MaxLinkTTL)
		}
		return now.Add(spec.TTL), nil
	}
	return now.Add(min(DefaultLinkTTL, s.cfg.MaxLinkTTL)), nil
}

// maxDomainBytes bounds a domain before IDNA looks at it: the longest a
// DNS name may be.
const maxDomainBytes = 253

// validDomains returns domains in canonical U-label form, without
// repeats, in their first order.
func validDomains(domains []string) ([]string, error) {
	if len(domains) > MaxLinkDomains {
		return nil, invalid("allowedDomains", "has more than %d items", MaxLinkDomains)
	}
	out := make([]string, 0, len(domains))
	for i, d := range domains {
		field := fmt.Sprintf("allowedDomains[%d]", i)
		if len(d) > maxDomainBytes {
			return nil, invalid(field, "is longer than %d bytes", maxDomainBytes)
		}
		uni, _, err := canonicalDomain(strings.TrimSpace(d))
		if err != nil {
			return nil, invalid(field, "is not a domain an address may have")
		}
		if !slices.Contains(out, uni) {
			out = append(out, uni)
		}
	}
	return out, nil
}
