package invites_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
)

// cancelAndSendAs sends one invite to email as a fresh admin of tenant, and
// cancels it, n times; it fails the test if any is refused.
func cancelAndSendAs(h *harness, tenant, email string, n int) {
	h.t.Helper()
	actor := invites.Actor{UserID: "admin-" + tenant, TenantID: tenant, Roles: admin.Roles}
	for range n {
		inv := h.send(actor, email)[0]
		if _, err := h.svc.Cancel(ctx, actor, inv.ID); err != nil {
			h.t.Fatal(err)
		}
	}
}

// Each tenant may send an address MaxSendsPerAddressPerDay, and all of
// them together MaxSendsPerAddressPerDayAllTenants (30 by default): the
// next tenant's item is CodeAddressLimit, whose message names no tenant.
func TestSendAddressLimitAllTenants(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		tenants int // the tenants that send 10 each before the limit
		refused bool
	}{
		{"default", 0, 3, true},
		{"set", 15, 1, true}, // 10, and 5 more from another tenant
		{"off", -1, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *invites.Config) { c.MaxSendsPerAddressPerDayAllTenants = tt.limit })
			for i := range tt.tenants {
				cancelAndSendAs(h, fmt.Sprintf("t%d", i), "kim@x.io", 10)
			}
			if tt.name == "set" {
				cancelAndSendAs(h, "t1", "kim@x.io", 5)
			}
			late := invites.Actor{UserID: "late", TenantID: "late", Roles: admin.Roles}
			res, err := h.svc.Send(ctx, late, []invites.NewInvite{{Email: "Kim@X.io"}, {Email: "lee@x.io"}})
			if err != nil || len(res.Success) == 0 {
				t.Fatalf("Send = %+v, %v", res, err)
			}
			if !tt.refused {
				if len(res.Errors) != 0 {
					t.Fatalf("Send under the limit across tenants: %+v", res.Errors)
				}
				return
			}
			if len(res.Errors) != 1 || res.Errors[0].Code != invites.CodeAddressLimit || strings.Contains(res.Errors[0].Message, "tenant") {
				t.Fatalf("Send over the limit across tenants: errors %+v, want one %s naming no tenant", res.Errors, invites.CodeAddressLimit)
			}
			h.advance(24*time.Hour + time.Second)
			h.send(late, "kim@x.io")
		})
	}
}

// The ledger holds the address as its LedgerKey under Config.LedgerSecret,
// never as text, and keeps it through Forget.
func TestLedgerHoldsNoAddress(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, invites.MinLedgerSecret)
	h := newHarness(t, func(c *invites.Config) { c.LedgerSecret = secret })
	h.send(admin, "Sam.Smith@Example.com")
	if _, err := h.svc.Forget(ctx, admin, "sam.smith@example.com"); err != nil {
		t.Fatal(err)
	}
	dump := strings.ToLower(h.store.Dump())
	if strings.Contains(dump, "sam.smith") || strings.Contains(dump, "example.com") {
		t.Fatalf("the store still holds the erased address:\n%s", dump)
	}
	key := hex.EncodeToString(invites.LedgerKey(secret, "sam.smith@example.com"))
	if !strings.Contains(dump, "send "+key) {
		t.Fatalf("the ledger has no send of key %s:\n%s", key, dump)
	}
}

// A Config.LedgerSecret shorter than MinLedgerSecret, or a limit across
// tenants below -1, is refused.
func TestConfigLedger(t *testing.T) {
	for name, tune := range map[string]func(*invites.Config){
		"short secret":      func(c *invites.Config) { c.LedgerSecret = make([]byte, invites.MinLedgerSecret-1) },
		"all tenants below": func(c *invites.Config) { c.MaxSendsPerAddressPerDayAllTenants = -2 },
	} {
		cfg := invites.Config{AcceptURL: func(invites.Token) string { return "" }}
		tune(&cfg)
		if _, err := invites.New(memstore.New(), mailertest.New(), cfg); err == nil {
			t.Errorf("New with a %s: no error", name)
		}
	}
}
