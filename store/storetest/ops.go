package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
)

// The changes as the Service asks them of a store, without its rules: the
// cases of a store's mechanics call these; the cases of a rule call the
// Service (rules.at).

// accept is the Service's Accept of digest by user at now.
func accept(ctx context.Context, s invites.Store, digest []byte, user string, now time.Time, hook func(context.Context, invites.Invite) error) (invites.Invite, error) {
	return s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, Digest: digest, ActorID: user,
		From: []invites.Status{invites.StatusPending}, Live: true, Hook: hook,
		Edit: invites.Edit{Status: invites.StatusAccepted, AcceptedByUserID: user, Event: invites.EventAccepted}})
}

// decline is the Service's Decline of digest at now.
func decline(ctx context.Context, s invites.Store, digest []byte, now time.Time) (invites.Invite, error) {
	return s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, Digest: digest,
		From: []invites.Status{invites.StatusPending}, Live: true,
		Edit: invites.Edit{Status: invites.StatusDeclined, Event: invites.EventDeclined}})
}

// cancelIn is the Service's Cancel, by tenant's admin, of id at now.
func cancelIn(ctx context.Context, s invites.Store, tenant string, id uuid.UUID, now time.Time) (invites.Invite, error) {
	return s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenant, ID: id, ActorID: as(tenant).UserID,
		From: []invites.Status{invites.StatusPending, invites.StatusExpired},
		Edit: invites.Edit{Status: invites.StatusCanceled, Event: invites.EventCanceled}})
}

// update writes u to tenant's invite id at now, as the Service does once
// its rules let it.
func update(ctx context.Context, s invites.Store, tenant string, id uuid.UUID, now time.Time, u invites.Update) (invites.Invite, error) {
	return s.Change(ctx, invites.ChangeParams{LedgerKey: ledgerKey, Now: now, TenantID: tenant, ID: id, ActorID: as(tenant).UserID,
		Decide: func(context.Context, invites.Facts) (invites.Edit, error) { return invites.Edit{Fields: u}, nil }})
}

// renewEdit is the Edit of a resend at now.
func renewEdit(now time.Time) invites.Edit {
	return invites.Edit{Renew: true, ExpiresAt: now.Add(ttl), Event: invites.EventResent}
}

// ruleMismatch says how err differs from a *invites.RuleError carrying
// the invite stored with status, or "" when it is one; goroutines use it
// with t.Errorf.
func ruleMismatch(err error, status invites.Status) string {
	var re *invites.RuleError
	switch {
	case err == nil:
		return fmt.Sprintf("got no error, want *RuleError{%s}", status)
	case !errors.As(err, &re):
		return fmt.Sprintf("got error %v (%T), want *RuleError{%s}", err, err, status)
	case re.Invite.Status != status:
		return fmt.Sprintf("got *RuleError with the invite %s, want it stored %s", re.Invite.Status, status)
	}
	return ""
}

// wantRefused fails the test unless err is a *invites.RuleError whose
// invite is stored with status.
func wantRefused(t *testing.T, what string, err error, status invites.Status) {
	t.Helper()
	if msg := ruleMismatch(err, status); msg != "" {
		t.Fatalf("%s: %s", what, msg)
	}
}

// rules are the Service's rules a case runs under. Cooldown and Max must
// be positive (the Config takes zero for its default); a zero
// Quota.MaxSendsPerAddressPerDay is off.
type rules struct {
	Cooldown time.Duration
	Max      int
	TTL      time.Duration
	Quota    invites.Quota
}

// rule is the rules of most cases.
var rule = rules{Cooldown: time.Minute, Max: 3, TTL: 24 * time.Hour}

// service returns a Service on s whose clock reads now, under r, whose
// actors may grant any role and whose tokens are the hex of their digest
// (hexToken), so a case can act by the digests it minted.
func (r rules) service(s invites.Store, now time.Time, tune func(*invites.Config)) (*invites.Service, error) {
	if r.Cooldown <= 0 || r.Max <= 0 {
		return nil, fmt.Errorf("storetest: rules %+v: Cooldown and Max must be positive", r)
	}
	addr, all := r.Quota.MaxSendsPerAddressPerDay, r.Quota.MaxSendsPerAddressPerDayAllTenants
	if addr == 0 {
		addr = -1
	}
	if all == 0 {
		all = -1
	}
	cfg := invites.Config{
		Tokens:                             hexTokens{},
		AcceptURL:                          func(tok invites.Token) string { return "/accept?token=" + tok.Reveal() },
		Now:                                func() time.Time { return now },
		TTL:                                r.TTL,
		ResendCooldown:                     r.Cooldown,
		MaxResends:                         r.Max,
		MaxPendingPerTenant:                r.Quota.MaxPending,
		MaxSendsPerInviterPerHour:          r.Quota.MaxSendsPerHour,
		MaxSendsPerAddressPerDay:           addr,
		MaxSendsPerAddressPerDayAllTenants: all,
		LedgerSecret:                       ledgerSecret,
		CanGrant:                           func(invites.Actor, string) bool { return true },
	}
	if tune != nil {
		tune(&cfg)
	}
	return invites.New(s, mailertest.New(), cfg)
}

// at is r.service, failing the test when the Service cannot be made.
func (r rules) at(t *testing.T, s invites.Store, now time.Time) *invites.Service {
	t.Helper()
	svc, err := r.service(s, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// resend resends tenantA's invite id through a Service at now under r.
func resend(t *testing.T, s invites.Store, id uuid.UUID, now time.Time, r rules) (invites.Invite, error) {
	t.Helper()
	return r.at(t, s, now).Resend(t.Context(), as(tenantA), id)
}

// hexTokens is a TokenIssuer whose token is the hex of its digest.
type hexTokens struct{}

func (hexTokens) New() (invites.Token, []byte, error) {
	d := make([]byte, 32)
	if _, err := rand.Read(d); err != nil {
		return "", nil, err
	}
	return invites.Token(hex.EncodeToString(d)), d, nil
}

func (hexTokens) Digest(tok string) ([]byte, error) {
	d, err := hex.DecodeString(tok)
	if err != nil || len(d) != 32 {
		return nil, invites.ErrInvalidToken
	}
	return d, nil
}

// tokenOf is the token hexTokens takes for digest.
func tokenOf(digest []byte) string { return hex.EncodeToString(digest) }

// emailIs filters on the address email, compared normalized.
func emailIs(email string) invites.StringFilter {
	return invites.StringFilter{ValueFilter: invites.ValueFilter{EqualTo: &email}}
}

// statusIn filters on the statuses sts, as read at Now.
func statusIn(sts ...invites.Status) invites.Filter {
	return invites.Filter{Status: invites.StatusFilter{ValueIn: sts}}
}

// readAt is inv as the Service reads it at now: a pending invite past its
// expiry reads expired since ExpiresAt.
func readAt(inv invites.Invite, now time.Time) invites.Invite {
	if st := inv.StatusAt(now); st != inv.Status {
		inv.Status, inv.StatusUpdatedAt = st, inv.ExpiresAt
	}
	return inv
}
