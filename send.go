package invites

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Send: a batch of invites checked item by item (prepare), members dropped
// (Config.IsMember), stored in one Insert under the quotas, and the store's
// answer turned into the caller's (outcome). The send ledger's keys are in
// ledger.go.

// Send invites a batch of addresses to the actor's tenant. Each item stands
// alone: a bad or duplicate item, a member's address or one over a quota is
// an ItemError and the rest go on. The error is only for a bad actor, an
// empty or oversized batch, a batch none of whose items fits the tenant's
// or the inviter's quota (ErrQuotaExceeded; an address over
// MaxSendsPerAddressPerDay or MaxSendsPerAddressPerDayAllTenants stays the
// item's CodeAddressLimit), Config.IsMember,
// or the store. An address suppressed (see Unsuppress) is the item's
// CodeSuppressed, checked in the store's transaction.
func (s *Service) Send(ctx context.Context, actor Actor, items []NewInvite) (res SendResult, err error) {
	ctx, end := s.cfg.Observer.StartOp(ctx, OpInfo{Name: OpNameSend, TenantID: actor.TenantID, Batch: len(items)})
	defer func() { end(OpResult{Err: err, Count: len(res.Success)}) }()
	if err := validActor(actor); err != nil {
		return SendResult{}, err
	}
	if err := s.authorize(ctx, actor, OpSend, nil); err != nil {
		return SendResult{}, err
	}
	if len(items) == 0 {
		return SendResult{}, invalid("userInvites", "is empty")
	}
	if len(items) > s.cfg.MaxBatch {
		return SendResult{}, fmt.Errorf("%w: the batch has %d items, more than the %d allowed", ErrBatchTooLarge, len(items), s.cfg.MaxBatch)
	}
	now := s.cfg.Now()
	idem, err := s.guard(ctx, actor.TenantID, actorScope(actor), now, printItems(items))
	if err != nil {
		return SendResult{}, err
	}
	res = SendResult{Success: []Invite{}, Errors: []ItemError{}}
	var own ownLinks
	rows := make([]Invite, 0, len(items))
	index := make([]int, 0, len(items)) // rows[i] came from items[index[i]]
	first := make(map[string]int, len(items))
	for i, it := range items {
		inv, code, err := s.prepare(actor, it, now)
		if err != nil && code == "" {
			return SendResult{}, err // not the item's fault
		}
		if err != nil {
			res.Errors = append(res.Errors, itemError(i, it.Email, code, err))
			continue
		}
		norm := NormalizeEmail(inv.Email)
		if j, dup := first[norm]; dup {
			res.Errors = append(res.Errors, ItemError{Index: i, Email: it.Email, Code: CodeDuplicateInBatch,
				Message: fmt.Sprintf("The address is the same as that of item %d.", j)})
			continue
		}
		first[norm] = i
		if err := own.add(s.cfg.Tokens, inv, it); err != nil {
			return SendResult{}, err
		}
		rows = append(rows, inv)
		index = append(index, i)
	}
	rows, index, err = s.dropMembers(ctx, actor.TenantID, items, rows, index, &res)
	if err != nil {
		return SendResult{}, err
	}
	if len(rows) == 0 && idem == nil {
		return res, nil
	}
	key, err := s.ledgerKey(ctx)
	if err != nil {
		return SendResult{}, err
	}
	skey, err := s.keyed(ctx, SuppressionKey)
	if err != nil {
		return SendResult{}, err
	}
	// With a key the store is asked even for no rows: a retry whose
	// items have become members since must still get the first answer.
	p := InsertParams{Now: now, Invites: rows, Quota: s.quota(), Trace: s.trace(ctx), Idempotency: idem, LedgerKey: key,
		LinkDigests: own.digests, FixedExpiry: own.fixed, SuppressionKey: skey}
	base := res
	outcome := func(out []InsertResult) (SendResult, error) {
		res, err := s.outcome(base, items, index, out, now)
		if err == nil {
			res.Links = own.links(s.cfg.AcceptURL, res.Success)
		}
		return res, err
	}
	var kept SendResult
	if idem != nil {
		p.Answer = func(out []InsertResult) ([]byte, error) {
			var err error
			if kept, err = outcome(out); err != nil {
				return nil, err
			}
			return keepSend(kept)
		}
	}
	out, err := s.store.Insert(ctx, p)
	if re := (*ReplayError)(nil); errors.As(err, &re) {
		return replaySend(re.Answer)
	}
	if err != nil {
		return SendResult{}, err
	}
	if res = kept; idem == nil {
		if res, err = outcome(out); err != nil {
			return SendResult{}, err
		}
	}
	if len(res.Success) > 0 {
		s.committed(ctx, EventCreated, len(res.Success))
		s.notify()
	}
	return res, nil
}

// outcome is the answer of a Send whose items before the store left
// base, and whose stored ones had the results out: an error when the quota
// refused every item. base is left as it was.
func (s *Service) outcome(base SendResult, items []NewInvite, index []int, out []InsertResult, now time.Time) (SendResult, error) {
	res := SendResult{Success: slices.Clone(base.Success), Errors: slices.Clone(base.Errors)}
	over := s.collect(&res, items, index, out, now)
	if len(res.Success) == 0 && over > 0 {
		return SendResult{}, fmt.Errorf("%w: no invite of the batch fits the send quota", ErrQuotaExceeded)
	}
	slices.SortFunc(res.Errors, func(a, b ItemError) int { return cmp.Compare(a.Index, b.Index) })
	return res, nil
}

// collect adds the outcome of each stored item to res, and counts the
// items the quota refused.
func (s *Service) collect(res *SendResult, items []NewInvite, index []int, out []InsertResult, now time.Time) (over int) {
	for k, r := range out {
		item := ItemError{Index: index[k], Email: items[index[k]].Email}
		switch {
		case r.Suppressed:
			item.Code, item.Message = CodeSuppressed, "The address bounced or complained, and is suppressed."
		case r.Existing != uuid.Nil:
			item.Code, item.Message, item.InviteID = CodeAlreadyInvited, "The address already has a pending invite.", r.Existing
		case r.AddressLimited:
			item.Code, item.Message = CodeAddressLimit, "The address has had the most emails it may get in a day."
		case r.OverQuota:
			item.Code, item.Message = CodeQuotaExceeded, "The tenant's or the inviter's send quota is used up."
			over++
		default:
			res.Success = append(res.Success, s.asSeenAt(r.Invite, now))
			continue
		}
		res.Errors = append(res.Errors, item)
	}
	return over
}

// dropMembers asks Config.IsMember once for the whole batch and turns the
// members' items into CodeAlreadyMember errors.
func (s *Service) dropMembers(ctx context.Context, tenantID string, items []NewInvite, rows []Invite, index []int, res *SendResult) ([]Invite, []int, error) {
	if s.cfg.IsMember == nil || len(rows) == 0 {
		return rows, index, nil
	}
	emails := make([]string, len(rows))
	for i, r := range rows {
		emails[i] = r.Email
	}
	member, err := s.cfg.IsMember(ctx, tenantID, emails)
	if err != nil {
		return nil, nil, fmt.Errorf("invites: Config.IsMember: %w", err)
	}
	if len(member) != len(emails) {
		return nil, nil, fmt.Errorf("invites: Config.IsMember answered %d of %d addresses", len(member), len(emails))
	}
	keep, kept := rows[:0], index[:0]
	for i, r := range rows {
		if member[i] {
			res.Errors = append(res.Errors, ItemError{Index: index[i], Email: items[index[i]].Email,
				Code: CodeAlreadyMember, Message: "The address is already a member of the tenant."})
			continue
		}
		keep, kept = append(keep, r), append(kept, index[i])
	}
	return keep, kept, nil
}

func (s *Service) quota() Quota {
	return Quota{MaxPending: s.cfg.MaxPendingPerTenant, MaxSendsPerHour: s.cfg.MaxSendsPerInviterPerHour,
		// -1, off, is 0 to a store
		MaxSendsPerAddressPerDay:           max(s.cfg.MaxSendsPerAddressPerDay, 0),
		MaxSendsPerAddressPerDayAllTenants: max(s.cfg.MaxSendsPerAddressPerDayAllTenants, 0)}
}

// prepare validates one item and builds its row, or names the item error.
func (s *Service) prepare(actor Actor, it NewInvite, now time.Time) (Invite, string, error) {
	email, err := validEmail(it.Email)
	if err != nil {
		return Invite{}, CodeInvalidEmail, err
	}
	if err := validPersonName("firstName", it.FirstName); err != nil {
		return Invite{}, CodeInvalidName, err
	}
	if err := validPersonName("lastName", it.LastName); err != nil {
		return Invite{}, CodeInvalidName, err
	}
	if !it.Channel.valid() {
		return Invite{}, CodeInvalidChannel, invalid("channel", "must be %q or %q", ChannelEmail, ChannelHost)
	}
	ttl, err := s.lifetime(it.TTL)
	if err != nil {
		return Invite{}, CodeInvalidTTL, err
	}
	delivery := DeliveryQueued
	if it.Channel == ChannelHost {
		delivery = DeliveryHost
	}
	locale := s.cfg.DefaultLocale
	if it.Locale != "" {
		if locale, err = parseLocale(it.Locale); err != nil {
			return Invite{}, CodeInvalidLocale, err
		}
	}
	data, err := validData(it.Data)
	if err != nil {
		return Invite{}, CodeInvalidData, err
	}
	roles := it.Roles
	if roles == nil {
		roles = actor.Roles
	}
	if roles, err = validRoles(roles); err != nil {
		return Invite{}, CodeInvalidRoles, err
	}
	if err := s.grantable(actor, roles); err != nil {
		return Invite{}, CodeForbiddenRole, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Invite{}, "", err
	}
	return Invite{
		ID: id, TenantID: actor.TenantID, Email: email,
		FirstName: it.FirstName, LastName: it.LastName, Locale: locale, Data: data, Roles: roles,
		Status: StatusPending, StatusUpdatedAt: now, CreatedByUserID: actor.UserID,
		ExpiresAt: now.Add(ttl), SendCount: 1, LastSentAt: now, DeliveryStatus: delivery,
		CreatedAt: now, UpdatedAt: now,
	}, "", nil
}

// lifetime is the lifetime of a link whose send or resend named ttl:
// Config.TTL for zero, else ttl within Config.MinTTL and MaxTTL.
func (s *Service) lifetime(ttl time.Duration) (time.Duration, error) {
	if ttl == 0 {
		return s.cfg.TTL, nil
	}
	if ttl < s.cfg.MinTTL || ttl > s.cfg.MaxTTL {
		return 0, invalid("ttl", "must be between %s and %s", s.cfg.MinTTL, s.cfg.MaxTTL)
	}
	return ttl, nil
}

// ownLinks gathers what the items of a Send ask beyond an email of
// Config.TTL: the tokens minted for the links the host delivers, and the
// invites of a TTL of their own.
type ownLinks struct {
	tokens  map[uuid.UUID]Token
	digests map[uuid.UUID][]byte
	fixed   map[uuid.UUID]bool
}

// add notes what item it, stored as inv, asks for, minting its token
// when the host delivers it.
func (o *ownLinks) add(tokens TokenIssuer, inv Invite, it NewInvite) error {
	if it.Channel != ChannelHost {
		if it.TTL != 0 {
			if o.fixed == nil {
				o.fixed = map[uuid.UUID]bool{}
			}
			o.fixed[inv.ID] = true
		}
		return nil
	}
	tok, d, err := tokens.New()
	if err != nil {
		return err
	}
	if o.tokens == nil {
		o.tokens, o.digests = map[uuid.UUID]Token{}, map[uuid.UUID][]byte{}
	}
	o.tokens[inv.ID], o.digests[inv.ID] = tok, d
	return nil
}

// links are the accept links of the invites of stored that got a token,
// or nil when none did.
func (o *ownLinks) links(url func(Token) string, stored []Invite) map[uuid.UUID]string {
	var out map[uuid.UUID]string
	for _, inv := range stored {
		if tok, ok := o.tokens[inv.ID]; ok {
			if out == nil {
				out = map[uuid.UUID]string{}
			}
			out[inv.ID] = url(tok)
		}
	}
	return out
}
