package invites_test

import (
	"errors"
	"testing"
	"time"

	"github.com/invitekit/invites"
)

// cancelAndSend sends email n times, cancelling each invite before the
// next, and fails the test if any send is refused.
func cancelAndSend(h *harness, email string, n int) {
	h.t.Helper()
	for range n {
		inv := h.send(admin, email)[0]
		if _, err := h.svc.Cancel(ctx, admin, inv.ID); err != nil {
			h.t.Fatal(err)
		}
	}
}

// Cancel-and-send-again reaches MaxSendsPerAddressPerDay (10 by default):
// the next item to the address is its own error, even alone in its batch,
// and the other items go on.
func TestSendAddressLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		sends int // the sends that go through before the limit
	}{
		{"default", 0, 10},
		{"set", 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *invites.Config) { c.MaxSendsPerAddressPerDay = tt.limit })
			cancelAndSend(h, "kim@x.io", tt.sends)
			res, err := h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "Kim@X.io"}})
			if err != nil || len(res.Success) != 0 || len(res.Errors) != 1 {
				t.Fatalf("a lone item over the address limit: Send = %+v, %v; want one item error", res, err)
			}
			if e := res.Errors[0]; e.Code != invites.CodeAddressLimit || e.Index != 0 || e.Email != "Kim@X.io" || e.Message == "" {
				t.Fatalf("item error %+v, want code %s", e, invites.CodeAddressLimit)
			}
			res, err = h.svc.Send(ctx, admin, []invites.NewInvite{{Email: "lee@x.io"}, {Email: "kim@x.io"}})
			if err != nil || len(res.Success) != 1 || res.Success[0].Email != "lee@x.io" ||
				len(res.Errors) != 1 || res.Errors[0].Index != 1 || res.Errors[0].Code != invites.CodeAddressLimit {
				t.Fatalf("a batch with one address over the limit = %+v, %v", res, err)
			}
			if got := h.send(other, "kim@x.io"); len(got) != 1 {
				t.Fatal("another tenant could not invite the address")
			}
			h.advance(24 * time.Hour)
			h.send(admin, "kim@x.io")
		})
	}
}

// With MaxSendsPerAddressPerDay -1 an address takes any number of sends.
func TestSendAddressLimitOff(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) { c.MaxSendsPerAddressPerDay = -1 })
	cancelAndSend(h, "kim@x.io", 25)
}

// A Resend counts as a send to the address and over the limit is
// ErrQuotaExceeded, with the invite unchanged.
func TestResendAddressLimit(t *testing.T) {
	h := newHarness(t, func(c *invites.Config) {
		c.MaxSendsPerAddressPerDay = 3
		c.MaxResends = 10
	})
	cancelAndSend(h, "kim@x.io", 1)
	inv := h.send(admin, "kim@x.io")[0]
	h.advance(time.Minute)
	if _, err := h.svc.Resend(ctx, admin, inv.ID); err != nil {
		t.Fatalf("the third send: %v", err)
	}
	h.advance(time.Minute)
	_, err := h.svc.Resend(ctx, admin, inv.ID)
	if !errors.Is(err, invites.ErrQuotaExceeded) {
		t.Fatalf("Resend over the address limit = %v, want ErrQuotaExceeded", err)
	}
	if got := h.get(admin, inv); got.SendCount != 2 {
		t.Fatalf("the refused Resend left SendCount %d, want 2", got.SendCount)
	}
}
