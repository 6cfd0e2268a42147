package invites_test

import (
	"encoding/json"
	"testing"

	"github.com/invitekit/invites"
)

func TestInviteJSON(t *testing.T) {
	h := newHarness(t)
	inv, tok := h.invite(admin, "json@example.com")
	fields := func(v any) map[string]any {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := fields(h.get(admin, inv))
	for _, k := range []string{"id", "tenantId", "email", "firstName", "lastName", "locale", "data", "roles", "status",
		"statusUpdatedAt", "createdByUserId", "acceptedByUserId", "expiresAt", "sendCount", "lastSentAt",
		"deliveryStatus", "createdAt", "updatedAt"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, m)
		}
	}
	if m["acceptedByUserId"] != nil || m["status"] != "pending" {
		t.Errorf("pending invite JSON: acceptedByUserId %v, status %v", m["acceptedByUserId"], m["status"])
	}
	acc, err := h.svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-j"})
	if err != nil {
		t.Fatal(err)
	}
	if m := fields(acc); m["acceptedByUserId"] != "u-j" {
		t.Errorf("accepted invite JSON: acceptedByUserId %v", m["acceptedByUserId"])
	}
	var back invites.Invite
	b, _ := json.Marshal(acc)
	if err := json.Unmarshal(b, &back); err != nil || back.AcceptedByUserID != "u-j" || back.ID != acc.ID {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}
