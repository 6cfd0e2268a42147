package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
)

// The upkeep a Service asks of a store: the address and Message-ID forms
// it takes, and the cutoffs Config.Retention and EventRetention make.
var upkeepServiceCases = []testCase{
	{"Service/RecordBounce", testServiceRecordBounce},
	{"Service/RecordBounceScope", testServiceRecordBounceScope},
	{"Service/Forget", testServiceForget},
	{"Service/PruneRetention", testServicePruneRetention},
}

// RecordBounce takes the Message-ID as sent, without its brackets, or the
// bare id; a bounce told twice is recorded once.
func testServiceRecordBounce(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	cs := sentEmails(t, s, "rb", 3)
	now := t0.Add(time.Hour)
	svc := rule.at(t, s, now)
	forms := []func(uuid.UUID) string{
		func(id uuid.UUID) string { return " <" + id.String() + "@mail.example.com> " },
		func(id uuid.UUID) string { return id.String() + "@mail.example.com" },
		func(id uuid.UUID) string { return id.String() },
	}
	for i, c := range cs {
		msgID := forms[i](c.ID)
		for range 2 {
			if err := svc.RecordBounce(ctx, msgID, i == 0, "550 user unknown"); err != nil {
				t.Fatalf("RecordBounce(%q): %v", msgID, err)
			}
		}
		got := get(t, s, tenantA, c.InviteID)
		if got.DeliveryStatus != invites.DeliveryFailed || !strings.Contains(got.DeliveryError, "550 user unknown") {
			t.Fatalf("after RecordBounce(%q): delivery %s %q, want failed with the reason", msgID, got.DeliveryStatus, got.DeliveryError)
		}
		want := []ev{{invites.EventCreated, "inviter", t0}, {invites.EventSent, "", t0}, {invites.EventBounced, "", now}}
		if i == 0 { // a hard bounce
			want = append(want, ev{invites.EventSuppressed, "", now})
		}
		history(t, s, tenantA, c.InviteID, want...)
	}
	id := cs[0].ID.String()
	for _, bad := range []string{"", "<>", "nope@x.com", id[:35], id + "0", "<" + id + "0@x.com>", strings.ReplaceAll(id, "-", "")} {
		wantIs(t, "RecordBounce("+bad+")", svc.RecordBounce(ctx, bad, true, "x"), invites.ErrInvalidInput)
	}
	wantIs(t, "RecordBounce of an unknown delivery", svc.RecordBounce(ctx, uuid.NewString(), true, "x"), invites.ErrNotFound)
}

// domainMailer is a Mailer that mints Message-IDs of domain, as the
// mailer package's do.
type domainMailer struct {
	*mailertest.Mailer
	domain string
}

func (m domainMailer) MessageIDDomain() string { return m.domain }

// A Service whose Mailer names its Message-ID domain takes a bounce only
// for a Message-ID of that domain (in any case), never a bare id; and
// RecordTenantBounce finds only the tenant's own deliveries. What it
// refuses changes nothing.
func testServiceRecordBounceScope(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	ctx := t.Context()
	cs := sentEmails(t, s, "scope", 2)
	now := t0.Add(time.Hour)
	svc, err := invites.New(s, domainMailer{mailertest.New(), "mail.example.com"}, invites.Config{
		Tokens:    hexTokens{},
		AcceptURL: func(tok invites.Token) string { return "/accept?token=" + tok.Reveal() },
		Now:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string, c claimed) {
		t.Helper()
		if got := get(t, s, tenantA, c.InviteID); got.DeliveryStatus != invites.DeliverySent {
			t.Fatalf("%s: delivery %s, want still sent", what, got.DeliveryStatus)
		}
		history(t, s, tenantA, c.InviteID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0})
	}
	id := cs[0].ID.String()
	for _, bad := range []string{"<" + id + "@evil.example>", id + "@mail.example.com.evil.example", id, "<" + id + ">", id + "@"} {
		wantIs(t, "RecordBounce("+bad+")", svc.RecordBounce(ctx, bad, true, "x"), invites.ErrInvalidInput)
		unchanged("RecordBounce("+bad+")", cs[0])
	}
	if err := svc.RecordBounce(ctx, "<"+id+"@Mail.Example.COM>", true, "550 user unknown"); err != nil {
		t.Fatalf("RecordBounce of the mailer's domain: %v", err)
	}
	if got := get(t, s, tenantA, cs[0].InviteID); got.DeliveryStatus != invites.DeliveryFailed {
		t.Fatalf("after RecordBounce: delivery %s, want failed", got.DeliveryStatus)
	}

	msgID := "<" + cs[1].ID.String() + "@mail.example.com>"
	wantIs(t, "RecordTenantBounce in another tenant", svc.RecordTenantBounce(ctx, tenantB, msgID, true, "x"), invites.ErrNotFound)
	unchanged("RecordTenantBounce in another tenant", cs[1])
	wantIs(t, "RecordTenantBounce with a bad tenant id", svc.RecordTenantBounce(ctx, "", msgID, true, "x"), invites.ErrInvalidInput)
	if err := svc.RecordTenantBounce(ctx, tenantA, msgID, false, "552 mailbox full"); err != nil {
		t.Fatalf("RecordTenantBounce in the invite's tenant: %v", err)
	}
	history(t, s, tenantA, cs[1].InviteID, ev{invites.EventCreated, "inviter", t0}, ev{invites.EventSent, "", t0}, ev{invites.EventBounced, "", now})
	if _, _, err := s.Bounce(ctx, invites.BounceParams{Now: now, DeliveryID: cs[1].ID, Reason: "x", TenantID: tenantB}); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Store.Bounce of a bounced delivery in another tenant: %v, want ErrNotFound", err)
	}
}

// Forget through the Service takes the address in any case.
func testServiceForget(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	ctx := t.Context()
	inv := insertOne(t, s, t0, newInvite(tenantA, "Sam.Smith@Example.com", t0))
	svc := rule.at(t, s, t0)
	if ids, err := svc.Forget(ctx, as(tenantB), "sam.smith@example.com"); err != nil || len(ids) != 0 {
		t.Fatalf("Forget in another tenant = %v, %v; want none", ids, err)
	}
	ids, err := svc.Forget(ctx, as(tenantA), "SAM.SMITH@example.COM")
	if err != nil || len(ids) != 1 || ids[0] != inv.ID {
		t.Fatalf("Forget = %v, %v; want [%s]", ids, err, inv.ID)
	}
	wantGone(t, s, tenantA, inv.ID)
	_, err = svc.Forget(ctx, as(tenantA), "not an address")
	wantIs(t, "Forget of a malformed address", err, invites.ErrInvalidInput)
}

// Service.Prune deletes only what is past Config.Retention (invites by
// when they ended) and EventRetention (handled events).
func testServicePruneRetention(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	needUpkeep(t, s)
	ctx := t.Context()
	old := insertOne(t, s, t0, newInvite(tenantA, "old@x.com", t0))
	recent := insertOne(t, s, t0, newInvite(tenantA, "recent@x.com", t0))
	live := insertOne(t, s, t0, newInvite(tenantB, "live@x.com", t0))
	day := 24 * time.Hour
	later := t0.Add(3*day + 12*time.Hour)
	fresh := insertOne(t, s, later, newInvite(tenantB, "fresh@x.com", later))
	mustOK(t, "Cancel", func() error { _, err := cancelIn(ctx, s, tenantA, old.ID, t0); return err })
	mustOK(t, "Cancel", func() error { _, err := cancelIn(ctx, s, tenantA, recent.ID, t0.Add(3*day)); return err })
	handleAll(t, s, later)

	now := t0.Add(4 * day)
	none, err := rule.service(s, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The ledger's sends older than a day go whatever the retention: the
	// three sends at t0.
	if r, err := none.Prune(ctx); err != nil || r != (invites.PruneResult{Sends: 3}) {
		t.Fatalf("Prune without retention = %+v, %v; want the 3 sends older than a day", r, err)
	}
	svc, err := rule.service(s, now, func(c *invites.Config) { c.Retention, c.EventRetention = 2*day, 3*day })
	if err != nil {
		t.Fatal(err)
	}
	// Invites that ended before now-2d: old. Handled events before
	// now-3d: the created events of recent and live.
	if r, err := svc.Prune(ctx); err != nil || r != (invites.PruneResult{Invites: 1, Events: 2}) {
		t.Fatalf("Prune = %+v, %v; want 1 invite and 2 events", r, err)
	}
	wantGone(t, s, tenantA, old.ID)
	history(t, s, tenantA, recent.ID, ev{invites.EventCanceled, as(tenantA).UserID, t0.Add(3 * day)})
	history(t, s, tenantB, live.ID)
	history(t, s, tenantB, fresh.ID, ev{invites.EventCreated, "inviter", later})
	if r, err := svc.Prune(ctx); err != nil || r != (invites.PruneResult{}) {
		t.Fatalf("Prune again = %+v, %v; want nothing", r, err)
	}
	if got, err := svc.Get(ctx, as(tenantB), live.ID); err != nil || got.Status != invites.StatusPending {
		t.Fatalf("Get of the live invite after Prune: %s, %v", got.Status, err)
	}
}

// sentEmails stores n invites of tenantA and has their emails sent, and
// returns their claims.
func sentEmails(t *testing.T, s invites.Store, prefix string, n int) []claimed {
	t.Helper()
	invs := insertOK(t, s, t0, addresses(tenantA, prefix, t0, n)...)
	cs := claim(t, s, t0, 10, lease)
	if len(cs) != len(invs) {
		t.Fatalf("claimed %d of %d", len(cs), len(invs))
	}
	for _, c := range cs {
		complete(t, s, c.Delivery, invites.DeliveryOutcome{Status: invites.DeliverySent, At: t0})
	}
	return cs
}
