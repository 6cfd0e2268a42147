package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// The shareable links of invites.LinkStore, through a Service: what each
// refusal leaves (nothing), what each change writes (the link, its uses,
// its event), and the bounds the store holds as data. A store that is no
// LinkStore passes on them: each case skips, saying so.
var linkCases = []testCase{
	{"Links/CreateGetCheck", testLinkCreate},
	{"Links/CreateRefused", testLinkCreateRefused},
	{"Links/MaxActive", testLinkMaxActive},
	{"Links/Join", testLinkJoin},
	{"Links/JoinEnded", testLinkJoinEnded},
	{"Links/JoinHookError", testLinkJoinHookError},
	{"Links/Domains", testLinkDomains},
	{"Links/Member", testLinkMember},
	{"Links/MemberUnlocked", testLinkMemberUnlocked},
	{"Links/Rate", testLinkRate},
	{"Links/Revoke", testLinkRevoke},
	{"Links/RevokeBy", testLinkRevokeBy},
	{"Links/Rotate", testLinkRotate},
	{"Links/List", testLinkList},
	{"Links/Events", testLinkEvents},
	{"Race/JoinByLink", testLinkJoinRace},
	{"Race/JoinRate", testLinkJoinRateRace},
	{"Race/JoinSameUser", testLinkJoinSameUser},
	{"Race/CreateLinkCap", testLinkCreateRace},
}

// linkEnv is a Service on a LinkStore whose clock the case sets, and
// the members its OnJoin made.
type linkEnv struct {
	t       *testing.T
	s       invites.Store
	ls      invites.LinkStore
	svc     *invites.Service
	now     time.Time
	members *memberSet
	tokens  map[uuid.UUID]string // of the links create made
}

// memberSet is the host's membership table OnJoin writes.
type memberSet struct {
	mu   chan struct{}
	rows map[string]bool
}

func (m *memberSet) add(tenant, user string) {
	m.mu <- struct{}{}
	defer func() { <-m.mu }()
	m.rows[tenant+"/"+user] = true
}

func (m *memberSet) count() int {
	m.mu <- struct{}{}
	defer func() { <-m.mu }()
	return len(m.rows)
}

// newLinkEnv skips the case on a store that is no LinkStore; tune
// changes the Config.
func newLinkEnv(t *testing.T, newStore func(*testing.T) invites.Store, tune func(*invites.Config)) *linkEnv {
	t.Helper()
	s := newStore(t)
	ls, ok := s.(invites.LinkStore)
	if !ok {
		t.Skip("the store is no invites.LinkStore: links are left unchecked")
	}
	e := &linkEnv{t: t, s: s, ls: ls, now: t0, members: &memberSet{mu: make(chan struct{}, 1), rows: map[string]bool{}}, tokens: map[uuid.UUID]string{}}
	svc, err := rule.service(s, t0, func(c *invites.Config) {
		c.Now = func() time.Time { return e.now }
		c.JoinURL = func(tok invites.Token) string { return "/join?token=" + tok.Reveal() }
		c.OnJoin = func(_ context.Context, l invites.Link, j invites.Joiner) error {
			e.members.add(l.TenantID, j.UserID)
			return nil
		}
		c.LinkUsesPerMinute = -1
		if tune != nil {
			tune(c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

// create makes a link of spec by tenant's admin, failing the test on an
// error.
func (e *linkEnv) create(tenant string, spec invites.LinkSpec) invites.CreatedLink {
	e.t.Helper()
	c, err := e.svc.CreateLink(e.t.Context(), as(tenant), spec)
	if err != nil {
		e.t.Fatalf("CreateLink(%+v): %v", spec, err)
	}
	e.tokens[c.Link.ID] = c.Token.Reveal()
	return c
}

func (e *linkEnv) join(c invites.CreatedLink, user string) (invites.Link, error) {
	return e.svc.JoinByLink(e.t.Context(), c.Token.Reveal(), invites.Joiner{UserID: user})
}

// link returns the stored link, failing the test on an error.
func (e *linkEnv) link(tenant string, id uuid.UUID) invites.Link {
	e.t.Helper()
	l, err := e.svc.GetLink(e.t.Context(), as(tenant), id)
	if err != nil {
		e.t.Fatalf("GetLink(%s): %v", id, err)
	}
	return l
}

// uses fails the test unless the users who joined through id are want,
// in order.
func (e *linkEnv) uses(tenant string, id uuid.UUID, want ...string) {
	e.t.Helper()
	us, err := e.svc.LinkUses(e.t.Context(), as(tenant), id)
	if err != nil {
		e.t.Fatalf("LinkUses(%s): %v", id, err)
	}
	var got []string
	for _, u := range us {
		if u.LinkID != id {
			e.t.Fatalf("LinkUses(%s): a use of link %s", id, u.LinkID)
		}
		got = append(got, u.UserID)
	}
	if !slices.Equal(got, want) {
		e.t.Fatalf("LinkUses(%s) = %q, want %q", id, got, want)
	}
	if l := e.link(tenant, id); l.Uses != len(want) {
		e.t.Fatalf("link %s: Uses = %d, want %d", id, l.Uses, len(want))
	}
}

// history fails the test unless the events of link id are want, in
// order, each with the link's ID.
func (e *linkEnv) history(tenant string, id uuid.UUID, want ...ev) {
	e.t.Helper()
	got, err := e.svc.LinkHistory(e.t.Context(), as(tenant), id)
	if err != nil {
		e.t.Fatalf("LinkHistory(%s): %v", id, err)
	}
	show := func() string {
		var out []string
		for _, x := range got {
			out = append(out, fmt.Sprintf("%s by %q at %s", x.Type, x.ActorID, x.At.UTC().Format(time.RFC3339Nano)))
		}
		return fmt.Sprint(out)
	}
	if len(got) != len(want) {
		e.t.Fatalf("LinkHistory(%s) = %s, want %d events", id, show(), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.typ || g.ActorID != w.actor || !sameTime(g.At, w.at) || g.LinkID != id || g.InviteID != uuid.Nil || g.TenantID != tenant {
			e.t.Fatalf("LinkHistory(%s) = %s, want event %d %s by %q at %s of the link", id, show(), i, w.typ, w.actor, w.at)
		}
	}
}

var spec3 = invites.LinkSpec{Roles: []string{"member"}, MaxUses: 3, TTL: time.Hour}

func testLinkCreate(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	c := e.create(tenantA, invites.LinkSpec{Roles: []string{"member", "viewer"}, MaxUses: 5, TTL: time.Hour,
		AllowedDomains: []string{"Example.COM", "bücher.de", "example.com"}, Note: "for the fair"})
	if c.Token.Reveal() == "" || c.URL != "/join?token="+c.Token.Reveal() {
		t.Fatalf("CreateLink answered token %q and URL %q", c.Token.Reveal(), c.URL)
	}
	got := e.link(tenantA, c.Link.ID)
	want := invites.Link{ID: c.Link.ID, TenantID: tenantA, Roles: []string{"member", "viewer"}, MaxUses: 5,
		AllowedDomains: []string{"example.com", "bücher.de"}, Note: "for the fair", CreatedByUserID: as(tenantA).UserID,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), Status: invites.LinkActive}
	if d := linkDiff(got, want); d != "" {
		t.Fatalf("GetLink: %s", d)
	}
	if d := linkDiff(c.Link, want); d != "" {
		t.Fatalf("CreateLink's link: %s", d)
	}
	_, err := e.svc.GetLink(t.Context(), as(tenantB), c.Link.ID)
	wantIs(t, "GetLink of another tenant", err, invites.ErrNotFound)
	chk, err := e.svc.CheckLink(t.Context(), c.Token.Reveal())
	if err != nil || !chk.IsValid || chk.Status != invites.LinkActive {
		t.Fatalf("CheckLink = %+v, %v; want valid and active", chk, err)
	}
	for _, bad := range []string{"", "zz", tokenOf(newDigest(t))} {
		if chk, err := e.svc.CheckLink(t.Context(), bad); err != nil || chk.IsValid || chk.Status != "" {
			t.Fatalf("CheckLink(%q) = %+v, %v; want no status", bad, chk, err)
		}
	}
	e.history(tenantA, c.Link.ID, ev{invites.EventLinkCreated, as(tenantA).UserID, t0})
}

// linkDiff says how got differs from want, or "" when it does not.
func linkDiff(got, want invites.Link) string {
	if got.ID != want.ID || got.TenantID != want.TenantID || !sameRoles(got.Roles, want.Roles) ||
		got.MaxUses != want.MaxUses || got.Uses != want.Uses || !sameRoles(got.AllowedDomains, want.AllowedDomains) ||
		got.Note != want.Note || got.CreatedByUserID != want.CreatedByUserID || !sameTime(got.CreatedAt, want.CreatedAt) ||
		!sameTime(got.ExpiresAt, want.ExpiresAt) || !sameTime(got.RevokedAt, want.RevokedAt) ||
		got.RevokedByUserID != want.RevokedByUserID || got.Status != want.Status {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

// A spec out of bounds, or a role the actor may not grant, is refused
// and stores nothing.
func testLinkCreateRefused(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) {
		c.MaxLinkUses = 10
		c.MaxLinkTTL = 24 * time.Hour
		c.CanGrant = func(_ invites.Actor, role string) bool { return role != "owner" }
	})
	for _, c := range []struct {
		name string
		spec invites.LinkSpec
		want error
	}{
		{"no uses", invites.LinkSpec{MaxUses: 0}, invites.ErrInvalidInput},
		{"too many uses", invites.LinkSpec{MaxUses: 11}, invites.ErrInvalidInput},
		{"ttl too long", invites.LinkSpec{MaxUses: 1, TTL: 25 * time.Hour}, invites.ErrInvalidInput},
		{"negative ttl", invites.LinkSpec{MaxUses: 1, TTL: -time.Hour}, invites.ErrInvalidInput},
		{"expiry past", invites.LinkSpec{MaxUses: 1, ExpiresAt: t0}, invites.ErrInvalidInput},
		{"expiry too late", invites.LinkSpec{MaxUses: 1, ExpiresAt: t0.Add(25 * time.Hour)}, invites.ErrInvalidInput},
		{"expiry and ttl", invites.LinkSpec{MaxUses: 1, ExpiresAt: t0.Add(time.Hour), TTL: time.Hour}, invites.ErrInvalidInput},
		{"bad domain", invites.LinkSpec{MaxUses: 1, AllowedDomains: []string{"localhost"}}, invites.ErrInvalidInput},
		{"forbidden role", invites.LinkSpec{MaxUses: 1, Roles: []string{"member", "owner"}}, invites.ErrForbiddenRole},
	} {
		_, err := e.svc.CreateLink(t.Context(), as(tenantA), c.spec)
		wantIs(t, c.name, err, c.want)
	}
	if got := e.list(tenantA, invites.LinkQuery{}); len(got) != 0 {
		t.Fatalf("refused creates stored %d links", len(got))
	}
	c := e.create(tenantA, invites.LinkSpec{MaxUses: 10, ExpiresAt: t0.Add(24 * time.Hour)})
	if !sameTime(c.Link.ExpiresAt, t0.Add(24*time.Hour)) {
		t.Fatalf("ExpiresAt = %s, want a day on", c.Link.ExpiresAt)
	}
}

// list returns every link of tenant q matches, through its pages.
func (e *linkEnv) list(tenant string, q invites.LinkQuery) []invites.Link {
	e.t.Helper()
	var out []invites.Link
	for range 100 { // a cursor that does not move must not loop for ever
		p, err := e.svc.ListLinks(e.t.Context(), as(tenant), q)
		if err != nil {
			e.t.Fatalf("ListLinks(%+v): %v", q, err)
		}
		out = append(out, p.Links...)
		if p.NextCursor == "" {
			return out
		}
		q.Cursor = p.NextCursor
	}
	e.t.Fatalf("ListLinks(%+v): still a next page after 100", q)
	return nil
}

// Config.MaxActiveLinks counts the active links of the tenant only: not
// revoked, expired or exhausted ones, nor another tenant's.
func testLinkMaxActive(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) { c.MaxActiveLinks = 2 })
	one := e.create(tenantA, invites.LinkSpec{MaxUses: 1, TTL: time.Hour})
	e.create(tenantA, invites.LinkSpec{MaxUses: 5, TTL: time.Minute})
	_, err := e.svc.CreateLink(t.Context(), as(tenantA), spec3)
	wantIs(t, "a third active link", err, invites.ErrQuotaExceeded)
	e.create(tenantB, spec3)
	if _, err := e.join(one, "u1"); err != nil {
		t.Fatal(err)
	}
	e.create(tenantA, spec3) // one is exhausted
	_, err = e.svc.CreateLink(t.Context(), as(tenantA), spec3)
	wantIs(t, "a third active link after one was used up", err, invites.ErrQuotaExceeded)
	e.now = t0.Add(time.Minute) // the second expires: at its ExpiresAt it is no longer active
	e.create(tenantA, spec3)
	_, err = e.svc.CreateLink(t.Context(), as(tenantA), spec3)
	wantIs(t, "a third active link after one expired", err, invites.ErrQuotaExceeded)
	if _, err := e.svc.RevokeLink(t.Context(), as(tenantA), e.list(tenantA, invites.LinkQuery{Statuses: []invites.LinkStatus{invites.LinkActive}})[0].ID); err != nil {
		t.Fatal(err)
	}
	e.create(tenantA, spec3)
}

func testLinkJoin(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	c := e.create(tenantA, spec3)
	e.now = t0.Add(time.Second)
	l, err := e.join(c, "ann")
	if err != nil {
		t.Fatalf("JoinByLink: %v", err)
	}
	if l.ID != c.Link.ID || l.Uses != 1 || l.Status != invites.LinkActive || !sameRoles(l.Roles, spec3.Roles) {
		t.Fatalf("JoinByLink answered %+v, want the link with one use", l)
	}
	_, err = e.join(c, "ann")
	wantIs(t, "a second join by one user", err, invites.ErrAlreadyJoined)
	e.now = t0.Add(2 * time.Second)
	for _, u := range []string{"bob", "cy"} {
		if _, err := e.join(c, u); err != nil {
			t.Fatalf("JoinByLink(%s): %v", u, err)
		}
	}
	_, err = e.join(c, "dee")
	wantIs(t, "a join past MaxUses", err, invites.ErrLinkExhausted)
	_, err = e.svc.JoinByLink(t.Context(), tokenOf(newDigest(t)), invites.Joiner{UserID: "eve"})
	wantIs(t, "a join by an unknown token", err, invites.ErrInvalidToken)
	_, err = e.svc.JoinByLink(t.Context(), "not hex", invites.Joiner{UserID: "eve"})
	wantIs(t, "a join by a malformed token", err, invites.ErrInvalidToken)
	e.uses(tenantA, c.Link.ID, "ann", "bob", "cy")
	if e.members.count() != 3 {
		t.Fatalf("OnJoin made %d members, want 3", e.members.count())
	}
	if got := e.link(tenantA, c.Link.ID).Status; got != invites.LinkExhausted {
		t.Fatalf("status %s, want exhausted", got)
	}
	admin := as(tenantA).UserID
	e.history(tenantA, c.Link.ID, ev{invites.EventLinkCreated, admin, t0}, ev{invites.EventLinkUsed, "ann", t0.Add(time.Second)},
		ev{invites.EventLinkUsed, "bob", t0.Add(2 * time.Second)}, ev{invites.EventLinkUsed, "cy", t0.Add(2 * time.Second)})
}

// A link past its ExpiresAt (at it exactly) or revoked takes no join.
func testLinkJoinEnded(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	c := e.create(tenantA, spec3)
	r := e.create(tenantA, spec3)
	e.now = t0.Add(time.Hour - time.Microsecond)
	if _, err := e.join(c, "early"); err != nil {
		t.Fatalf("a join just before ExpiresAt: %v", err)
	}
	if _, err := e.svc.RevokeLink(t.Context(), as(tenantA), r.Link.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.join(r, "ann")
	wantIs(t, "a join of a revoked link", err, invites.ErrLinkRevoked)
	e.now = t0.Add(time.Hour)
	_, err = e.join(c, "ann")
	wantIs(t, "a join at ExpiresAt", err, invites.ErrLinkExpired)
	chk, err := e.svc.CheckLink(t.Context(), c.Token.Reveal())
	if err != nil || chk.IsValid || chk.Status != invites.LinkExpired {
		t.Fatalf("CheckLink of an expired link = %+v, %v", chk, err)
	}
	e.uses(tenantA, c.Link.ID, "early")
	e.uses(tenantA, r.Link.ID)
}

// OnJoin's error undoes the use: nothing is counted, no event.
func testLinkJoinHookError(t *testing.T, newStore func(*testing.T) invites.Store) {
	boom := errors.New("membership table down")
	fail := true
	e := newLinkEnv(t, newStore, func(c *invites.Config) {
		c.OnJoin = func(_ context.Context, l invites.Link, j invites.Joiner) error {
			if l.Uses != 1 || j.UserID != "ann" {
				return fmt.Errorf("OnJoin got uses %d and user %q, want the link as used by ann", l.Uses, j.UserID)
			}
			if fail {
				return boom
			}
			return nil
		}
	})
	c := e.create(tenantA, spec3)
	_, err := e.join(c, "ann")
	wantIs(t, "a join whose OnJoin failed", err, boom)
	e.uses(tenantA, c.Link.ID)
	e.history(tenantA, c.Link.ID, ev{invites.EventLinkCreated, as(tenantA).UserID, t0})
	fail = false
	if _, err := e.join(c, "ann"); err != nil {
		t.Fatalf("the join again: %v", err)
	}
	e.uses(tenantA, c.Link.ID, "ann")
}

// AllowedDomains admits a verified address at one of them exactly,
// IDNA-normalized; a refusal uses up nothing.
func testLinkDomains(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	c := e.create(tenantA, invites.LinkSpec{MaxUses: 10, TTL: time.Hour, AllowedDomains: []string{"BÜCHER.de"}})
	for _, j := range []invites.Joiner{
		{UserID: "u1", Email: "ann@bücher.de", EmailVerified: false},
		{UserID: "u2", Email: "ann@sub.bücher.de", EmailVerified: true},
		{UserID: "u3", Email: "ann@bucher.de", EmailVerified: true},
		{UserID: "u4", Email: "bücher.de", EmailVerified: true},
		{UserID: "u5", Email: "", EmailVerified: true},
	} {
		_, err := e.svc.JoinByLink(t.Context(), c.Token.Reveal(), j)
		wantIs(t, fmt.Sprintf("join by %+v", j), err, invites.ErrDomainNotAllowed)
	}
	for _, j := range []invites.Joiner{
		{UserID: "v1", Email: "ann@BÜCHER.DE", EmailVerified: true},
		{UserID: "v2", Email: "bob@xn--bcher-kva.de", EmailVerified: true},
	} {
		if _, err := e.svc.JoinByLink(t.Context(), c.Token.Reveal(), j); err != nil {
			t.Fatalf("join by %+v: %v", j, err)
		}
	}
	e.uses(tenantA, c.Link.ID, "v1", "v2")
}

// A member (Config.IsMember) is refused and uses up nothing.
func testLinkMember(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) {
		c.IsMember = func(_ context.Context, tenant string, emails []string) ([]bool, error) {
			return []bool{tenant == tenantA && emails[0] == "in@example.com"}, nil
		}
	})
	c := e.create(tenantA, spec3)
	_, err := e.svc.JoinByLink(t.Context(), c.Token.Reveal(), invites.Joiner{UserID: "m", Email: "in@example.com", EmailVerified: true})
	wantIs(t, "a join by a member", err, invites.ErrAlreadyMember)
	if _, err := e.svc.JoinByLink(t.Context(), c.Token.Reveal(), invites.Joiner{UserID: "n", Email: "out@example.com", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	e.uses(tenantA, c.Link.ID, "n")
}

// Config.IsMember is asked before the link is locked: a join of the link
// that it makes, as a slow host's call would let one run, goes through.
func testLinkMemberUnlocked(t *testing.T, newStore func(*testing.T) invites.Store) {
	var (
		e     *linkEnv
		c     invites.CreatedLink
		inner = errors.New("IsMember was not asked")
	)
	e = newLinkEnv(t, newStore, func(cfg *invites.Config) {
		cfg.IsMember = func(ctx context.Context, _ string, emails []string) ([]bool, error) {
			if emails[0] == "outer@example.com" {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				_, inner = e.svc.JoinByLink(ctx, c.Token.Reveal(), invites.Joiner{UserID: "inner"})
			}
			return []bool{false}, nil
		}
	})
	c = e.create(tenantA, spec3)
	if _, err := e.svc.JoinByLink(t.Context(), c.Token.Reveal(), invites.Joiner{UserID: "outer", Email: "outer@example.com", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if inner != nil {
		t.Fatalf("a join made by IsMember: %v, want none (IsMember runs under the link's lock)", inner)
	}
	e.uses(tenantA, c.Link.ID, "inner", "outer")
}

// Config.LinkUsesPerMinute counts the uses of the link in the minute up
// to now, as the store holds them.
func testLinkRate(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) { c.LinkUsesPerMinute = 2 })
	c := e.create(tenantA, invites.LinkSpec{MaxUses: 10, TTL: time.Hour})
	o := e.create(tenantA, invites.LinkSpec{MaxUses: 10, TTL: time.Hour})
	for _, u := range []string{"a", "b"} {
		if _, err := e.join(c, u); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.join(c, "c")
	wantIs(t, "a third join in a minute", err, invites.ErrLinkRateLimited)
	if _, err := e.join(o, "c"); err != nil {
		t.Fatalf("a join of another link: %v", err)
	}
	e.now = t0.Add(time.Minute - time.Microsecond)
	_, err = e.join(c, "c")
	wantIs(t, "a third join just within the minute", err, invites.ErrLinkRateLimited)
	e.now = t0.Add(time.Minute)
	if _, err := e.join(c, "c"); err != nil {
		t.Fatalf("a join a minute on: %v", err)
	}
	e.uses(tenantA, c.Link.ID, "a", "b", "c")
}

func testLinkRevoke(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	c := e.create(tenantA, spec3)
	_, err := e.svc.RevokeLink(t.Context(), as(tenantB), c.Link.ID)
	wantIs(t, "RevokeLink by another tenant", err, invites.ErrNotFound)
	e.now = t0.Add(time.Second)
	l, err := e.svc.RevokeLink(t.Context(), as(tenantA), c.Link.ID)
	if err != nil || l.Status != invites.LinkRevoked || !sameTime(l.RevokedAt, e.now) || l.RevokedByUserID != as(tenantA).UserID {
		t.Fatalf("RevokeLink = %+v, %v; want it revoked now by the admin", l, err)
	}
	_, err = e.svc.RevokeLink(t.Context(), as(tenantA), c.Link.ID)
	wantIs(t, "RevokeLink again", err, invites.ErrLinkRevoked)
	admin := as(tenantA).UserID
	e.history(tenantA, c.Link.ID, ev{invites.EventLinkCreated, admin, t0}, ev{invites.EventLinkRevoked, admin, e.now})
	if got := e.link(tenantA, c.Link.ID); got.Status != invites.LinkRevoked || !sameTime(got.RevokedAt, e.now) {
		t.Fatalf("GetLink after RevokeLink = %+v", got)
	}
}

// RevokeLinksBy revokes the creator's active links of the actor's tenant
// only.
func testLinkRevokeBy(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	mine := []invites.Link{e.create(tenantA, spec3).Link, e.create(tenantA, spec3).Link}
	other := e.create(tenantB, spec3).Link
	bob := invites.Actor{TenantID: tenantA, UserID: "bob", Roles: []string{"member"}}
	bobs, err := e.svc.CreateLink(t.Context(), bob, spec3)
	if err != nil {
		t.Fatal(err)
	}
	old, err := e.svc.CreateLink(t.Context(), as(tenantA), invites.LinkSpec{MaxUses: 1, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.now = t0.Add(time.Minute) // old expired
	got, err := e.svc.RevokeLinksBy(t.Context(), bob, as(tenantA).UserID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, l := range got {
		ids = append(ids, l.ID)
		if l.Status != invites.LinkRevoked || l.RevokedByUserID != "bob" {
			t.Fatalf("RevokeLinksBy answered %+v, want it revoked by bob", l)
		}
	}
	want := []uuid.UUID{mine[0].ID, mine[1].ID}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(ids, want) {
		t.Fatalf("RevokeLinksBy revoked %v, want %v", ids, want)
	}
	for _, x := range []struct {
		tenant string
		id     uuid.UUID
		want   invites.LinkStatus
	}{{tenantA, mine[0].ID, invites.LinkRevoked}, {tenantA, bobs.Link.ID, invites.LinkActive},
		{tenantB, other.ID, invites.LinkActive}, {tenantA, old.Link.ID, invites.LinkExpired}} {
		if got := e.link(x.tenant, x.id).Status; got != x.want {
			t.Fatalf("link %s is %s, want %s", x.id, got, x.want)
		}
	}
	if again, err := e.svc.RevokeLinksBy(t.Context(), bob, as(tenantA).UserID); err != nil || len(again) != 0 {
		t.Fatalf("RevokeLinksBy again = %v, %v; want none", again, err)
	}
}

// RotateLink revokes the link and makes one of its spec in one commit;
// the replaced link no longer counts against MaxActiveLinks.
func testLinkRotate(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, func(c *invites.Config) { c.MaxActiveLinks = 1 })
	c := e.create(tenantA, invites.LinkSpec{Roles: []string{"viewer"}, MaxUses: 4, TTL: 2 * time.Hour,
		AllowedDomains: []string{"example.com"}, Note: "n"})
	e.now = t0.Add(time.Minute)
	r, err := e.svc.RotateLink(t.Context(), as(tenantA), c.Link.ID)
	if err != nil {
		t.Fatalf("RotateLink: %v", err)
	}
	want := invites.Link{ID: r.Link.ID, TenantID: tenantA, Roles: []string{"viewer"}, MaxUses: 4,
		AllowedDomains: []string{"example.com"}, Note: "n", CreatedByUserID: as(tenantA).UserID,
		CreatedAt: e.now, ExpiresAt: e.now.Add(2 * time.Hour), Status: invites.LinkActive}
	if d := linkDiff(e.link(tenantA, r.Link.ID), want); d != "" || r.Link.ID == c.Link.ID || r.Token == c.Token {
		t.Fatalf("the rotated link: %s", d)
	}
	j := invites.Joiner{UserID: "ann", Email: "ann@example.com", EmailVerified: true}
	_, err = e.svc.JoinByLink(t.Context(), c.Token.Reveal(), j)
	wantIs(t, "a join by the replaced token", err, invites.ErrLinkRevoked)
	if _, err := e.svc.JoinByLink(t.Context(), r.Token.Reveal(), j); err != nil {
		t.Fatalf("a join by the new token: %v", err)
	}
	_, err = e.svc.RotateLink(t.Context(), as(tenantA), c.Link.ID)
	wantIs(t, "RotateLink of a revoked link", err, invites.ErrLinkRevoked)
	_, err = e.svc.RotateLink(t.Context(), as(tenantB), r.Link.ID)
	wantIs(t, "RotateLink by another tenant", err, invites.ErrNotFound)
	admin := as(tenantA).UserID
	e.history(tenantA, c.Link.ID, ev{invites.EventLinkCreated, admin, t0}, ev{invites.EventLinkRevoked, admin, e.now})
	e.history(tenantA, r.Link.ID, ev{invites.EventLinkCreated, admin, e.now}, ev{invites.EventLinkUsed, "ann", e.now})
}

// ListLinks filters by status as read now and by creator, newest first,
// one tenant's, through its cursor.
func testLinkList(t *testing.T, newStore func(*testing.T) invites.Store) {
	e := newLinkEnv(t, newStore, nil)
	var made []uuid.UUID // oldest first
	for i := range 5 {
		e.now = t0.Add(time.Duration(i) * time.Second)
		made = append(made, e.create(tenantA, invites.LinkSpec{MaxUses: 1, TTL: time.Duration(i+1) * time.Hour}).Link.ID)
	}
	e.create(tenantB, spec3)
	bob := invites.Actor{TenantID: tenantA, UserID: "bob"}
	e.now = t0.Add(10 * time.Second)
	bobs, err := e.svc.CreateLink(t.Context(), bob, invites.LinkSpec{MaxUses: 2, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeLink(t.Context(), as(tenantA), made[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.JoinByLink(t.Context(), e.tokens[made[2]], invites.Joiner{UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	e.now = t0.Add(time.Hour + time.Second) // made[0] expired
	ids := func(q invites.LinkQuery) []uuid.UUID {
		var out []uuid.UUID
		for _, l := range e.list(tenantA, q) {
			out = append(out, l.ID)
		}
		return out
	}
	all := []uuid.UUID{bobs.Link.ID, made[4], made[3], made[2], made[1], made[0]}
	st := func(s ...invites.LinkStatus) []invites.LinkStatus { return s }
	for _, c := range []struct {
		name string
		q    invites.LinkQuery
		want []uuid.UUID
	}{
		{"all", invites.LinkQuery{}, all},
		{"paged", invites.LinkQuery{Limit: 2}, all},
		{"active", invites.LinkQuery{Statuses: st(invites.LinkActive)}, []uuid.UUID{bobs.Link.ID, made[4], made[3]}},
		{"revoked", invites.LinkQuery{Statuses: st(invites.LinkRevoked)}, []uuid.UUID{made[1]}},
		{"exhausted", invites.LinkQuery{Statuses: st(invites.LinkExhausted)}, []uuid.UUID{made[2]}},
		{"expired", invites.LinkQuery{Statuses: st(invites.LinkExpired)}, []uuid.UUID{made[0]}},
		{"ended", invites.LinkQuery{Statuses: st(invites.LinkExpired, invites.LinkRevoked), Limit: 1}, []uuid.UUID{made[1], made[0]}},
		{"by bob", invites.LinkQuery{CreatedByUserID: "bob"}, []uuid.UUID{bobs.Link.ID}},
		{"by admin, active", invites.LinkQuery{CreatedByUserID: as(tenantA).UserID, Statuses: st(invites.LinkActive), Limit: 1}, []uuid.UUID{made[4], made[3]}},
	} {
		if got := ids(c.q); !slices.Equal(got, c.want) {
			t.Fatalf("ListLinks %s = %v, want %v", c.name, got, c.want)
		}
	}
	_, err = e.svc.ListLinks(t.Context(), as(tenantA), invites.LinkQuery{Cursor: "junk"})
	wantIs(t, "ListLinks with a junk cursor", err, invites.ErrInvalidInput)
}

// Link events go to Config.OnEvent with LinkID set, in order.
func testLinkEvents(t *testing.T, newStore func(*testing.T) invites.Store) {
	var got []invites.Event
	e := newLinkEnv(t, newStore, func(c *invites.Config) {
		c.OnEvent = func(_ context.Context, ev invites.Event) error {
			got = append(got, ev)
			return nil
		}
	})
	c := e.create(tenantA, spec3)
	if _, err := e.join(c, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeLink(t.Context(), as(tenantA), c.Link.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DispatchEvents(t.Context()); err != nil {
		t.Fatal(err)
	}
	var types []invites.EventType
	for _, ev := range got {
		if ev.LinkID != c.Link.ID || ev.InviteID != uuid.Nil || ev.TenantID != tenantA {
			t.Fatalf("OnEvent got %+v, want an event of link %s", ev, c.Link.ID)
		}
		types = append(types, ev.Type)
	}
	if want := []invites.EventType{invites.EventLinkCreated, invites.EventLinkUsed, invites.EventLinkRevoked}; !slices.Equal(types, want) {
		t.Fatalf("OnEvent got %v, want %v", types, want)
	}
}
