package invites_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/token"
)

func TestIsMemberIsAskedOncePerBatch(t *testing.T) {
	var asked [][]string
	h := newHarness(t, func(c *invites.Config) {
		c.IsMember = func(_ context.Context, tenant string, emails []string) ([]bool, error) {
			if tenant != admin.TenantID {
				t.Errorf("IsMember asked for tenant %q", tenant)
			}
			asked = append(asked, slices.Clone(emails))
			out := make([]bool, len(emails))
			for i, e := range emails {
				out[i] = e == "member@example.com"
			}
			return out, nil
		}
	})
	res, err := h.svc.Send(context.Background(), admin, []invites.NewInvite{
		{Email: "new@example.com"}, {Email: "member@example.com"}, {Email: "not an address"},
		{Email: "NEW@example.com"}, {Email: "other@example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"new@example.com", "member@example.com", "other@example.com"}}; !slices.EqualFunc(asked, want, slices.Equal) {
		t.Fatalf("IsMember was asked %q, want once with the valid, distinct addresses %q", asked, want)
	}
	var codes []string
	for _, e := range res.Errors {
		codes = append(codes, e.Code)
	}
	if want := []string{invites.CodeAlreadyMember, invites.CodeInvalidEmail, invites.CodeDuplicateInBatch}; !slices.Equal(codes, want) || res.Errors[0].Index != 1 {
		t.Fatalf("item errors %+v, want %v with the member at index 1", res.Errors, want)
	}
	if len(res.Success) != 2 {
		t.Fatalf("stored %d invites, want 2", len(res.Success))
	}
}

func TestIsMemberFailureStoresNothing(t *testing.T) {
	for name, answer := range map[string]func([]string) ([]bool, error){
		"error":        func([]string) ([]bool, error) { return nil, errors.New("directory down") },
		"short answer": func(e []string) ([]bool, error) { return make([]bool, len(e)-1), nil },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *invites.Config) {
				c.IsMember = func(_ context.Context, _ string, e []string) ([]bool, error) { return answer(e) }
			})
			_, err := h.svc.Send(context.Background(), admin, []invites.NewInvite{{Email: "a@example.com"}, {Email: "b@example.com"}})
			if err == nil {
				t.Fatal("Send went on without the member check")
			}
			page, _ := h.svc.List(context.Background(), admin, invites.Query{})
			if page.TotalCount != 0 {
				t.Fatalf("%d invites stored", page.TotalCount)
			}
		})
	}
}

func TestRequireEmailMatch(t *testing.T) {
	hooked := 0
	h := newHarness(t, func(c *invites.Config) {
		c.RequireEmailMatch = true
		c.OnAccept = func(context.Context, invites.Invite) error { hooked++; return nil }
	})
	inv, tok := h.invite(admin, "Ann@Example.com")
	ctx := context.Background()
	for _, email := range []string{"", "bob@example.com", "ann@example.com.evil"} {
		_, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-bob", Email: email})
		if !errors.Is(err, invites.ErrEmailMismatch) {
			t.Fatalf("Accept by %q: %v, want ErrEmailMismatch", email, err)
		}
	}
	if got := h.get(admin, inv); got.Status != invites.StatusPending || hooked != 0 {
		t.Fatalf("after refused accepts: status %s, OnAccept ran %d times", got.Status, hooked)
	}
	got, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann", Email: " ANN@example.COM "})
	if err != nil || got.Status != invites.StatusAccepted || hooked != 1 {
		t.Fatalf("Accept by the invited address, other case: %v, %s, OnAccept ran %d times", err, got.Status, hooked)
	}

	off := newHarness(t)
	_, tok = off.invite(admin, "carl@example.com")
	if _, err := off.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-x", Email: "x@example.com"}); err != nil {
		t.Fatalf("without RequireEmailMatch any email accepts: %v", err)
	}
}

func TestCheckTellsValidExpiredAndInvalid(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	inv, tok := h.invite(admin, "ann@example.com")
	c, err := h.svc.Check(ctx, tok)
	if err != nil || !c.IsValid || c.IsExpired || c.InviteID != inv.ID || c.Email != "ann@example.com" || c.Status != invites.StatusPending {
		t.Fatalf("Check of a live link = %+v, %v", c, err)
	}
	for _, junk := range []string{"", "nope", tok + "x"} {
		if c, err := h.svc.Check(ctx, junk); err != nil || c.IsValid || c.IsExpired || c.InviteID != (invites.TokenCheck{}).InviteID {
			t.Fatalf("Check(%q) = %+v, %v; want not valid, nothing told, no error", junk, c, err)
		}
	}
	h.advance(8 * 24 * time.Hour)
	if c, err := h.svc.Check(ctx, tok); err != nil || c.IsValid || !c.IsExpired || c.Status != invites.StatusExpired {
		t.Fatalf("Check of an expired link = %+v, %v", c, err)
	}
	_, tok2 := h.invite(admin, "bob@example.com")
	if _, err := h.svc.Accept(ctx, tok2, invites.Acceptor{UserID: "u-bob"}); err != nil {
		t.Fatal(err)
	}
	if c, err := h.svc.Check(ctx, tok2); err != nil || c.IsValid || c.IsExpired || c.Status != invites.StatusAccepted {
		t.Fatalf("Check of a used link = %+v, %v", c, err)
	}
}

func TestQuotas(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *invites.Config) { c.MaxPendingPerTenant = 2 })
	res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "a@example.com"}, {Email: "b@example.com"}, {Email: "c@example.com"}})
	if err != nil || len(res.Success) != 2 || len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeQuotaExceeded || res.Errors[0].Index != 2 {
		t.Fatalf("a batch partly over MaxPendingPerTenant = %+v, %v", res, err)
	}
	_, err = h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "d@example.com"}, {Email: "bad"}})
	if !errors.Is(err, invites.ErrQuotaExceeded) {
		t.Fatalf("a batch wholly over the quota: %v, want ErrQuotaExceeded", err)
	}
	if res, err := h.svc.Send(ctx, other, []invites.NewInvite{{Email: "d@example.com"}}); err != nil || len(res.Success) != 1 {
		t.Fatalf("another tenant has its own quota: %+v, %v", res, err)
	}

	h = newHarness(t, func(c *invites.Config) { c.MaxSendsPerInviterPerHour = 2; c.ResendCooldown = time.Second })
	inv := h.send(admin, "a@example.com", "b@example.com")[0]
	h.advance(time.Minute)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); !errors.Is(err, invites.ErrQuotaExceeded) {
		t.Fatalf("Resend over MaxSendsPerInviterPerHour: %v", err)
	}
	h.advance(time.Hour)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); err != nil {
		t.Fatalf("Resend an hour later: %v", err)
	}
	if _, err := invites.New(h.store, h.mail, invites.Config{Tokens: token.Issuer{}, AcceptURL: func(invites.Token) string { return "" },
		MaxPendingPerTenant: -1}); err == nil {
		t.Fatal("a negative quota was accepted")
	}
}
