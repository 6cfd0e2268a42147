package invites_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/testclock"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

var (
	admin = invites.Actor{UserID: "u-admin", TenantID: "acme", Roles: []string{"admin", "member"}}
	other = invites.Actor{UserID: "u-other", TenantID: "globex", Roles: []string{"admin", "member"}}
	t0    = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// harness is a Service on memstore with a recording mailer and a clock the
// test moves.
type harness struct {
	t     *testing.T
	svc   *invites.Service
	store *memstore.Store
	mail  *mailertest.Mailer
	clk   *testclock.Clock
}

func newHarness(t *testing.T, tune ...func(*invites.Config)) *harness {
	t.Helper()
	h := &harness{t: t, store: memstore.New(), mail: mailertest.New(), clk: testclock.New(t0)}
	cfg := invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Now:       h.clock,
	}
	for _, f := range tune {
		f(&cfg)
	}
	svc, err := invites.New(h.store, h.mail, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h
}

func (h *harness) clock() time.Time { return h.clk.Now() }

func (h *harness) advance(d time.Duration) { h.clk.Advance(d) }

// send sends one invite per email and fails the test on any error.
func (h *harness) send(actor invites.Actor, emails ...string) []invites.Invite {
	h.t.Helper()
	items := make([]invites.NewInvite, len(emails))
	for i, e := range emails {
		items[i] = invites.NewInvite{Email: e}
	}
	res, err := h.svc.Send(context.Background(), actor, items)
	if err != nil || len(res.Errors) > 0 {
		h.t.Fatalf("Send(%v) = %+v, %v", emails, res.Errors, err)
	}
	return res.Success
}

// deliver runs one delivery pass and returns how many emails went out.
func (h *harness) deliver() int {
	h.t.Helper()
	n, err := h.svc.DeliverPending(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// invite sends one invite, delivers it, and returns it with its token.
func (h *harness) invite(actor invites.Actor, email string) (invites.Invite, string) {
	h.t.Helper()
	inv := h.send(actor, email)[0]
	h.deliver()
	tok := h.mail.TokenFor(email)
	if tok == "" {
		h.t.Fatalf("no email went to %s", email)
	}
	return inv, tok
}

func (h *harness) get(actor invites.Actor, inv invites.Invite) invites.Invite {
	h.t.Helper()
	got, err := h.svc.Get(context.Background(), actor, inv.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}
