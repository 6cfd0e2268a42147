package bunstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/uptrace/bun"
)

// Change: every write of one existing invite (cancel, resend, update,
// accept, decline), by rule in one UPDATE or decided in a transaction.

// Change implements invites.Store. A change by rule (no Decide, no Renew)
// is one conditional UPDATE, which the database orders against any other
// write of the row; with a Hook, the UPDATE and the hook share a
// transaction, whose row lock makes any other change of the invite wait
// for the hook. A decided change, or a renewal, runs in a transaction
// that locks before it reads (see decided).
func (s *Store) Change(ctx context.Context, p invites.ChangeParams) (_ invites.Invite, err error) {
	defer s.settle(&err)
	s.ready(ctx)
	byRule := p.Decide == nil && !p.Edit.Renew
	var (
		out  invites.Invite
		host error // from Decide or Hook: returned as it is
	)
	if byRule && p.Hook == nil && p.Idempotency == nil {
		err = s.atomically(ctx, func(ctx context.Context, db bun.IDB) (err error) {
			out, err = s.ruled(ctx, db, p)
			return err
		})
	} else {
		err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) (err error) {
			host = nil
			if err := takeKey(ctx, tx, p.Idempotency, p.Now); err != nil {
				return err
			}
			if byRule {
				out, err = s.ruled(ctx, tx, p)
			} else {
				out, err = s.decided(ctx, tx, p, &host)
			}
			if err != nil {
				return err
			}
			if p.Hook != nil {
				if host = p.Hook(context.WithValue(ctx, txKey{}, tx), out); host != nil {
					return host
				}
			}
			return keepAnswer(ctx, tx, p.Idempotency, p.Answer, out, &host)
		})
	}
	if err := keyedErr(host, err); err != nil {
		return invites.Invite{}, err
	}
	return out, nil
}

// ruled applies p.Edit by p's rule in one conditional UPDATE, and when
// that changes no row reads the invite to say why. A read the rule allows
// means a concurrent write between the two (a claim renewing the expiry,
// say): the UPDATE goes again, a few times.
func (s *Store) ruled(ctx context.Context, db bun.IDB, p invites.ChangeParams) (invites.Invite, error) {
	var a sqlArgs
	upd := editSQL(&a, p.Now, p.Edit, uuid.Nil) + a.key(p)
	from := make([]string, len(p.From))
	for i, st := range p.From {
		from[i] = a.add(string(st))
	}
	if len(from) == 0 {
		from = []string{"NULL"} // matches no status
	}
	upd += " AND status IN (" + strings.Join(from, ", ") + ")"
	if p.Live {
		upd += " AND expires_at > ?0"
	}
	for range 3 {
		inv, err := s.updateWithEvent(ctx, db, upd+" RETURNING "+inviteCols, a, p.Edit.Event, p.ActorID, p.Now)
		if !errors.Is(err, sql.ErrNoRows) {
			return inv, err
		}
		cur, err := readInvite(ctx, db, p, "")
		switch {
		case err != nil:
			return invites.Invite{}, err
		case !allows(p, cur):
			return invites.Invite{}, &invites.RuleError{Invite: cur}
		}
	}
	return invites.Invite{}, errors.New("bunstore: the change kept meeting concurrent ones; try again")
}

// allows reports whether p's rule lets it change cur, at the precision the
// database compares.
func allows(p invites.ChangeParams, cur invites.Invite) bool {
	return slices.Contains(p.From, cur.Status) && (!p.Live || cur.ExpiresAt.After(time.Time(at(p.Now))))
}

// decided runs in tx a change that Decide rules on, or a renewal: it takes
// the quota locks p.Count needs before the invite's row lock (in Insert's
// order, so the two never wait on each other in a circle), reads the
// invite under that lock (FOR NO KEY UPDATE on PostgreSQL; SQLite's
// immediate transaction excludes every other writer), counts the Facts and
// applies the Edit Decide returns: nothing changes the invite or the
// counts between Decide's answer and the write. An error of Decide's goes
// to host as well.
func (s *Store) decided(ctx context.Context, tx bun.Tx, p invites.ChangeParams, host *error) (invites.Invite, error) {
	if p.LedgerKey == nil && addressLimited(p.Count) {
		return invites.Invite{}, errNoLedgerKey
	}
	if p.Decide != nil && s.pg && p.Count != (invites.Quota{}) {
		tenant, id := p.TenantID, p.ID
		if p.Digest != nil {
			// A token's invite is found unlocked first: its tenant and id
			// never change, and the read under the lock checks the token.
			cur, err := readInvite(ctx, tx, p, "")
			if err != nil {
				return invites.Invite{}, err
			}
			tenant, id = cur.TenantID, cur.ID
		}
		if err := s.lockQuotas(ctx, tx, p.Count, tenant); err != nil {
			return invites.Invite{}, err
		}
		if err := s.lockAddresses(ctx, tx, p.Count, anInvite(0), tenant, id); err != nil {
			return invites.Invite{}, err
		}
	}
	cur, err := readInvite(ctx, tx, p, s.forUpdate)
	if err != nil {
		return invites.Invite{}, err
	}
	edit := p.Edit
	if p.Decide == nil {
		if !allows(p, cur) {
			return invites.Invite{}, &invites.RuleError{Invite: cur}
		}
	} else {
		f, err := s.facts(ctx, tx, p, cur)
		if err != nil {
			return invites.Invite{}, err
		}
		if edit, err = p.Decide(ctx, f); err != nil {
			*host = err
			return invites.Invite{}, err
		}
	}
	return s.apply(ctx, tx, p, cur, edit)
}

// facts counts what p.Count asks for the change of cur; the caller holds
// the quota locks.
func (s *Store) facts(ctx context.Context, tx bun.Tx, p invites.ChangeParams, cur invites.Invite) (invites.Facts, error) {
	f := invites.Facts{Invite: cur}
	var err error
	if addressLimited(p.Count) {
		k := keyRow{cur.TenantID, p.LedgerKey(cur.EmailNorm())}
		from, args := s.batchKeys(1, keyTable{k})
		var c addressSends
		c, err = s.countAddresses(ctx, tx, p.Count, p.Now, from, args...)
		f.AddressSends, f.AllTenantSends = c.mine[sendKey{k.tenant, string(k.key)}], c.all[string(k.key)]
	}
	if err == nil {
		f.UserSends, err = sendCount(ctx, tx, p.Count.MaxSendsPerHour, cur.TenantID, p.ActorID, p.Now)
	}
	if err == nil {
		f.TenantPending, err = pendingCount(ctx, tx, p.Count.MaxPending, cur.TenantID, p.Now)
	}
	if err == nil && p.SuppressionKey != nil {
		var barred map[sendKey]bool
		k := keyRow{cur.TenantID, p.SuppressionKey(cur.EmailNorm())}
		barred, err = s.suppressed(ctx, tx, keyTable{k})
		f.Suppressed = barred[sendKey{k.tenant, string(k.key)}]
	}
	return f, err
}

// apply writes e to cur, which tx holds locked. A renewal first marks
// expired any pending invite of the address past its expiry (it gives
// way, as to Insert); one still live makes the UPDATE break the unique
// index of pending addresses: ErrAlreadyInvited. The renewed invite's old
// links die with its tokens, and its reminder supersedes any queued
// delivery.
func (s *Store) apply(ctx context.Context, tx bun.Tx, p invites.ChangeParams, cur invites.Invite, e invites.Edit) (invites.Invite, error) {
	var did uuid.UUID
	if e.Renew {
		if p.LedgerKey == nil {
			return invites.Invite{}, errNoLedgerKey
		}
		var err error
		if did, err = uuid.NewV7(); err != nil {
			return invites.Invite{}, err
		}
		_, err = expireWhere(ctx, tx, p.Now, with{}, "id <> ? AND tenant_id = ? AND email_norm = ?",
			cur.ID, cur.TenantID, cur.EmailNorm())
		if err != nil {
			return invites.Invite{}, err
		}
	}
	var a sqlArgs
	upd := editSQL(&a, p.Now, e, did) + "id = " + a.add(cur.ID) + " RETURNING " + inviteCols
	inv, err := s.updateWithEvent(ctx, tx, upd, a, e.Event, p.ActorID, p.Now)
	switch {
	case isUniqueViolation(err):
		return invites.Invite{}, invites.ErrAlreadyInvited
	case err != nil || !e.Renew:
		return inv, err
	}
	if _, err := on(tx).ExecContext(ctx, "DELETE FROM invites_tokens WHERE invite_id = ?", cur.ID); err != nil {
		return invites.Invite{}, err
	}
	if err := s.recordSends(ctx, tx, p.Now, []send{{cur.TenantID, p.ActorID, p.LedgerKey(cur.EmailNorm())}}); err != nil {
		return invites.Invite{}, err
	}
	if e.LinkDigest == nil {
		return inv, queueReminder(ctx, tx, inv, did, p.Now, e.Trace)
	}
	if err := supersede(ctx, tx, inv.ID); err != nil {
		return invites.Invite{}, err
	}
	_, err = on(tx).ExecContext(ctx, "INSERT INTO invites_tokens (digest, invite_id, delivery_id) VALUES (?, ?, ?)", e.LinkDigest, inv.ID, did)
	return inv, err
}

// renewedDelivery is the DeliveryStatus a renewal e leaves.
func renewedDelivery(e invites.Edit) invites.DeliveryStatus {
	if e.LinkDigest != nil {
		return invites.DeliveryHost
	}
	return invites.DeliveryQueued
}

// sqlBool is b as a literal both dialects read.
func sqlBool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// sqlArgs collects the arguments of a statement with numbered
// placeholders, so that its text depends on the shape of a change, not on
// its values, and runs prepared (see queryRow).
type sqlArgs []any

// add appends v and returns its placeholder.
func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "?" + strconv.Itoa(len(*a)-1)
}

// key is the condition on invites that finds p's invite. By a token it
// holds only while the token's delivery is the invite's latest: a resend
// that commits while the statement waits for the row changes the latest
// delivery, and the statement's recheck of the row then fails, as it must.
func (a *sqlArgs) key(p invites.ChangeParams) string {
	if p.Digest != nil {
		return "(id, latest_delivery_id) = (SELECT invite_id, delivery_id FROM invites_tokens WHERE digest = " + a.add(p.Digest) + ")"
	}
	return "tenant_id = " + a.add(p.TenantID) + " AND id = " + a.add(p.ID)
}

// readInvite reads p's invite, locked by lock: ErrInvalidToken for a token
// that has none, ErrNotFound for an id not of the tenant.
func readInvite(ctx context.Context, db bun.IDB, p invites.ChangeParams, lock string) (invites.Invite, error) {
	var a sqlArgs
	inv, err := scanInvite(on(db).QueryRowContext(ctx, "SELECT "+inviteCols+" FROM invites WHERE "+a.key(p)+lock, a...))
	switch {
	case !errors.Is(err, sql.ErrNoRows):
		return inv, err
	case p.Digest != nil:
		return invites.Invite{}, invites.ErrInvalidToken
	}
	return invites.Invite{}, invites.ErrNotFound
}

// editSQL is the UPDATE of e at now up to its WHERE, its arguments added
// to a with now first (?0); did is the delivery of a renewal.
func editSQL(a *sqlArgs, now time.Time, e invites.Edit, did uuid.UUID) string {
	t := a.add(at(now))
	set := []string{"updated_at = " + t}
	switch {
	case e.Renew:
		set = append(set, "status = 'pending'", "status_updated_at = "+t, "send_count = send_count + 1",
			"last_sent_at = "+t, "expires_at = "+a.add(at(e.ExpiresAt)),
			"delivery_status = "+a.add(deliveryText(renewedDelivery(e))), "by_host = "+sqlBool(e.LinkDigest != nil),
			"fixed_expiry = "+sqlBool(e.FixedExpiry), "delivery_error = ''", "latest_delivery_id = "+a.add(did))
	case e.Status != "":
		st := a.add(string(e.Status))
		set = append(set, "status = "+st,
			"status_updated_at = CASE WHEN status = "+st+" THEN status_updated_at ELSE "+t+" END")
	}
	if e.AcceptedByUserID != "" {
		set = append(set, "accepted_by_user_id = "+a.add(e.AcceptedByUserID))
	}
	u := e.Fields
	if u.FirstName != nil {
		set = append(set, "first_name = "+a.add(*u.FirstName), "first_name_fold = "+a.add(fold(*u.FirstName)))
	}
	if u.LastName != nil {
		set = append(set, "last_name = "+a.add(*u.LastName), "last_name_fold = "+a.add(fold(*u.LastName)))
	}
	if u.Locale != nil {
		set = append(set, "locale = "+a.add(*u.Locale))
	}
	if u.Data != nil {
		set = append(set, "data = "+a.add(jsonText(bytes.TrimSpace(u.Data))))
	}
	if u.Roles != nil {
		set = append(set, "roles = "+a.add(roleList(u.Roles)))
	}
	return "UPDATE invites SET " + strings.Join(set, ", ") + " WHERE "
}
