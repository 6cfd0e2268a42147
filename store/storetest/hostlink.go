package storetest

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// Links the host delivers (ChannelHost) and invites of their own TTL: the
// token Insert or a renewing Change stores as data, the delivery they do
// not queue, and the expiry a claim does not renew.
var hostLinkCases = []testCase{
	{"HostLink/NeverClaimed", testHostLinkNeverClaimed},
	{"HostLink/ResendRotates", testHostLinkResendRotates},
	{"HostLink/EmailToHost", testHostLinkEmailToHost},
	{"OwnTTL/Honoured", testOwnTTLHonoured},
	{"OwnTTL/Bounds", testOwnTTLBounds},
}

// linkDigest is the digest of the token of a link a Service of rules
// made (hexTokens under "/accept?token=").
func linkDigest(t *testing.T, link string) []byte {
	t.Helper()
	tok, ok := strings.CutPrefix(link, "/accept?token=")
	d, err := hex.DecodeString(tok)
	if !ok || err != nil || len(d) != 32 {
		t.Fatalf("link %q is not one of hexTokens", link)
	}
	return d
}

// sendItems sends items to tenantA through a Service at now under rule,
// wanting every one stored.
func sendItems(t *testing.T, s invites.Store, now time.Time, items ...invites.NewInvite) invites.SendResult {
	t.Helper()
	res, err := rule.at(t, s, now).Send(t.Context(), as(tenantA), items)
	if err != nil || len(res.Success) != len(items) {
		t.Fatalf("Send: %+v, %v; want %d stored", res, err, len(items))
	}
	return res
}

// wantLinkWorks checks that digest finds invite id and accepts it.
func wantLinkWorks(t *testing.T, s invites.Store, what string, digest []byte, id uuid.UUID, now time.Time) {
	t.Helper()
	if got, err := s.Lookup(t.Context(), invites.LookupParams{Digest: digest}); err != nil || got.ID != id {
		t.Fatalf("Lookup of %s: invite %s, %v; want %s", what, got.ID, err, id)
	}
	if _, err := accept(t.Context(), s, digest, "joiner", now, okHook); err != nil {
		t.Fatalf("Accept with %s: %v", what, err)
	}
}

// wantLinkDead checks that digest finds and accepts no invite.
func wantLinkDead(t *testing.T, s invites.Store, what string, digest []byte, now time.Time) {
	t.Helper()
	_, err := s.Lookup(t.Context(), invites.LookupParams{Digest: digest})
	wantIs(t, "Lookup of "+what, err, invites.ErrInvalidToken)
	_, err = accept(t.Context(), s, digest, "joiner", now, okHook)
	wantIs(t, "Accept with "+what, err, invites.ErrInvalidToken)
}

func testHostLinkNeverClaimed(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	res := sendItems(t, s, t0, invites.NewInvite{Email: "host@x.com", Channel: invites.ChannelHost},
		invites.NewInvite{Email: "mail@x.com"})
	host, mail := res.Success[0], res.Success[1]
	if len(res.Links) != 1 || res.Links[host.ID] == "" {
		t.Fatalf("Send answered links %v, want one for invite %s alone", res.Links, host.ID)
	}
	if got := get(t, s, tenantA, host.ID); got.DeliveryStatus != invites.DeliveryHost || !sameTime(got.ExpiresAt, t0.Add(rule.TTL)) {
		t.Fatalf("the host's invite is stored with delivery %s, expiry %s; want %s, %s", got.DeliveryStatus, got.ExpiresAt, invites.DeliveryHost, t0.Add(rule.TTL))
	}
	if evs, err := s.History(t.Context(), invites.HistoryParams{TenantID: tenantA, ID: host.ID}); err != nil || len(evs) != 1 || evs[0].Type != invites.EventCreated {
		t.Fatalf("History of the host's invite: %+v, %v; want its created event", evs, err)
	}
	for _, at := range []time.Time{t0, t0.Add(time.Hour)} {
		for id := range mintAll(t, s, at) {
			if id != mail.ID {
				t.Fatalf("ClaimDeliveries at %s claimed a delivery of invite %s, want only the email's %s", at, id, mail.ID)
			}
		}
	}
	if st, err := s.Stats(t.Context(), invites.StatsParams{Now: t0.Add(time.Hour)}); err != nil || st.Queued != 0 {
		t.Fatalf("Stats after the claims: %+v, %v; want nothing queued", st, err)
	}
	wantLinkWorks(t, s, "the send's link", linkDigest(t, res.Links[host.ID]), host.ID, t0.Add(time.Hour))
}

func testHostLinkResendRotates(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	res := sendItems(t, s, t0, invites.NewInvite{Email: "rot@x.com", Channel: invites.ChannelHost})
	id := res.Success[0].ID
	first := linkDigest(t, res.Links[id])

	now := t0.Add(2 * time.Minute)
	r, err := rule.at(t, s, now).ResendWith(t.Context(), as(tenantA), id, invites.ResendOptions{})
	if err != nil || r.Link == "" || r.Invite.DeliveryStatus != invites.DeliveryHost {
		t.Fatalf("ResendWith: %+v, %v; want a new link, delivery %s", r, err, invites.DeliveryHost)
	}
	if got := get(t, s, tenantA, id); got.DeliveryStatus != invites.DeliveryHost || got.SendCount != 2 {
		t.Fatalf("after the resend the invite is %s, sent %d times; want %s, twice", got.DeliveryStatus, got.SendCount, invites.DeliveryHost)
	}
	wantLinkDead(t, s, "the send's link after a resend", first, now)
	if cs := claim(t, s, now, 100, lease); len(cs) != 0 {
		t.Fatalf("ClaimDeliveries after the host's resend claimed %d deliveries, want none", len(cs))
	}
	second := linkDigest(t, r.Link)

	// Asked for an email, the resend queues one, and the host's link dies.
	now = now.Add(2 * time.Minute)
	r, err = rule.at(t, s, now).ResendWith(t.Context(), as(tenantA), id, invites.ResendOptions{Channel: invites.ChannelEmail})
	if err != nil || r.Link != "" || r.Invite.DeliveryStatus != invites.DeliveryQueued {
		t.Fatalf("ResendWith an email: %+v, %v; want no link, delivery %s", r, err, invites.DeliveryQueued)
	}
	wantLinkDead(t, s, "the host's link after an email's resend", second, now)
	cs := claim(t, s, now, 100, lease)
	if len(cs) != 1 || cs[0].InviteID != id || cs[0].Kind != invites.KindReminder {
		t.Fatalf("ClaimDeliveries after the email's resend = %+v, want the reminder of %s", cs, id)
	}
	wantLinkWorks(t, s, "the reminder's token", cs[0].digest, id, now)
}

func testHostLinkEmailToHost(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	inv := insertOne(t, s, t0, newInvite(tenantA, "swap@x.com", t0))
	old := mint(t, s, t0, inv.ID)
	// A queued retry of the email, superseded by the host's link.
	now := t0.Add(2 * time.Minute)
	resendOK(t, s, inv.ID, now, rule)
	now = now.Add(2 * time.Minute)
	r, err := rule.at(t, s, now).ResendWith(t.Context(), as(tenantA), inv.ID, invites.ResendOptions{Channel: invites.ChannelHost})
	if err != nil || r.Link == "" || r.Invite.DeliveryStatus != invites.DeliveryHost {
		t.Fatalf("ResendWith the host's channel: %+v, %v; want a link, delivery %s", r, err, invites.DeliveryHost)
	}
	if st, err := s.Stats(t.Context(), invites.StatsParams{Now: now}); err != nil || st.Queued != 0 {
		t.Fatalf("Stats after the host's resend: %+v, %v; want nothing queued: the queued email is superseded", st, err)
	}
	if cs := claim(t, s, now, 100, lease); len(cs) != 0 {
		t.Fatalf("ClaimDeliveries after the host's resend claimed %+v, want none: the queued email is superseded", cs)
	}
	wantLinkDead(t, s, "the email's token after the host's resend", old, now)
	wantLinkWorks(t, s, "the host's link", linkDigest(t, r.Link), inv.ID, now)
}

func testOwnTTLHonoured(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	own := 2 * time.Hour
	res := sendItems(t, s, t0, invites.NewInvite{Email: "own@x.com", TTL: own},
		invites.NewInvite{Email: "dflt@x.com"}, invites.NewInvite{Email: "link@x.com", Channel: invites.ChannelHost, TTL: own})
	mine, dflt, link := res.Success[0].ID, res.Success[1].ID, res.Success[2].ID
	for _, id := range []uuid.UUID{mine, link} {
		if got := get(t, s, tenantA, id); !sameTime(got.ExpiresAt, t0.Add(own)) {
			t.Fatalf("an invite of its own TTL expires at %s, want %s", got.ExpiresAt, t0.Add(own))
		}
	}
	// The claim renews the invite of Config.TTL, never the one of its own.
	at := t0.Add(time.Hour)
	if ds := mintAll(t, s, at); len(ds) != 2 {
		t.Fatalf("ClaimDeliveries claimed %d deliveries, want the two emails", len(ds))
	}
	if got := get(t, s, tenantA, mine); !sameTime(got.ExpiresAt, t0.Add(own)) {
		t.Fatalf("the claim renewed an invite of its own TTL to %s, want it kept at %s", got.ExpiresAt, t0.Add(own))
	}
	if got := get(t, s, tenantA, dflt); !sameTime(got.ExpiresAt, at.Add(ttl)) {
		t.Fatalf("the claim renewed the invite of Config.TTL to %s, want %s", got.ExpiresAt, at.Add(ttl))
	}

	// A resend names its own, again kept through a claim; one of
	// Config.TTL is renewed again.
	now := t0.Add(3 * time.Hour)
	svc := rule.at(t, s, now)
	for _, c := range []struct {
		ttl, sent, claimed time.Duration // asked, then the lifetime from now after the resend and after its claim
	}{{3 * time.Hour, 3 * time.Hour, 3 * time.Hour}, {0, rule.TTL, ttl}} {
		r, err := svc.ResendWith(t.Context(), as(tenantA), mine, invites.ResendOptions{TTL: c.ttl})
		if err != nil || !sameTime(r.Invite.ExpiresAt, now.Add(c.sent)) {
			t.Fatalf("ResendWith TTL %s: expiry %s, %v; want %s", c.ttl, r.Invite.ExpiresAt, err, now.Add(c.sent))
		}
		if ds := mintAll(t, s, now); len(ds) != 1 {
			t.Fatalf("ClaimDeliveries after the resend claimed %d deliveries, want its reminder", len(ds))
		}
		if got := get(t, s, tenantA, mine); !sameTime(got.ExpiresAt, now.Add(c.claimed)) {
			t.Fatalf("after a resend of TTL %s and its claim the invite expires at %s, want %s", c.ttl, got.ExpiresAt, now.Add(c.claimed))
		}
		now = now.Add(2 * time.Minute)
		svc = rule.at(t, s, now)
	}
	// The link of its own TTL dies with it.
	_, err := accept(t.Context(), s, linkDigest(t, res.Links[link]), "joiner", t0.Add(own), okHook)
	wantRefused(t, "Accept of a link past its own TTL", err, invites.StatusPending)
}

func testOwnTTLBounds(t *testing.T, newStore func(*testing.T) invites.Store) {
	s := newStore(t)
	svc := rule.at(t, s, t0)
	res, err := svc.Send(t.Context(), as(tenantA), []invites.NewInvite{
		{Email: "short@x.com", TTL: invites.DefaultMinTTL - time.Second},
		{Email: "long@x.com", TTL: invites.DefaultMaxTTL + time.Second},
		{Email: "neg@x.com", TTL: -time.Hour},
		{Email: "min@x.com", TTL: invites.DefaultMinTTL},
		{Email: "max@x.com", TTL: invites.DefaultMaxTTL},
	})
	if err != nil || len(res.Success) != 2 || len(res.Errors) != 3 {
		t.Fatalf("Send: %+v, %v; want the bounds stored and three item errors", res, err)
	}
	for i, e := range res.Errors {
		if e.Index != i || e.Code != invites.CodeInvalidTTL {
			t.Fatalf("item error %+v, want item %d refused with %s", e, i, invites.CodeInvalidTTL)
		}
	}
	if p, _, err := s.List(t.Context(), invites.ListParams{TenantID: tenantA, Now: t0, Limit: 10}); err != nil || len(p) != 2 {
		t.Fatalf("List after the send: %d invites, %v; want only the two in bounds", len(p), err)
	}
	now := t0.Add(2 * time.Minute)
	_, err = rule.at(t, s, now).ResendWith(t.Context(), as(tenantA), res.Success[0].ID, invites.ResendOptions{TTL: time.Minute})
	wantIs(t, "ResendWith a TTL below MinTTL", err, invites.ErrInvalidInput)
	if got := get(t, s, tenantA, res.Success[0].ID); got.SendCount != 1 {
		t.Fatalf("a refused resend sent the invite %d times, want once", got.SendCount)
	}
}
