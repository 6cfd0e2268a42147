package invites_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
)

var ctx = context.Background()

func wantNotPending(t *testing.T, err error, st invites.Status) {
	t.Helper()
	var np *invites.NotPendingError
	if !errors.As(err, &np) || !errors.Is(err, invites.ErrNotPending) || np.Status != st {
		t.Fatalf("err = %v, want NotPendingError{%s}", err, st)
	}
}

func TestAccept(t *testing.T) {
	h := newHarness(t)
	inv, tok := h.invite(admin, "ann@example.com")
	if inv.Status != invites.StatusPending || inv.DeliveryStatus != invites.DeliveryQueued {
		t.Fatalf("sent invite = %+v", inv)
	}
	if got := h.get(admin, inv); got.DeliveryStatus != invites.DeliverySent || got.ExpiresAt != t0.Add(7*24*time.Hour) {
		t.Fatalf("after delivery: %+v", got)
	}
	view, err := h.svc.Lookup(ctx, tok)
	if err != nil || view.ID != inv.ID || view.Status != invites.StatusPending {
		t.Fatalf("Lookup = %+v, %v", view, err)
	}
	h.advance(time.Hour)
	got, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != invites.StatusAccepted || got.AcceptedByUserID != "u-ann" || !got.StatusUpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("accepted = %+v", got)
	}
	_, err = h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-eve"})
	wantNotPending(t, err, invites.StatusAccepted)
	_, err = h.svc.Decline(ctx, tok)
	wantNotPending(t, err, invites.StatusAccepted)
	_, err = h.svc.Cancel(ctx, admin, inv.ID)
	wantNotPending(t, err, invites.StatusAccepted)
	if view, _ := h.svc.Lookup(ctx, tok); view.Status != invites.StatusAccepted {
		t.Fatalf("Lookup after accept = %s", view.Status)
	}
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{}); !errors.Is(err, invites.ErrInvalidInput) {
		t.Fatalf("accept without user: %v", err)
	}
}

func TestDecline(t *testing.T) {
	h := newHarness(t)
	inv, tok := h.invite(admin, "dan@example.com")
	got, err := h.svc.Decline(ctx, tok)
	if err != nil || got.Status != invites.StatusDeclined || got.AcceptedByUserID != "" {
		t.Fatalf("Decline = %+v, %v", got, err)
	}
	_, err = h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-dan"})
	wantNotPending(t, err, invites.StatusDeclined)
	_, err = h.svc.Resend(ctx, admin, inv.ID)
	wantNotPending(t, err, invites.StatusDeclined)
}

func TestUnknownAndMalformedTokens(t *testing.T) {
	h := newHarness(t)
	h.invite(admin, "a@example.com")
	unknown := strings.Repeat("A", 43)
	for _, tok := range []string{unknown, "", "short", strings.Repeat("A", 44), "../../etc/passwd"} {
		if _, err := h.svc.Lookup(ctx, tok); !errors.Is(err, invites.ErrInvalidToken) {
			t.Errorf("Lookup(%q) = %v", tok, err)
		}
		if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u"}); !errors.Is(err, invites.ErrInvalidToken) {
			t.Errorf("Accept(%q) = %v", tok, err)
		}
		if _, err := h.svc.Decline(ctx, tok); !errors.Is(err, invites.ErrInvalidToken) {
			t.Errorf("Decline(%q) = %v", tok, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	h := newHarness(t)
	inv, tok := h.invite(admin, "old@example.com")
	h.advance(7*24*time.Hour + time.Second)
	got := h.get(admin, inv)
	if got.Status != invites.StatusExpired || !got.StatusUpdatedAt.Equal(got.ExpiresAt) {
		t.Fatalf("after TTL: %+v", got)
	}
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u"}); !errors.Is(err, invites.ErrExpired) {
		t.Fatalf("Accept expired = %v", err)
	}
	if _, err := h.svc.Decline(ctx, tok); !errors.Is(err, invites.ErrExpired) {
		t.Fatalf("Decline expired = %v", err)
	}
	if v, err := h.svc.Lookup(ctx, tok); err != nil || v.Status != invites.StatusExpired {
		t.Fatalf("Lookup expired = %+v, %v", v, err)
	}
	page, err := h.svc.List(ctx, admin, invites.Query{Statuses: []invites.Status{invites.StatusExpired}})
	if err != nil || page.TotalCount != 1 || page.Invites[0].ID != inv.ID {
		t.Fatalf("List expired = %+v, %v", page, err)
	}
	// Re-inviting the address makes a new invite; the old one reads expired.
	fresh := h.send(admin, "old@example.com")[0]
	if fresh.ID == inv.ID || h.get(admin, inv).Status != invites.StatusExpired {
		t.Fatal("re-invite after expiry did not make a new invite")
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t)
	inv, tok := h.invite(admin, "c@example.com")
	got, err := h.svc.Cancel(ctx, admin, inv.ID)
	if err != nil || got.Status != invites.StatusCanceled {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	_, err = h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u"})
	wantNotPending(t, err, invites.StatusCanceled)
	_, err = h.svc.Cancel(ctx, admin, inv.ID)
	wantNotPending(t, err, invites.StatusCanceled)

	// An expired invite can be canceled too.
	exp, _ := h.invite(admin, "e@example.com")
	h.advance(8 * 24 * time.Hour)
	if got, err := h.svc.Cancel(ctx, admin, exp.ID); err != nil || got.Status != invites.StatusCanceled {
		t.Fatalf("Cancel expired = %+v, %v", got, err)
	}
}

func TestCancelBeforeDeliverySendsNothing(t *testing.T) {
	h := newHarness(t)
	inv := h.send(admin, "never@example.com")[0]
	if _, err := h.svc.Cancel(ctx, admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	if n := h.deliver(); n != 0 || len(h.mail.Messages()) != 0 {
		t.Fatalf("canceled invite was mailed (%d)", n)
	}
}

func TestResend(t *testing.T) {
	h := newHarness(t)
	inv, oldTok := h.invite(admin, "r@example.com")
	_, err := h.svc.Resend(ctx, admin, inv.ID)
	var soon *invites.ResendTooSoonError
	if !errors.As(err, &soon) || soon.RetryAfter != time.Minute || !errors.Is(err, invites.ErrResendTooSoon) {
		t.Fatalf("early Resend = %v", err)
	}
	h.advance(time.Minute)
	got, err := h.svc.Resend(ctx, admin, inv.ID)
	if err != nil || got.SendCount != 2 || got.DeliveryStatus != invites.DeliveryQueued {
		t.Fatalf("Resend = %+v, %v", got, err)
	}
	if _, err := h.svc.Lookup(ctx, oldTok); !errors.Is(err, invites.ErrInvalidToken) {
		t.Fatalf("old link still works: %v", err)
	}
	h.deliver()
	msg, _ := h.mail.LastTo("r@example.com")
	if msg.Kind != invites.KindReminder || msg.Token.Reveal() == oldTok {
		t.Fatalf("reminder = %+v", msg)
	}
	for i := 3; i <= 6; i++ {
		h.advance(time.Minute)
		if got, err = h.svc.Resend(ctx, admin, inv.ID); err != nil || got.SendCount != i {
			t.Fatalf("resend %d: %+v, %v", i, got, err)
		}
	}
	h.advance(time.Minute)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); !errors.Is(err, invites.ErrTooManyResends) {
		t.Fatalf("sixth resend = %v", err)
	}
}

func TestResendRenewsExpired(t *testing.T) {
	h := newHarness(t)
	inv, _ := h.invite(admin, "late@example.com")
	h.advance(10 * 24 * time.Hour)
	got, err := h.svc.Resend(ctx, admin, inv.ID)
	if err != nil || got.Status != invites.StatusPending || !got.ExpiresAt.After(h.clock()) {
		t.Fatalf("Resend expired = %+v, %v", got, err)
	}
	h.deliver()
	if _, err := h.svc.Accept(ctx, h.mail.TokenFor("late@example.com"), invites.Acceptor{UserID: "u"}); err != nil {
		t.Fatalf("accept renewed invite: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	h := newHarness(t)
	inv, tok := h.invite(admin, "up@example.com")
	first, locale := "Ünal", "de-at"
	got, err := h.svc.Update(ctx, admin, inv.ID, invites.Update{
		FirstName: &first, Locale: &locale, Data: []byte(`{ "team": "red" }`), Roles: []string{"member"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstName != first || got.Locale != "de-AT" || string(got.Data) != `{"team":"red"}` || len(got.Roles) != 1 {
		t.Fatalf("Update = %+v", got)
	}
	if _, err := h.svc.Update(ctx, admin, inv.ID, invites.Update{Roles: []string{"owner"}}); !errors.Is(err, invites.ErrForbiddenRole) {
		t.Fatalf("granting a role the actor lacks: %v", err)
	}
	bad := "xx-!!"
	if _, err := h.svc.Update(ctx, admin, inv.ID, invites.Update{Locale: &bad}); !errors.Is(err, invites.ErrInvalidInput) {
		t.Fatalf("bad locale: %v", err)
	}
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	last := "Yılmaz"
	if got, err := h.svc.Update(ctx, admin, inv.ID, invites.Update{LastName: &last, Data: []byte("null")}); err != nil || got.LastName != last || got.Data != nil {
		t.Fatalf("names and data after accept: %+v, %v", got, err)
	}
	_, err = h.svc.Update(ctx, admin, inv.ID, invites.Update{Roles: []string{"admin"}})
	wantNotPending(t, err, invites.StatusAccepted)
}

func TestOnAcceptFailureLeavesPending(t *testing.T) {
	fail := errors.New("membership table is down")
	var seen []invites.Invite
	h := newHarness(t, func(c *invites.Config) {
		c.OnAccept = func(_ context.Context, inv invites.Invite) error {
			seen = append(seen, inv)
			if len(seen) == 1 {
				return fail
			}
			return nil
		}
	})
	inv, tok := h.invite(admin, "hook@example.com")
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-h"}); !errors.Is(err, fail) {
		t.Fatalf("Accept = %v, want the hook's error", err)
	}
	if st := h.get(admin, inv).Status; st != invites.StatusPending {
		t.Fatalf("after failed hook: %s", st)
	}
	if _, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-h"}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[1].Status != invites.StatusAccepted || seen[1].AcceptedByUserID != "u-h" {
		t.Fatalf("hook saw %+v", seen)
	}
}

func TestTenantsNeverSeeEachOther(t *testing.T) {
	h := newHarness(t)
	inv, _ := h.invite(admin, "x@example.com")
	name := "Eve"
	calls := map[string]func() error{
		"Get":    func() error { _, err := h.svc.Get(ctx, other, inv.ID); return err },
		"Cancel": func() error { _, err := h.svc.Cancel(ctx, other, inv.ID); return err },
		"Resend": func() error { h.advance(time.Hour); _, err := h.svc.Resend(ctx, other, inv.ID); return err },
		"Update": func() error {
			_, err := h.svc.Update(ctx, other, inv.ID, invites.Update{FirstName: &name})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, invites.ErrNotFound) {
			t.Errorf("%s across tenants = %v, want ErrNotFound", name, err)
		}
	}
	page, err := h.svc.List(ctx, other, invites.Query{})
	if err != nil || page.TotalCount != 0 || len(page.Invites) != 0 {
		t.Fatalf("other tenant lists %+v, %v", page, err)
	}
	// The same address in another tenant is a separate invite.
	if o := h.send(other, "x@example.com")[0]; o.TenantID != "globex" {
		t.Fatalf("other tenant invite = %+v", o)
	}
	if got := h.get(admin, inv); got.Status != invites.StatusPending || got.FirstName != "" {
		t.Fatalf("cross-tenant calls changed the invite: %+v", got)
	}
}
