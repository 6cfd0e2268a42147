package invites_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// The Service's side of links, on memstore: what it asks of the store
// (store/storetest checks the stores' side) and what it shows.

// A store that is no LinkStore answers ErrUnsupported for every link
// method, naming it, and still runs invites.
func TestLinksUnsupported(t *testing.T) {
	svc, err := invites.New(withoutUpkeep(memstore.New()), mailertest.New(), invites.Config{
		AcceptURL: func(tok invites.Token) string { return tok.Reveal() }})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	for _, c := range []struct {
		op  string
		err error
	}{
		{"CreateLink", func() error { _, err := svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 1}); return err }()},
		{"RotateLink", func() error { _, err := svc.RotateLink(ctx, admin, id); return err }()},
		{"RevokeLink", func() error { _, err := svc.RevokeLink(ctx, admin, id); return err }()},
		{"RevokeLinksBy", func() error { _, err := svc.RevokeLinksBy(ctx, admin, "u"); return err }()},
		{"JoinByLink", func() error { _, err := svc.JoinByLink(ctx, "t", invites.Joiner{UserID: "u"}); return err }()},
		{"CheckLink", func() error { _, err := svc.CheckLink(ctx, "t"); return err }()},
		{"GetLink", func() error { _, err := svc.GetLink(ctx, admin, id); return err }()},
		{"ListLinks", func() error { _, err := svc.ListLinks(ctx, admin, invites.LinkQuery{}); return err }()},
		{"LinkUses", func() error { _, err := svc.LinkUses(ctx, admin, id); return err }()},
		{"LinkHistory", func() error { _, err := svc.LinkHistory(ctx, admin, id); return err }()},
	} {
		if !errors.Is(c.err, invites.ErrUnsupported) || !strings.Contains(c.err.Error(), c.op) {
			t.Errorf("%s = %v; want ErrUnsupported naming it", c.op, c.err)
		}
	}
}

// linksOnly is a memstore with links but no upkeep.
type linksOnly struct {
	requiredOnly
	invites.LinkStore
}

// The bound of Config.StoreTimeout keeps LinkStore visible exactly when
// the store has it, with or without UpkeepStore, and bounds its calls,
// the host's OnJoin among them.
func TestLinksBounded(t *testing.T) {
	for _, c := range []struct {
		name  string
		store func(*memstore.Store) invites.Store
	}{
		{"with upkeep", func(m *memstore.Store) invites.Store { return m }},
		{"without upkeep", func(m *memstore.Store) invites.Store { return linksOnly{requiredOnly{m, m, m, m}, m} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, err := invites.New(c.store(memstore.New()), mailertest.New(), invites.Config{
				Tokens:       token.Issuer{},
				AcceptURL:    func(tok invites.Token) string { return tok.Reveal() },
				StoreTimeout: 50 * time.Millisecond,
				OnJoin: func(ctx context.Context, _ invites.Link, _ invites.Joiner) error {
					<-ctx.Done()
					return ctx.Err()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			cl, err := svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 2})
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.JoinByLink(ctx, cl.Token.Reveal(), invites.Joiner{UserID: "slow"})
			if !errors.Is(err, invites.ErrUnavailable) {
				t.Fatalf("JoinByLink with an OnJoin that outlives StoreTimeout = %v; want ErrUnavailable", err)
			}
			if l, err := svc.GetLink(ctx, admin, cl.Link.ID); err != nil || l.Uses != 0 {
				t.Fatalf("after the stopped join: %+v, %v; want no use", l, err)
			}
		})
	}
}

// countingLinks counts the calls that reach the LinkStore.
type countingLinks struct {
	*memstore.Store
	calls int
}

func (c *countingLinks) JoinLink(ctx context.Context, p invites.JoinLinkParams) (invites.Link, error) {
	c.calls++
	return c.Store.JoinLink(ctx, p)
}

func (c *countingLinks) GetLink(ctx context.Context, p invites.GetLinkParams) (invites.Link, error) {
	c.calls++
	return c.Store.GetLink(ctx, p)
}

// A malformed token is refused before any store work, and the Observer
// sees each link operation, a refused join with its ErrInvalidToken.
func TestLinksObserved(t *testing.T) {
	rec := &observer{events: map[invites.EventType]int{}}
	store := &countingLinks{Store: memstore.New()}
	svc, err := invites.New(store, mailertest.New(), invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return tok.Reveal() },
		JoinURL:   func(tok invites.Token) string { return "https://app.test/join?token=" + tok.Reveal() },
		Observer:  rec,
		Now:       func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "nope", strings.Repeat("x", 500)} {
		_, err := svc.JoinByLink(ctx, bad, invites.Joiner{UserID: "u"})
		if !errors.Is(err, invites.ErrInvalidToken) || !errors.Is(rec.last(t, invites.OpNameJoinByLink).res.Err, invites.ErrInvalidToken) {
			t.Fatalf("JoinByLink(%q) = %v; want ErrInvalidToken, observed", bad, err)
		}
	}
	if store.calls != 0 {
		t.Fatalf("malformed tokens reached the store %d times", store.calls)
	}
	cl, err := svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 2, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if cl.URL != "https://app.test/join?token="+cl.Token.Reveal() {
		t.Fatalf("CreateLink's URL = %q", cl.URL)
	}
	for _, shown := range []string{fmt.Sprint(cl), fmt.Sprintf("%+v", cl)} {
		if strings.Contains(shown, cl.Token.Reveal()) {
			t.Fatalf("a printed CreatedLink shows its token: %s", shown)
		}
	}
	if op := rec.last(t, invites.OpNameCreateLink); op.res.LinkID != cl.Link.ID || op.info.TenantID != admin.TenantID {
		t.Fatalf("CreateLink observed as %+v", op)
	}
	l, err := svc.JoinByLink(ctx, cl.Token.Reveal(), invites.Joiner{UserID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if op := rec.last(t, invites.OpNameJoinByLink); op.res.LinkID != l.ID || op.res.Err != nil {
		t.Fatalf("JoinByLink observed as %+v", op)
	}
	if _, err := svc.RevokeLink(ctx, admin, l.ID); err != nil {
		t.Fatal(err)
	}
	rec.last(t, invites.OpNameRevokeLink)
	for _, typ := range []invites.EventType{invites.EventLinkCreated, invites.EventLinkUsed, invites.EventLinkRevoked} {
		if rec.events[typ] != 1 {
			t.Errorf("the Observer was told of %d %s events, want 1", rec.events[typ], typ)
		}
	}
}

// The link fields of Config out of range refuse New.
func TestLinkConfigRefused(t *testing.T) {
	for _, tune := range []func(*invites.Config){
		func(c *invites.Config) { c.MaxLinkUses = -1 },
		func(c *invites.Config) { c.MaxLinkTTL = -time.Hour },
		func(c *invites.Config) { c.MaxActiveLinks = -2 },
		func(c *invites.Config) { c.LinkUsesPerMinute = -2 },
	} {
		cfg := invites.Config{AcceptURL: func(tok invites.Token) string { return tok.Reveal() }}
		tune(&cfg)
		if _, err := invites.New(memstore.New(), mailertest.New(), cfg); err == nil {
			t.Errorf("New(%+v) took it", cfg)
		}
	}
}

// A link's token reaches the store only as its digest, through create,
// rotate and join alike; the joiner's address is never stored.
func TestLinkTokenNeverStored(t *testing.T) {
	h := newHarness(t)
	c, err := h.svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 5})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.RotateLink(ctx, admin, c.Link.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.JoinByLink(ctx, r.Token.Reveal(), invites.Joiner{UserID: "u-joe", Email: "joe@secret.example", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	dump := h.store.Dump()
	if !strings.Contains(dump, "link ") || !strings.Contains(dump, "u-joe") {
		t.Fatalf("the dump shows no link or use:\n%s", dump)
	}
	for _, secret := range []string{c.Token.Reveal(), r.Token.Reveal(), "joe@secret.example"} {
		if strings.Contains(dump, secret) {
			t.Errorf("the store holds %q:\n%s", secret, dump)
		}
	}
}

// Only a verified, valid bare address passes a link's domains or is asked
// of Config.IsMember, in the form Send stores: a host may hand over what
// its users typed, and a claimed address must neither refuse its user
// nor tell them who is a member.
func TestJoinerAddress(t *testing.T) {
	var asked []string
	h := newHarness(t, func(c *invites.Config) {
		c.IsMember = func(_ context.Context, _ string, emails []string) ([]bool, error) {
			asked = append(asked, emails...)
			return []bool{emails[0] == "boss@x.io"}, nil
		}
	})
	c, err := h.svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 10, AllowedDomains: []string{"x.io"}})
	if err != nil {
		t.Fatal(err)
	}
	open, err := h.svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		link  invites.CreatedLink
		j     invites.Joiner
		want  error
		asked string
	}{
		{c, invites.Joiner{UserID: "u1", Email: "a@evil.example@x.io", EmailVerified: true}, invites.ErrDomainNotAllowed, ""},
		{c, invites.Joiner{UserID: "u2", Email: "a@evil.example\n@x.io", EmailVerified: true}, invites.ErrDomainNotAllowed, ""},
		{c, invites.Joiner{UserID: "u3", Email: "Ann <ann@x.io>", EmailVerified: true}, invites.ErrDomainNotAllowed, ""},
		{c, invites.Joiner{UserID: "u4", Email: "ann@x.io"}, invites.ErrDomainNotAllowed, ""},
		{c, invites.Joiner{UserID: "u5", Email: "Bob@X.IO", EmailVerified: true}, nil, "Bob@x.io"},
		{open, invites.Joiner{UserID: "u6", Email: "boss@x.io"}, nil, ""},
		{open, invites.Joiner{UserID: "u7", Email: "boss@X.io", EmailVerified: true}, invites.ErrAlreadyMember, "boss@x.io"},
	} {
		asked = nil
		_, err := h.svc.JoinByLink(ctx, tc.link.Token.Reveal(), tc.j)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%q verified %t: %v, want %v", tc.j.Email, tc.j.EmailVerified, err, tc.want)
		}
		if got := strings.Join(asked, ","); got != tc.asked {
			t.Errorf("%q verified %t: IsMember asked %q, want %q", tc.j.Email, tc.j.EmailVerified, got, tc.asked)
		}
	}
}

// Config.AuthorizeLink is asked in Authorize's place about every link
// operation, with the link it acts on: as stored, as it would be made for
// a create, nil for a list or a revocation by creator. Its refusal writes
// nothing.
func TestAuthorizeLinkSeesTheLink(t *testing.T) {
	type asked struct {
		op invites.Op
		id uuid.UUID
	}
	var got []asked
	var refuse invites.Op
	h := newHarness(t, func(c *invites.Config) {
		c.Authorize = func(context.Context, invites.Actor, invites.Op, *invites.Invite) error {
			t.Error("Authorize asked about a link operation")
			return nil
		}
		c.AuthorizeLink = func(_ context.Context, _ invites.Actor, op invites.Op, l *invites.Link) error {
			a := asked{op: op}
			if l != nil {
				a.id = l.ID
				if l.Status == "" || l.Note != "n" && op != invites.OpCreateLink {
					t.Errorf("%s asked about %+v: not the link as read", op, l)
				}
			}
			got = append(got, a)
			if op == refuse {
				return errors.New("no")
			}
			return nil
		}
	})
	c, err := h.svc.CreateLink(ctx, admin, invites.LinkSpec{MaxUses: 3, Note: "n"})
	if err != nil {
		t.Fatal(err)
	}
	id := c.Link.ID
	if _, err := h.svc.GetLink(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.LinkUses(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.LinkHistory(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ListLinks(ctx, admin, invites.LinkQuery{}); err != nil {
		t.Fatal(err)
	}
	refuse = invites.OpRevokeLink
	if _, err := h.svc.RevokeLink(ctx, admin, id); !errors.Is(err, invites.ErrForbidden) {
		t.Fatalf("a refused revoke: %v", err)
	}
	if l, err := h.svc.GetLink(ctx, admin, id); err != nil || l.Status != invites.LinkActive {
		t.Fatalf("after a refused revoke the link is %v, %v", l.Status, err)
	}
	refuse = ""
	r, err := h.svc.RotateLink(ctx, admin, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RevokeLinksBy(ctx, admin, admin.UserID); err != nil {
		t.Fatal(err)
	}
	want := []asked{{invites.OpCreateLink, id}, {invites.OpGetLink, id}, {invites.OpLinkUses, id},
		{invites.OpLinkHistory, id}, {invites.OpListLinks, uuid.Nil}, {invites.OpRevokeLink, id}, {invites.OpGetLink, id},
		{invites.OpRotateLink, id}, {invites.OpRevokeLinksBy, uuid.Nil}}
	if fmt.Sprint(got) != fmt.Sprint(want) || r.Link.ID == id {
		t.Errorf("AuthorizeLink was asked\n%v\nwant\n%v", got, want)
	}
}
