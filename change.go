package invites

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The writes that change one invite. Each rule is decided here, once, for
// every store; a store carries a ChangeParams out atomically. Where each
// rule lives:
//
//	rule                                     lives in                  a store
//	the status Cancel, Accept, Decline need  From, Live (data)         checks them under its lock
//	the same, with Config.Authorize          authorizeThen (a Decide)  calls Decide under its lock
//	Accept's email match and OnAccept        Accept's Hook             calls Hook before commit
//	Update: roles only while pending         Update's Decide           calls Decide under its lock
//	Resend: status, limits, quotas           resend (a Decide)         counts what Count asks for
//	Resend: not to a suppressed address      resend (a Decide)         reads Facts.Suppressed
//	Send: one pending per address, quotas    Insert's Quota (data)     applies the limits in order
//	why a From/Live check refused            refusal                   answers a *RuleError

// change runs p on the store and answers the invite as changed, read now;
// it turns a *RuleError into the refusal it stands for. With a key
// (p.Idempotency), the answer is kept with it, and a replay answers the
// kept one. t is the event a change that committed tells of, if any.
func (s *Service) change(ctx context.Context, p ChangeParams, t EventType) (Invite, error) {
	return s.changeKeep(ctx, p, t, keepInvite)
}

// changeKeep is change, keeping the answer as answer encodes it.
func (s *Service) changeKeep(ctx context.Context, p ChangeParams, t EventType, answer func(Invite) ([]byte, error)) (Invite, error) {
	var kept Invite
	if p.Idempotency != nil {
		p.Answer = func(inv Invite) ([]byte, error) {
			kept = s.asSeenAt(inv, s.cfg.Now())
			return answer(kept)
		}
	}
	inv, err := s.store.Change(ctx, p)
	if re := (*ReplayError)(nil); errors.As(err, &re) {
		return replayInvite(re.Answer)
	}
	if re := (*RuleError)(nil); errors.As(err, &re) {
		return Invite{}, refusal(re.Invite)
	}
	if err != nil {
		return Invite{}, err
	}
	if t != "" {
		s.committed(ctx, t, 1)
	}
	if p.Idempotency != nil {
		return kept, nil
	}
	return s.asSeenAt(inv, s.cfg.Now()), nil
}

// guardChange sets p.Idempotency from ctx's key, of the actor's scope or,
// when p names its invite by token, the token's.
func (s *Service) guardChange(ctx context.Context, p *ChangeParams, scope string, f fingerprint) (err error) {
	p.Idempotency, err = s.guard(ctx, p.TenantID, scope, p.Now, f)
	return err
}

// refusal says why a change whose From or Live did not hold was refused:
// an invite still stored pending failed Live, so it expired; one stored
// expired (its address was invited again) is as expired to its link.
func refusal(inv Invite) error {
	if inv.Status == StatusPending || inv.Status == StatusExpired {
		return ErrExpired
	}
	return &NotPendingError{Status: inv.Status}
}

// authorizeLocked asks Config.Authorize whether actor may do op to inv, the invite as
// the store read it under its lock, as the caller would see it now.
func (s *Service) authorizeLocked(ctx context.Context, actor Actor, op Op, inv Invite) error {
	inv = s.asSeenAt(inv, s.cfg.Now())
	return s.authorize(ctx, actor, op, &inv)
}

// Cancel withdraws an invite stored pending or expired; its link stops
// working at once. Any other status is a *NotPendingError.
func (s *Service) Cancel(ctx context.Context, actor Actor, id uuid.UUID) (_ Invite, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameCancel, TenantID: actor.TenantID, InviteID: id})
	defer func() { end(OpResult{Err: err}) }()
	if err := validActor(actor); err != nil {
		return Invite{}, err
	}
	p := ChangeParams{Now: s.cfg.Now(), TenantID: actor.TenantID, ID: id, ActorID: actor.UserID,
		From: []Status{StatusPending, StatusExpired}, Edit: Edit{Status: StatusCanceled, Event: EventCanceled}}
	f := newFingerprint(OpNameCancel)
	f.add(id.String())
	if err := s.guardChange(ctx, &p, actorScope(actor), f); err != nil {
		return Invite{}, err
	}
	if s.cfg.Authorize != nil {
		p.Decide = s.authorizeThen(actor, OpCancel, p)
	}
	return s.change(ctx, p, EventCanceled)
}

// authorizeThen returns the Decide of a change whose rule p gives as data
// (From, Live) when Config.Authorize must see the invite first: it asks
// Authorize, then checks From and Live as a store would, so the rule is
// written once, in p, whether or not the host authorizes.
func (s *Service) authorizeThen(actor Actor, op Op, p ChangeParams) func(context.Context, Facts) (Edit, error) {
	return func(ctx context.Context, f Facts) (Edit, error) {
		if err := s.authorizeLocked(ctx, actor, op, f.Invite); err != nil {
			return Edit{}, err
		}
		if !slices.Contains(p.From, f.Invite.Status) || p.Live && !f.Invite.ExpiresAt.After(p.Now) {
			return Edit{}, refusal(f.Invite)
		}
		return p.Edit, nil
	}
}

// Resend sends a pending or expired invite again with a new link (the old
// one dies) and a new expiry, within ResendCooldown and MaxResends. A
// resend renews what the invite grants, so the actor must be able to
// grant each of its roles (ErrForbiddenRole). The refusals, in order: the
// actor's authorization and roles, *NotPendingError, ErrSuppressed (the
// address bounced for good or complained, read under the invite's lock
// in the store's transaction), ErrTooManyResends,
// *ResendTooSoonError, ErrQuotaExceeded, and (from the store, at the
// write) ErrAlreadyInvited when the address has another live invite.
// Resend queues an email: an invite the host delivers (DeliveryHost) is
// ErrLinkNotReturned after those, and is resent by ResendWith.
func (s *Service) Resend(ctx context.Context, actor Actor, id uuid.UUID) (Invite, error) {
	r, err := s.resendWith(ctx, actor, id, ResendOptions{}, false)
	return r.Invite, err
}

// ResendWith is Resend with its choices: who delivers the new link, and
// how long it lives. A link the host delivers is in the answer, once (a
// replay under the same idempotency key is ErrLinkNotKept); the old link
// dies as with any resend. A TTL out of Config.MinTTL..MaxTTL or an
// unknown channel is ErrInvalidInput.
func (s *Service) ResendWith(ctx context.Context, actor Actor, id uuid.UUID, o ResendOptions) (Resent, error) {
	return s.resendWith(ctx, actor, id, o, true)
}

// resendWith resends as o asks; unless withLink, a resend that would
// mint a link the host delivers is refused, as no link can be answered.
func (s *Service) resendWith(ctx context.Context, actor Actor, id uuid.UUID, o ResendOptions, withLink bool) (_ Resent, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameResend, TenantID: actor.TenantID, InviteID: id})
	defer func() { end(OpResult{Err: err}) }()
	if err := validActor(actor); err != nil {
		return Resent{}, err
	}
	if !o.Channel.valid() {
		return Resent{}, invalid("channel", "must be %q or %q", ChannelEmail, ChannelHost)
	}
	ttl, err := s.lifetime(o.TTL)
	if err != nil {
		return Resent{}, err
	}
	var (
		tok    Token
		digest []byte
		linked bool // the change decided gives the host a link
	)
	if withLink && o.Channel != ChannelEmail {
		if tok, digest, err = s.cfg.Tokens.New(); err != nil {
			return Resent{}, err
		}
	}
	now, q := s.cfg.Now(), s.quota()
	key, err := s.ledgerKey(ctx)
	if err != nil {
		return Resent{}, err
	}
	skey, err := s.keyed(ctx, SuppressionKey)
	if err != nil {
		return Resent{}, err
	}
	p := ChangeParams{Now: now, TenantID: actor.TenantID, ID: id, ActorID: actor.UserID, Count: q, LedgerKey: key, SuppressionKey: skey,
		Decide: func(ctx context.Context, f Facts) (Edit, error) {
			if err := s.authorizeLocked(ctx, actor, OpResend, f.Invite); err != nil {
				return Edit{}, err
			}
			if err := s.grantable(actor, f.Invite.Roles); err != nil {
				return Edit{}, err
			}
			e, err := s.resend(ctx, f, q, now, ttl)
			if err != nil {
				return Edit{}, err
			}
			host := o.Channel == ChannelHost || o.Channel == "" && f.Invite.DeliveryStatus == DeliveryHost
			if host && !withLink {
				return Edit{}, ErrLinkNotReturned
			}
			linked = host
			if host {
				e.LinkDigest = digest
			} else {
				e.FixedExpiry = o.TTL != 0
			}
			return e, nil
		}}
	f := newFingerprint(OpNameResend)
	f.add(id.String())
	if o != (ResendOptions{}) {
		f.add("own", string(o.Channel), strconv.FormatInt(int64(o.TTL), 10))
	}
	if err := s.guardChange(ctx, &p, actorScope(actor), f); err != nil {
		return Resent{}, err
	}
	inv, err := s.changeKeep(ctx, p, EventResent, func(inv Invite) ([]byte, error) {
		if linked {
			return keepLinked(inv)
		}
		return keepInvite(inv)
	})
	if err != nil {
		return Resent{}, err
	}
	if linked {
		return Resent{Invite: inv, Link: s.cfg.AcceptURL(tok)}, nil
	}
	s.notify()
	return Resent{Invite: inv}, nil
}

// resend decides a resend of f.Invite at now under the quota q, its new
// link to live ttl.
func (s *Service) resend(ctx context.Context, f Facts, q Quota, now time.Time, ttl time.Duration) (Edit, error) {
	inv := f.Invite
	switch {
	case inv.Status != StatusPending && inv.Status != StatusExpired:
		return Edit{}, &NotPendingError{Status: inv.Status}
	case f.Suppressed:
		return Edit{}, ErrSuppressed
	case inv.SendCount-1 >= s.cfg.MaxResends:
		return Edit{}, ErrTooManyResends
	case inv.LastSentAt.Add(s.cfg.ResendCooldown).After(now):
		return Edit{}, &ResendTooSoonError{RetryAfter: inv.LastSentAt.Add(s.cfg.ResendCooldown).Sub(now)}
	case q.MaxSendsPerAddressPerDay > 0 && f.AddressSends >= q.MaxSendsPerAddressPerDay,
		q.MaxSendsPerAddressPerDayAllTenants > 0 && f.AllTenantSends >= q.MaxSendsPerAddressPerDayAllTenants,
		q.MaxSendsPerHour > 0 && f.UserSends >= q.MaxSendsPerHour,
		// A renewed invite that was not pending becomes one more.
		q.MaxPending > 0 && inv.StatusAt(now) != StatusPending && f.TenantPending >= q.MaxPending:
		return Edit{}, ErrQuotaExceeded
	}
	return Edit{Renew: true, ExpiresAt: now.Add(ttl), Trace: s.trace(ctx), Event: EventResent}, nil
}

// Update changes names, locale and data at any time, and roles while the
// invite is pending (a *NotPendingError with the status as read now).
func (s *Service) Update(ctx context.Context, actor Actor, id uuid.UUID, u Update) (_ Invite, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameUpdate, TenantID: actor.TenantID, InviteID: id})
	defer func() { end(OpResult{Err: err}) }()
	if err := validActor(actor); err != nil {
		return Invite{}, err
	}
	u, err = s.checkUpdate(actor, u)
	if err != nil {
		return Invite{}, err
	}
	now := s.cfg.Now()
	p := ChangeParams{Now: now, TenantID: actor.TenantID, ID: id, ActorID: actor.UserID,
		Decide: func(ctx context.Context, f Facts) (Edit, error) {
			if err := s.authorizeLocked(ctx, actor, OpUpdate, f.Invite); err != nil {
				return Edit{}, err
			}
			if st := f.Invite.StatusAt(now); u.Roles != nil && st != StatusPending {
				return Edit{}, &NotPendingError{Status: st}
			}
			return Edit{Fields: u}, nil
		}}
	f := newFingerprint(OpNameUpdate)
	f.add(id.String())
	for _, v := range []*string{u.FirstName, u.LastName, u.Locale} {
		f.addOpt(v != nil, deref(v))
	}
	f.addOpt(u.Data != nil, string(u.Data))
	f.addList(u.Roles)
	if err := s.guardChange(ctx, &p, actorScope(actor), f); err != nil {
		return Invite{}, err
	}
	return s.change(ctx, p, "")
}

func deref(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// checkUpdate validates u and returns it as a store writes it.
func (s *Service) checkUpdate(actor Actor, u Update) (Update, error) {
	for _, n := range []struct {
		field string
		v     *string
	}{{"firstName", u.FirstName}, {"lastName", u.LastName}} {
		if n.v != nil {
			if err := validPersonName(n.field, *n.v); err != nil {
				return u, err
			}
		}
	}
	if u.Locale != nil {
		loc, err := parseLocale(*u.Locale)
		if err != nil {
			return u, err
		}
		u.Locale = &loc
	}
	if u.Data != nil {
		d, err := validData(u.Data)
		if err != nil {
			return u, err
		}
		if d == nil {
			d = []byte("null")
		}
		u.Data = d
	}
	if u.Roles != nil {
		roles, err := validRoles(u.Roles)
		if err != nil {
			return u, err
		}
		if err := s.grantable(actor, roles); err != nil {
			return u, err
		}
		u.Roles = roles
	}
	return u, nil
}

// Accept consumes token for the user by: the invite becomes accepted, after
// Config.OnAccept agreed. ErrInvalidToken, ErrExpired, ErrEmailMismatch or
// a *NotPendingError say why not.
func (s *Service) Accept(ctx context.Context, token string, by Acceptor) (inv Invite, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameAccept})
	defer func() { end(OpResult{Err: err, InviteID: inv.ID}) }()
	if err := validID("acceptor.userId", by.UserID); err != nil {
		return Invite{}, err
	}
	d, err := s.cfg.Tokens.Digest(token)
	if err != nil {
		return Invite{}, err
	}
	hook := s.cfg.OnAccept
	if s.cfg.RequireEmailMatch {
		// Checked inside the store's transaction on the row it locked, so
		// the answer holds for the invite that is accepted.
		hook = func(ctx context.Context, inv Invite) error {
			if NormalizeEmail(by.Email) != inv.EmailNorm() {
				return ErrEmailMismatch
			}
			if s.cfg.OnAccept != nil {
				return s.cfg.OnAccept(ctx, inv)
			}
			return nil
		}
	}
	p := ChangeParams{Now: s.cfg.Now(), Digest: d, ActorID: by.UserID,
		From: []Status{StatusPending}, Live: true, Hook: hook,
		Edit: Edit{Status: StatusAccepted, AcceptedByUserID: by.UserID, Event: EventAccepted}}
	f := newFingerprint(OpNameAccept)
	f.add(by.UserID, by.Email)
	if err := s.guardChange(ctx, &p, tokenScope(d), f); err != nil {
		return Invite{}, err
	}
	return s.change(ctx, p, EventAccepted)
}

// Decline consumes token: the invite becomes declined. It takes no login,
// so its event names no actor.
func (s *Service) Decline(ctx context.Context, token string) (inv Invite, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameDecline})
	defer func() { end(OpResult{Err: err, InviteID: inv.ID}) }()
	d, err := s.cfg.Tokens.Digest(token)
	if err != nil {
		return Invite{}, err
	}
	p := ChangeParams{Now: s.cfg.Now(), Digest: d,
		From: []Status{StatusPending}, Live: true, Edit: Edit{Status: StatusDeclined, Event: EventDeclined}}
	if err := s.guardChange(ctx, &p, tokenScope(d), newFingerprint(OpNameDecline)); err != nil {
		return Invite{}, err
	}
	return s.change(ctx, p, EventDeclined)
}
