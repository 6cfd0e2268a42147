package invites

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The reads of links: GetLink, ListLinks (and its cursors), LinkUses and
// LinkHistory; and readLink, a link as its caller sees it now.

// GetLink returns one link of the actor's tenant, or ErrNotFound.
func (s *Service) GetLink(ctx context.Context, actor Actor, id uuid.UUID) (_ Link, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameGetLink, TenantID: actor.TenantID, LinkID: id})
	defer func() { end(OpResult{Err: err}) }()
	ls, err := s.linkActor(ctx, OpNameGetLink, actor, OpGetLink, true)
	if err != nil {
		return Link{}, err
	}
	l, err := ls.GetLink(ctx, GetLinkParams{TenantID: actor.TenantID, ID: id})
	if err != nil {
		return Link{}, err
	}
	if err := s.authorizeLink(ctx, actor, OpGetLink, &l); err != nil {
		return Link{}, err
	}
	return s.readLink(l, s.cfg.Now()), nil
}

// ListLinks returns one page of the actor's tenant's links matching q,
// newest first.
func (s *Service) ListLinks(ctx context.Context, actor Actor, q LinkQuery) (page LinkPage, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameListLinks, TenantID: actor.TenantID})
	defer func() { end(OpResult{Err: err, Count: len(page.Links)}) }()
	ls, err := s.linkActor(ctx, OpNameListLinks, actor, OpListLinks, false)
	if err != nil {
		return LinkPage{}, err
	}
	p, err := checkLinkQuery(q)
	if err != nil {
		return LinkPage{}, err
	}
	p.TenantID, p.Now = actor.TenantID, s.cfg.Now()
	limit := p.Limit
	p.Limit++ // one more tells whether a next page exists
	rows, err := ls.ListLinks(ctx, p)
	if err != nil {
		return LinkPage{}, err
	}
	page.Links = make([]Link, 0, min(len(rows), limit))
	for i, l := range rows {
		if i == limit {
			page.NextCursor = encodeLinkCursor(rows[i-1])
			break
		}
		page.Links = append(page.Links, s.readLink(l, p.Now))
	}
	return page, nil
}

// checkLinkQuery checks q and resolves it for a store.
func checkLinkQuery(q LinkQuery) (ListLinksParams, error) {
	p := ListLinksParams{Statuses: q.Statuses, CreatedBy: q.CreatedByUserID, Limit: q.Limit}
	if len(q.Statuses) > MaxFilterValues {
		return p, invalid("status", "has more than %d values", MaxFilterValues)
	}
	for _, st := range q.Statuses {
		if !st.Valid() {
			return p, invalid("status", "has an unknown link status %q", st)
		}
	}
	switch {
	case q.Limit == 0:
		p.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return p, invalid("limit", "must be a whole number from 1 to %d", MaxLimit)
	}
	if err := validText("createdByUserId", q.CreatedByUserID, MaxIDBytes); err != nil {
		return p, err
	}
	if q.Cursor != "" {
		c, ok := decodeLinkCursor(q.Cursor)
		if !ok {
			return p, invalid("cursor", "is not a cursor of this list")
		}
		p.After = &c
	}
	return p, nil
}

// encodeLinkCursor is the position after l: its CreatedAt and ID.
func encodeLinkCursor(l Link) string {
	return base64.RawURLEncoding.EncodeToString([]byte(l.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + l.ID.String()))
}

func decodeLinkCursor(s string) (LinkCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return LinkCursor{}, false
	}
	t, id, ok := strings.Cut(string(b), " ")
	if !ok {
		return LinkCursor{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return LinkCursor{}, false
	}
	u, err := uuid.Parse(id)
	return LinkCursor{CreatedAt: at, ID: u}, err == nil
}

// LinkUses returns who joined through a link of the actor's tenant, and
// when, oldest first; ErrNotFound when there is no such link.
func (s *Service) LinkUses(ctx context.Context, actor Actor, id uuid.UUID) (uses []LinkUse, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameLinkUses, TenantID: actor.TenantID, LinkID: id})
	defer func() { end(OpResult{Err: err, Count: len(uses)}) }()
	ls, err := s.linkActor(ctx, OpNameLinkUses, actor, OpLinkUses, true)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeStored(ctx, ls, actor, OpLinkUses, id); err != nil {
		return nil, err
	}
	return ls.LinkUses(ctx, LinkParams{TenantID: actor.TenantID, ID: id})
}

// LinkHistory returns the events of a link of the actor's tenant, oldest
// first, each with its LinkID; ErrNotFound when there is no such link.
func (s *Service) LinkHistory(ctx context.Context, actor Actor, id uuid.UUID) (evs []Event, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameLinkHistory, TenantID: actor.TenantID, LinkID: id})
	defer func() { end(OpResult{Err: err, Count: len(evs)}) }()
	ls, err := s.linkActor(ctx, OpNameLinkHistory, actor, OpLinkHistory, true)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeStored(ctx, ls, actor, OpLinkHistory, id); err != nil {
		return nil, err
	}
	evs, err = ls.LinkHistory(ctx, LinkParams{TenantID: actor.TenantID, ID: id})
	for i := range evs {
		evs[i] = evs[i].forHost()
	}
	return evs, err
}

// readLink is a link as the caller sees it at now, its Status derived.
func (s *Service) readLink(l Link, now time.Time) Link {
	l.Status = l.StatusAt(now)
	return l
}
