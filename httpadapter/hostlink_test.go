package httpadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
)

// hostLinkCases are the apiCases of links the host delivers (channel
// host) and of a lifetime of the invite's own (ttlSeconds).
func hostLinkCases() []apiCase {
	// hosted sends ann@x.io for the host to deliver, a cooldown ago.
	hosted := func(e *env) uuid.UUID {
		res, err := e.svc.Send(context.Background(), alice, []invites.NewInvite{{Email: "ann@x.io", Channel: invites.ChannelHost}})
		if err != nil || len(res.Success) != 1 {
			e.t.Fatalf("send: %+v, %v", res, err)
		}
		e.advance(envCooldown)
		return res.Success[0].ID
	}
	resend := func(body string) func(*env) call {
		return func(e *env) call {
			return call{method: "POST", path: fmt.Sprintf("/%s/resend", hosted(e)), body: body, as: &alice}
		}
	}
	// replayed makes c twice under one key, the first answered 200.
	replayed := func(c func(*env) call) func(*env) call {
		return func(e *env) call {
			first := c(e)
			first.key = `"k-link"`
			if w := e.do(first); w.Code != http.StatusOK {
				e.t.Fatalf("the first request under the key: %d %s", w.Code, w.Body)
			}
			return first
		}
	}
	sendHost := func(*env) call {
		return call{method: "POST", path: "/", body: sendBody(`{"email":"h@x.io","channel":"host","ttlSeconds":7200}`), as: &alice}
	}
	return []apiCase{
		{"send a link the host delivers", func(*env) call {
			return call{method: "POST", path: "/", as: &alice, body: sendBody(`{"email":"h@x.io","channel":"host","ttlSeconds":7200}`,
				`{"email":"m@x.io","channel":"email"}`, `{"email":"c@x.io","channel":"fax"}`, `{"email":"t@x.io","ttlSeconds":60}`,
				`{"email":"big@x.io","ttlSeconds":9223372036854775807}`)}
		}, 200, "", ""},
		{"send with a link replayed", replayed(sendHost), http.StatusConflict, CodeLinkNotKept, IdempotencyKeyHeader},
		{"resend a link the host delivers", resend(""), 200, "", ""},
		{"resend by email", resend(`{"channel":"email","ttlSeconds":7200}`), 200, "", ""},
		{"resend with a link replayed", replayed(resend(`{}`)), http.StatusConflict, CodeLinkNotKept, IdempotencyKeyHeader},
		{"resend ttl out of bounds", resend(`{"ttlSeconds":60}`), 400, CodeInvalidRequest, "ttlSeconds"},
		{"resend unknown channel", resend(`{"channel":"fax"}`), 400, CodeInvalidRequest, "channel"},
		{"resend ttl of a wrong type", resend(`{"ttlSeconds":"1h"}`), 400, CodeInvalidRequest, "ttlSeconds"},
	}
}

// The link is in the answer of its send and of its resend, and works; the
// handler's logs never carry it.
func TestHostLinkOverHTTP(t *testing.T) {
	e := newEnv(t)
	w := e.do(call{method: "POST", path: "/", as: &alice, body: sendBody(`{"email":"h@x.io","channel":"host","ttlSeconds":7200}`, `{"email":"m@x.io"}`)})
	var sent struct {
		Success []struct {
			ID             uuid.UUID `json:"id"`
			DeliveryStatus string    `json:"deliveryStatus"`
			ExpiresAt      time.Time `json:"expiresAt"`
		} `json:"success"`
		Links map[uuid.UUID]string `json:"links"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &sent); err != nil || w.Code != 200 || len(sent.Success) != 2 {
		t.Fatalf("send: %d %s", w.Code, w.Body)
	}
	h := sent.Success[0]
	if h.DeliveryStatus != "host" || !h.ExpiresAt.Equal(t0.Add(2*time.Hour)) || len(sent.Links) != 1 || sent.Links[h.ID] == "" {
		t.Fatalf("send answered %s, want the host's invite expiring in 2h with the one link", w.Body)
	}
	e.advance(envCooldown)
	w = e.do(call{method: "POST", path: fmt.Sprintf("/%s/resend", h.ID), as: &alice})
	var resent struct {
		ID   uuid.UUID `json:"id"`
		Link string    `json:"link"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resent); err != nil || w.Code != 200 || resent.ID != h.ID || resent.Link == "" || resent.Link == sent.Links[h.ID] {
		t.Fatalf("resend: %d %s, want a new link", w.Code, w.Body)
	}
	tok := strings.TrimPrefix(resent.Link, "https://app.test/accept#")
	if w := e.do(call{method: "POST", path: "/accept", body: `{"token":"` + tok + `"}`, as: &bob}); w.Code != 200 {
		t.Fatalf("accept with the resent link: %d %s", w.Code, w.Body)
	}
	old := strings.TrimPrefix(sent.Links[h.ID], "https://app.test/accept#")
	if w := e.do(call{method: "POST", path: "/lookup", body: `{"token":"` + old + `"}`}); w.Code != http.StatusNotFound {
		t.Fatalf("lookup of the first link after the resend: %d %s, want 404", w.Code, w.Body)
	}
	for _, secret := range []string{old, tok} {
		if strings.Contains(e.logs.String(), secret) {
			t.Fatalf("a link's token is in the handler's logs: %s", e.logs.String())
		}
	}
}
