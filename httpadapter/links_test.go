package httpadapter

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// linkAnswer is the body of a create or rotate.
type linkAnswer struct {
	Link  invites.Link `json:"link"`
	Token string       `json:"token"`
	URL   string       `json:"url"`
}

// The whole life of a link over HTTP: made, checked, joined by two users
// (the third refused, using no use), listed, rotated (the old token dead,
// the new one alive) and revoked.
func TestLinkLifecycle(t *testing.T) {
	e := newEnv(t)
	w := e.do(call{method: "POST", path: "/links", body: `{"roles":["member"],"maxUses":2,"ttlSeconds":3600,"note":"chat"}`, as: &alice})
	var made linkAnswer
	decodeJSON(t, w.Body.Bytes(), &made)
	if w.Code != 200 || made.Token == "" || made.URL != "https://app.test/join#"+made.Token || made.Link.Status != invites.LinkActive ||
		made.Link.MaxUses != 2 || made.Link.Uses != 0 || made.Link.Note != "chat" || made.Link.CreatedByUserID != alice.UserID {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("the answer with the token may be cached")
	}
	tok := `{"token":"` + made.Token + `"}`
	if w := e.do(call{method: "POST", path: "/links/check", body: tok}); strings.TrimSpace(w.Body.String()) != `{"isValid":true,"status":"active"}` {
		t.Errorf("check: %d %s", w.Code, w.Body)
	}
	for _, u := range []string{"u-one", "u-two"} {
		w := e.do(call{method: "POST", path: "/links/join", body: tok, as: &invites.Actor{UserID: u}})
		if got := strings.TrimSpace(w.Body.String()); w.Code != 200 || got != `{"joined":true,"tenantId":"acme","roles":["member"]}` {
			t.Fatalf("join %s: %d %s", u, w.Code, got)
		}
	}
	if w := e.do(call{method: "POST", path: "/links/join", body: tok, as: &invites.Actor{UserID: "u-three"}}); w.Code != 410 ||
		decodeProblem(t, w).Code != CodeLinkExhausted {
		t.Errorf("a third join: %d %s", w.Code, w.Body)
	}
	w = e.do(call{method: "GET", path: "/links/" + made.Link.ID.String() + "/uses", as: &alice})
	var uses struct{ Data []invites.LinkUse }
	decodeJSON(t, w.Body.Bytes(), &uses)
	if len(uses.Data) != 2 || uses.Data[0].UserID != "u-one" || uses.Data[1].UserID != "u-two" {
		t.Errorf("uses: %s", w.Body)
	}
	w = e.do(call{method: "GET", path: "/links?status=exhausted", as: &alice})
	var list struct{ Data []invites.Link }
	decodeJSON(t, w.Body.Bytes(), &list)
	if len(list.Data) != 1 || list.Data[0].ID != made.Link.ID || list.Data[0].Uses != 2 || list.Data[0].Status != invites.LinkExhausted {
		t.Errorf("list of exhausted links: %s", w.Body)
	}

	w = e.do(call{method: "POST", path: "/links/" + made.Link.ID.String() + "/rotate", as: &alice})
	var rotated linkAnswer
	decodeJSON(t, w.Body.Bytes(), &rotated)
	if w.Code != 200 || rotated.Token == "" || rotated.Token == made.Token || rotated.Link.ID == made.Link.ID ||
		rotated.Link.Uses != 0 || rotated.Link.MaxUses != 2 || rotated.Link.Note != "chat" {
		t.Fatalf("rotate: %d %s", w.Code, w.Body)
	}
	if w := e.do(call{method: "POST", path: "/links/check", body: tok}); strings.TrimSpace(w.Body.String()) != `{"isValid":false,"status":"revoked"}` {
		t.Errorf("check of the rotated-away link: %s", w.Body)
	}
	if w := e.do(call{method: "POST", path: "/links/join", body: `{"token":"` + rotated.Token + `"}`, as: &invites.Actor{UserID: "u-three"}}); w.Code != 200 {
		t.Errorf("join by the new link: %d %s", w.Code, w.Body)
	}
	w = e.do(call{method: "POST", path: "/links/" + rotated.Link.ID.String() + "/revoke", as: &alice})
	var revoked invites.Link
	decodeJSON(t, w.Body.Bytes(), &revoked)
	if w.Code != 200 || revoked.Status != invites.LinkRevoked || revoked.RevokedByUserID != alice.UserID || revoked.RevokedAt.IsZero() {
		t.Errorf("revoke: %d %s", w.Code, w.Body)
	}
	w = e.do(call{method: "GET", path: "/links/" + rotated.Link.ID.String() + "/events", as: &alice})
	var evs struct{ Data []map[string]any }
	decodeJSON(t, w.Body.Bytes(), &evs)
	var types []string
	for _, ev := range evs.Data {
		types = append(types, ev["type"].(string))
		if _, ok := ev["inviteId"]; ok || ev["linkId"] != rotated.Link.ID.String() {
			t.Errorf("event %v", ev)
		}
	}
	if !slices.Equal(types, []string{"link_created", "link_used", "link_revoked"}) {
		t.Errorf("events %v", types)
	}
}

// The holder of a link sees whether it can be used and the view the host
// chooses, never the link's ids, creator, note or uses; the joiner sees the
// tenant and roles it joined with, nothing more.
func TestLinkShowsItsHolderNoMore(t *testing.T) {
	e := newEnv(t)
	e.withService(func(c *invites.Config) {
		c.LinkView = func(_ context.Context, l invites.Link) (json.RawMessage, error) {
			return json.RawMessage(`{"tenantName":"Acme Inc"}`), nil
		}
	})
	c := e.link(alice, invites.LinkSpec{Roles: []string{"member"}, MaxUses: 3, TTL: envTTL, Note: "secret note"})
	tok := `{"token":"` + c.Token.Reveal() + `"}`
	for _, path := range []string{"/links/check", "/links/join"} {
		w := e.do(call{method: "POST", path: path, body: tok, as: &bob})
		body := w.Body.String()
		for _, leak := range []string{c.Link.ID.String(), alice.UserID, "secret note", `"uses"`, `"maxUses"`, c.Token.Reveal()} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %q: %s", path, leak, body)
			}
		}
		var v map[string]any
		decodeJSON(t, w.Body.Bytes(), &v)
		want := map[string][]string{"/links/check": {"isValid", "status", "view"}, "/links/join": {"joined", "roles", "tenantId"}}[path]
		if keys := slices.Sorted(maps.Keys(v)); w.Code != 200 || !slices.Equal(keys, want) {
			t.Errorf("%s: %d %s", path, w.Code, body)
		}
	}
	// Revoked, it shows only its status.
	if _, err := e.svc.RevokeLink(context.Background(), alice, c.Link.ID); err != nil {
		t.Fatal(err)
	}
	if w := e.do(call{method: "POST", path: "/links/check", body: tok}); strings.TrimSpace(w.Body.String()) != `{"isValid":false,"status":"revoked"}` {
		t.Errorf("check of a revoked link: %s", w.Body)
	}
	if w := e.do(call{method: "POST", path: "/links/check", body: strayToken}); strings.TrimSpace(w.Body.String()) != `{"isValid":false}` {
		t.Errorf("check of an unknown token: %s", w.Body)
	}
}

// Config.Joiner names the user who joins, with a verified address that a
// domain's link admits; without it the actor's address is unverified.
func TestJoinerSaysWhoJoins(t *testing.T) {
	e := newEnv(t)
	spec := invites.LinkSpec{Roles: []string{"member"}, MaxUses: 5, TTL: envTTL, AllowedDomains: []string{"x.io"}}
	c := e.link(alice, spec)
	tok := `{"token":"` + c.Token.Reveal() + `"}`
	if w := e.do(call{method: "POST", path: "/links/join", body: tok, as: &annUser}); w.Code != http.StatusForbidden {
		t.Errorf("an unverified address joined a domain's link: %d %s", w.Code, w.Body)
	}
	e.cfg.Joiner = func(r *http.Request) (invites.Joiner, error) {
		return invites.Joiner{UserID: r.Header.Get("X-Test-User"), Email: r.Header.Get("X-Test-Email"), EmailVerified: true}, nil
	}
	e.build()
	if w := e.do(call{method: "POST", path: "/links/join", body: tok, as: &annUser}); w.Code != 200 {
		t.Errorf("a verified address at x.io: %d %s", w.Code, w.Body)
	}
	other := invites.Actor{UserID: "u-eve", Email: "eve@x.io.evil.test"}
	if w := e.do(call{method: "POST", path: "/links/join", body: tok, as: &other}); w.Code != http.StatusForbidden ||
		decodeProblem(t, w).Code != CodeDomainNotAllowed {
		t.Errorf("an address at another domain: %d %s", w.Code, w.Body)
	}
	uses, err := e.svc.LinkUses(context.Background(), alice, c.Link.ID)
	if err != nil || len(uses) != 1 || uses[0].UserID != annUser.UserID {
		t.Errorf("uses %v %v: a refusal used one up", uses, err)
	}
}

// A failed join logs its cause but never the token.
func TestJoinFailureLogsNoToken(t *testing.T) {
	e := newEnv(t)
	c := e.link(alice, linkSpec)
	e.store.fail.Store(true)
	w := e.do(call{method: "POST", path: "/links/join", body: `{"token":"` + c.Token.Reveal() + `"}`, as: &bob})
	if w.Code != 500 || strings.Contains(w.Body.String(), c.Token.Reveal()) {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "POST /links/join") || strings.Contains(logs, c.Token.Reveal()) {
		t.Errorf("log: %s", logs)
	}
}

// A number that is no whole number, or beyond what the field holds, is
// refused as not a whole number, naming the field.
func TestLinkNumbersAreWhole(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`{"maxUses":1.5}`, `{"maxUses":1e30}`, `{"maxUses":1,"ttlSeconds":0.5}`, `{"maxUses":99999999999999999999}`} {
		w := e.do(call{method: "POST", path: "/links", body: body, as: &alice})
		p := decodeProblem(t, w)
		if w.Code != 400 || !strings.HasSuffix(p.Detail, " must be a whole number.") || !strings.HasPrefix(p.Detail, p.Field) {
			t.Errorf("%s: %d %+v", body, w.Code, p)
		}
	}
}
