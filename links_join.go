package invites

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Joining through a link: JoinByLink, and CheckLink for its landing page.
// A token is digested before any store work, so junk costs nothing but
// the refusal, which the Observer sees as the operation's ErrInvalidToken.

// JoinByLink uses the link of token for the user j: one use is counted
// and Config.OnJoin runs, in one transaction, and the link is answered
// as used. The refusals, none of which uses up a use: ErrInvalidToken;
// ErrLinkRevoked, ErrLinkExhausted or ErrLinkExpired; ErrAlreadyJoined;
// ErrDomainNotAllowed; ErrLinkRateLimited (Config.LinkUsesPerMinute);
// ErrAlreadyMember (Config.IsMember, asked before the link is locked, of
// j.Email in its stored form and only when it is verified: an address
// the user merely claims must not refuse them, nor tell them who is a
// member); and OnJoin's error. An address that is no valid bare one (see
// Send) counts as none.
func (s *Service) JoinByLink(ctx context.Context, token string, j Joiner) (l Link, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameJoinByLink})
	defer func() { end(OpResult{Err: err, LinkID: l.ID}) }()
	ls, err := s.links(OpNameJoinByLink)
	if err != nil {
		return Link{}, err
	}
	if err := validID("joiner.userId", j.UserID); err != nil {
		return Link{}, err
	}
	d, err := s.cfg.Tokens.Digest(token)
	if err != nil {
		return Link{}, err
	}
	addr := joinerAddress(j)
	member, err := s.member(ctx, ls, d, addr)
	if err != nil {
		return Link{}, err
	}
	now := s.cfg.Now()
	p := JoinLinkParams{Now: now, Digest: d, UserID: j.UserID,
		Decide: func(_ context.Context, f LinkFacts) error { return s.mayJoin(f, addr, now, member) }}
	if s.cfg.OnJoin != nil {
		p.Hook = func(ctx context.Context, l Link) error { return s.cfg.OnJoin(ctx, s.readLink(l, now), j) }
	}
	l, err = ls.JoinLink(ctx, p)
	if err != nil {
		return Link{}, err
	}
	s.committed(ctx, EventLinkUsed, 1)
	return s.readLink(l, now), nil
}

// joinerAddress is j's address as Send would store it, when j verified
// it and it is a valid bare address; else "". Only such an address passes
// a link's AllowedDomains or is asked of Config.IsMember: the host may
// hand over whatever its users typed (a@evil.example@x.io).
func joinerAddress(j Joiner) string {
	if !j.EmailVerified || j.Email == "" {
		return ""
	}
	e, err := validEmail(j.Email)
	if err != nil {
		return ""
	}
	return e
}

// member asks Config.IsMember whether addr belongs to the tenant of the
// link of d before JoinLink locks the link, so that no host's code runs
// while every join of the link waits; the answer does not depend on the
// lock (OnJoin meets a membership made meanwhile as it would any). It
// answers what mayJoin refuses with in IsMember's turn: ErrAlreadyMember,
// IsMember's error, or nil; err is the store's, ErrInvalidToken when
// there is no such link.
func (s *Service) member(ctx context.Context, ls LinkStore, d []byte, addr string) (refusal, err error) {
	if s.cfg.IsMember == nil || addr == "" {
		return nil, nil
	}
	l, err := ls.GetLink(ctx, GetLinkParams{Digest: d})
	if err != nil {
		return nil, err
	}
	member, err := s.cfg.IsMember(ctx, l.TenantID, []string{addr})
	switch {
	case err != nil:
		return err, nil
	case len(member) == 1 && member[0]:
		return ErrAlreadyMember, nil
	}
	return nil, nil
}

// mayJoin decides whether the joiner of verified address addr (see
// joinerAddress) may join through f.Link at now; member is the refusal of
// Service.member, the last one it checks.
func (s *Service) mayJoin(f LinkFacts, addr string, now time.Time, member error) error {
	l := f.Link
	switch st := l.StatusAt(now); {
	case st != LinkActive:
		return linkRefusal(st)
	case f.Joined:
		return ErrAlreadyJoined
	case !domainAllowed(l.AllowedDomains, addr):
		return ErrDomainNotAllowed
	case f.RecentUses >= s.cfg.LinkUsesPerMinute:
		return ErrLinkRateLimited
	}
	return member
}

// linkRefusal is the error of a link that cannot be used, by its status.
func linkRefusal(st LinkStatus) error {
	switch st {
	case LinkRevoked:
		return ErrLinkRevoked
	case LinkExhausted:
		return ErrLinkExhausted
	}
	return ErrLinkExpired
}

// domainAllowed reports whether the joiner of verified address addr
// passes domains: any joiner when there are none; else only one with an
// address whose domain, in canonical form, is one of them exactly.
func domainAllowed(domains []string, addr string) bool {
	if len(domains) == 0 {
		return true
	}
	at := strings.LastIndexByte(addr, '@')
	return at > 0 && slices.Contains(domains, addr[at+1:])
}

// CheckLink tells the holder of token whether it can be used now, or why
// not, and what Config.LinkView shows of a usable link; nothing else. A
// malformed or unknown token is a LinkCheck with IsValid false and no
// Status, not an error.
func (s *Service) CheckLink(ctx context.Context, token string) (c LinkCheck, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameCheckLink})
	var l Link
	defer func() { end(OpResult{Err: err, LinkID: l.ID}) }()
	ls, err := s.links(OpNameCheckLink)
	if err != nil {
		return LinkCheck{}, err
	}
	d, err := s.cfg.Tokens.Digest(token)
	if errors.Is(err, ErrInvalidToken) {
		return LinkCheck{}, nil
	}
	if err != nil {
		return LinkCheck{}, err
	}
	l, err = ls.GetLink(ctx, GetLinkParams{Digest: d})
	if errors.Is(err, ErrInvalidToken) {
		return LinkCheck{}, nil
	}
	if err != nil {
		return LinkCheck{}, err
	}
	l = s.readLink(l, s.cfg.Now())
	c = LinkCheck{IsValid: l.Status == LinkActive, Status: l.Status}
	if c.IsValid && s.cfg.LinkView != nil {
		if c.View, err = s.cfg.LinkView(ctx, l); err != nil {
			return LinkCheck{}, err
		}
	}
	return c, nil
}
