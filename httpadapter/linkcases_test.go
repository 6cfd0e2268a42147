package httpadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/invitekit/invites"
)

// linkSpec is the link the link cases make unless they say otherwise: two
// uses, an hour, roles alice may grant.
var linkSpec = invites.LinkSpec{Roles: []string{"member"}, MaxUses: 2, TTL: envTTL}

// link makes a link of spec as a, failing the test if it cannot.
func (e *env) link(a invites.Actor, spec invites.LinkSpec) invites.CreatedLink {
	e.t.Helper()
	c, err := e.svc.CreateLink(context.Background(), a, spec)
	if err != nil {
		e.t.Fatalf("create link: %v", err)
	}
	return c
}

// joinAs joins the link of c as user u, failing the test if it cannot.
func (e *env) joinAs(c invites.CreatedLink, u string) {
	e.t.Helper()
	if _, err := e.svc.JoinByLink(context.Background(), c.Token.Reveal(), invites.Joiner{UserID: u}); err != nil {
		e.t.Fatalf("join %s: %v", u, err)
	}
}

// linkCases are the apiCases of the link routes.
func linkCases() []apiCase {
	post := func(path, body string, as *invites.Actor) func(*env) call {
		return func(*env) call { return call{method: "POST", path: path, body: body, as: as} }
	}
	get := func(path string, as *invites.Actor) func(*env) call {
		return func(*env) call { return call{method: "GET", path: path, as: as} }
	}
	// onLink makes linkSpec's link as alice, prep's changes, then asks
	// method format (with the link's id) as as.
	onLink := func(method, format, body string, as *invites.Actor, prep func(*env, invites.CreatedLink)) func(*env) call {
		return func(e *env) call {
			c := e.link(alice, linkSpec)
			if prep != nil {
				prep(e, c)
			}
			return call{method: method, path: fmt.Sprintf(format, c.Link.ID), body: body, as: as}
		}
	}
	revoked := func(e *env, c invites.CreatedLink) {
		if _, err := e.svc.RevokeLink(context.Background(), alice, c.Link.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	used := func(e *env, c invites.CreatedLink) { e.joinAs(c, "u-first") }
	expire := func(e *env, _ invites.CreatedLink) { e.advance(envTTL) }
	// byToken makes the link of spec as alice, prep's changes, then posts
	// its token to path as as.
	byToken := func(path string, spec invites.LinkSpec, as *invites.Actor, prep func(*env, invites.CreatedLink)) func(*env) call {
		return func(e *env) call {
			c := e.link(alice, spec)
			if prep != nil {
				prep(e, c)
			}
			return call{method: "POST", path: path, body: `{"token":"` + c.Token.Reveal() + `"}`, as: as}
		}
	}
	join := func(spec invites.LinkSpec, as *invites.Actor, prep func(*env, invites.CreatedLink)) func(*env) call {
		return byToken("/links/join", spec, as, prep)
	}
	oneUse := invites.LinkSpec{Roles: []string{"member"}, MaxUses: 1, TTL: envTTL}
	atXio := invites.LinkSpec{Roles: []string{"member"}, MaxUses: 2, TTL: envTTL, AllowedDomains: []string{"x.io"}}
	// verified answers the join as ann, whose address x.io verified.
	verified := func(e *env, _ invites.CreatedLink) {
		e.cfg.Joiner = func(*http.Request) (invites.Joiner, error) {
			return invites.Joiner{UserID: "u-ann", Email: "ann@x.io", EmailVerified: true}, nil
		}
		e.build()
	}
	// carolAdmin holds member only; linkSpec grants member, an admin link
	// admin.
	carolAdmin := invites.Actor{UserID: carol.UserID, TenantID: carol.TenantID, Roles: []string{"member"}}
	adminLink := invites.LinkSpec{Roles: []string{"admin"}, MaxUses: 2, TTL: envTTL}
	onAdminLink := func(method, format string, as *invites.Actor) func(*env) call {
		return func(e *env) call {
			c := e.link(alice, adminLink)
			return call{method: method, path: fmt.Sprintf(format, c.Link.ID), as: as}
		}
	}
	// bare asks c of a Service whose store is no invites.LinkStore.
	bare := func(c func(*env) call) func(*env) call {
		return func(e *env) call {
			e.noLinks = true
			e.build()
			return c(e)
		}
	}
	random := "/links/0190d5a4-0000-7000-8000-000000000000"
	bigLink := `{"maxUses":1,"note":"` + strings.Repeat("x", envMaxBody) + `"}`
	return []apiCase{
		// POST /links
		{"create link", post("/links", `{"roles":["member"],"maxUses":5,"ttlSeconds":3600,"allowedDomains":["X.io","bücher.de"],"note":"team chat"}`, &alice), 200, "", ""},
		{"create link until a time", post("/links", `{"maxUses":1,"expiresAt":"2030-01-02T05:00:00+01:00"}`, &alice), 200, "", ""},
		{"create link of a fraction of uses", post("/links", `{"maxUses":1.5}`, &alice), 400, CodeInvalidRequest, "maxUses"},
		{"create link with no uses", post("/links", `{"maxUses":0}`, &alice), 400, CodeInvalidRequest, "maxUses"},
		{"create link at the zero time", post("/links", `{"maxUses":1,"expiresAt":"0001-01-01T00:00:00Z"}`, &alice), 400, CodeInvalidRequest, "expiresAt"},
		{"create link with a bad time", post("/links", `{"maxUses":1,"expiresAt":"tomorrow"}`, &alice), 400, CodeInvalidRequest, "expiresAt"},
		{"create link with time and ttl", post("/links", `{"maxUses":1,"expiresAt":"2030-01-02T05:00:00Z","ttlSeconds":60}`, &alice), 400, CodeInvalidRequest, "expiresAt"},
		{"create link ttl out of bounds", post("/links", `{"maxUses":1,"ttlSeconds":9223372036854775807}`, &alice), 400, CodeInvalidRequest, "ttlSeconds"},
		{"create link bad domain", post("/links", `{"maxUses":1,"allowedDomains":["x.io","not a domain"]}`, &alice), 400, CodeInvalidRequest, "allowedDomains[1]"},
		{"create link long domain", post("/links", `{"maxUses":1,"allowedDomains":["`+strings.Repeat("a", 254)+`"]}`, &alice), 400, CodeInvalidRequest, "allowedDomains[0]"},
		{"create link unknown field", post("/links", `{"maxUses":1,"uses":3}`, &alice), 400, CodeInvalidRequest, "uses"},
		{"create link no actor", post("/links", `{"maxUses":1}`, nil), 401, CodeUnauthenticated, ""},
		{"create link forbidden role", post("/links", `{"maxUses":1,"roles":["admin"]}`, &carolAdmin), 403, CodeForbiddenRole, "roles"},
		{"create link not authorized", deny(invites.OpCreateLink, post("/links", `{"maxUses":1}`, &alice)), 403, CodeForbidden, ""},
		{"create link body too large", post("/links", bigLink, &alice), 413, CodeBodyTooLarge, ""},
		{"create link not json", func(*env) call {
			return call{method: "POST", path: "/links", body: `{"maxUses":1}`, ctype: "text/plain", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"create link over the active links", func(e *env) call {
			e.withService(func(c *invites.Config) { c.MaxActiveLinks = 1 })
			e.link(alice, linkSpec)
			return call{method: "POST", path: "/links", body: `{"maxUses":1}`, as: &alice}
		}, 429, CodeRateLimited, ""},
		{"create link store down", failing(post("/links", `{"maxUses":1}`, &alice)), 500, CodeInternal, ""},
		{"create link store unavailable", unavailable(post("/links", `{"maxUses":1}`, &alice)), 503, CodeUnavailable, ""},

		// GET /links
		{"list links", func(e *env) call {
			e.link(alice, linkSpec)
			e.link(alice, linkSpec)
			return call{method: "GET", path: "/links?status=active,expired&createdByUserId=u-alice&limit=1", as: &alice}
		}, 200, "", ""},
		{"list links of every status", func(e *env) call {
			revoked(e, e.link(alice, linkSpec))
			used(e, e.link(alice, oneUse))
			e.link(alice, invites.LinkSpec{MaxUses: 1, TTL: envTTL / 2})
			e.advance(envTTL / 2)
			e.link(alice, linkSpec)
			return call{method: "GET", path: "/links?status=", as: &alice}
		}, 200, "", ""},
		{"list links unknown parameter", get("/links?order=note", &alice), 400, CodeInvalidRequest, "order"},
		{"list links unknown status", get("/links?status=active,gone", &alice), 400, CodeInvalidRequest, "status"},
		{"list links bad limit", get("/links?limit=0", &alice), 400, CodeInvalidRequest, "limit"},
		{"list links bad cursor", get("/links?cursor=zz", &alice), 400, CodeInvalidRequest, "cursor"},
		{"list links no actor", get("/links", nil), 401, CodeUnauthenticated, ""},
		{"list links not authorized", deny(invites.OpListLinks, get("/links", &alice)), 403, CodeForbidden, ""},
		{"list links store down", failing(get("/links", &alice)), 500, CodeInternal, ""},
		{"list links store unavailable", unavailable(get("/links", &alice)), 503, CodeUnavailable, ""},

		// GET /links/{id}
		{"get link", onLink("GET", "/links/%s", "", &alice, nil), 200, "", ""},
		{"get revoked link", onLink("GET", "/links/%s", "", &alice, revoked), 200, "", ""},
		{"get link no actor", onLink("GET", "/links/%s", "", nil, nil), 401, CodeUnauthenticated, ""},
		{"get link other tenant", onLink("GET", "/links/%s", "", &gus, nil), 404, CodeNotFound, ""},
		{"get link not a uuid", get("/links/not-a-uuid", &alice), 404, CodeNotFound, ""},
		{"get link not authorized", deny(invites.OpGetLink, onLink("GET", "/links/%s", "", &alice, nil)), 403, CodeForbidden, ""},
		{"get link store down", failing(onLink("GET", "/links/%s", "", &alice, nil)), 500, CodeInternal, ""},
		{"get link store unavailable", unavailable(onLink("GET", "/links/%s", "", &alice, nil)), 503, CodeUnavailable, ""},

		// POST /links/{id}/revoke
		{"revoke link", onLink("POST", "/links/%s/revoke", "", &alice, nil), 200, "", ""},
		{"revoke link with {}", onLink("POST", "/links/%s/revoke", "{}", &alice, nil), 200, "", ""},
		{"revoke link twice", onLink("POST", "/links/%s/revoke", "", &alice, revoked), 410, CodeLinkRevoked, ""},
		{"revoke link with a field", onLink("POST", "/links/%s/revoke", `{"reason":"x"}`, &alice, nil), 400, CodeInvalidRequest, "reason"},
		{"revoke link no actor", onLink("POST", "/links/%s/revoke", "", nil, nil), 401, CodeUnauthenticated, ""},
		{"revoke link other tenant", onLink("POST", "/links/%s/revoke", "", &gus, nil), 404, CodeNotFound, ""},
		{"revoke unknown link", post(random+"/revoke", "", &alice), 404, CodeNotFound, ""},
		{"revoke link not authorized", deny(invites.OpRevokeLink, onLink("POST", "/links/%s/revoke", "", &alice, nil)), 403, CodeForbidden, ""},
		{"revoke link body too large", onLink("POST", "/links/%s/revoke", bigLink, &alice, nil), 413, CodeBodyTooLarge, ""},
		{"revoke link not json", func(e *env) call {
			return call{method: "POST", path: fmt.Sprintf("/links/%s/revoke", e.link(alice, linkSpec).Link.ID), ctype: "-", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"revoke link store down", failing(onLink("POST", "/links/%s/revoke", "", &alice, nil)), 500, CodeInternal, ""},
		{"revoke link store unavailable", unavailable(onLink("POST", "/links/%s/revoke", "", &alice, nil)), 503, CodeUnavailable, ""},

		// POST /links/{id}/rotate
		{"rotate link", onLink("POST", "/links/%s/rotate", "", &alice, nil), 200, "", ""},
		{"rotate used link", onLink("POST", "/links/%s/rotate", "", &alice, used), 200, "", ""},
		{"rotate revoked link", onLink("POST", "/links/%s/rotate", "", &alice, revoked), 410, CodeLinkRevoked, ""},
		{"rotate link with a field", onLink("POST", "/links/%s/rotate", `{"maxUses":3}`, &alice, nil), 400, CodeInvalidRequest, "maxUses"},
		{"rotate link no actor", onLink("POST", "/links/%s/rotate", "", nil, nil), 401, CodeUnauthenticated, ""},
		{"rotate link other tenant", onLink("POST", "/links/%s/rotate", "", &gus, nil), 404, CodeNotFound, ""},
		{"rotate link forbidden role", onAdminLink("POST", "/links/%s/rotate", &carolAdmin), 403, CodeForbiddenRole, "roles"},
		{"rotate link not authorized", deny(invites.OpRotateLink, onLink("POST", "/links/%s/rotate", "", &alice, nil)), 403, CodeForbidden, ""},
		{"rotate link body too large", onLink("POST", "/links/%s/rotate", bigLink, &alice, nil), 413, CodeBodyTooLarge, ""},
		{"rotate link not json", func(e *env) call {
			return call{method: "POST", path: fmt.Sprintf("/links/%s/rotate", e.link(alice, linkSpec).Link.ID), ctype: "text/plain", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"rotate link over the active links", func(e *env) call {
			c := e.link(alice, linkSpec)
			e.withService(func(c *invites.Config) { c.MaxActiveLinks = 1 })
			return call{method: "POST", path: fmt.Sprintf("/links/%s/rotate", c.Link.ID), as: &alice}
		}, 200, "", ""},
		{"rotate link store down", failing(onLink("POST", "/links/%s/rotate", "", &alice, nil)), 500, CodeInternal, ""},
		{"rotate link store unavailable", unavailable(onLink("POST", "/links/%s/rotate", "", &alice, nil)), 503, CodeUnavailable, ""},

		// GET /links/{id}/uses
		{"link uses", onLink("GET", "/links/%s/uses", "", &alice, used), 200, "", ""},
		{"link uses none", onLink("GET", "/links/%s/uses", "", &alice, nil), 200, "", ""},
		{"link uses no actor", onLink("GET", "/links/%s/uses", "", nil, nil), 401, CodeUnauthenticated, ""},
		{"link uses other tenant", onLink("GET", "/links/%s/uses", "", &gus, nil), 404, CodeNotFound, ""},
		{"link uses not authorized", deny(invites.OpLinkUses, onLink("GET", "/links/%s/uses", "", &alice, nil)), 403, CodeForbidden, ""},
		{"link uses store down", failing(onLink("GET", "/links/%s/uses", "", &alice, nil)), 500, CodeInternal, ""},
		{"link uses store unavailable", unavailable(onLink("GET", "/links/%s/uses", "", &alice, nil)), 503, CodeUnavailable, ""},

		// GET /links/{id}/events
		{"link events", onLink("GET", "/links/%s/events", "", &alice, func(e *env, c invites.CreatedLink) { used(e, c); revoked(e, c) }), 200, "", ""},
		{"link events no actor", onLink("GET", "/links/%s/events", "", nil, nil), 401, CodeUnauthenticated, ""},
		{"link events other tenant", onLink("GET", "/links/%s/events", "", &gus, nil), 404, CodeNotFound, ""},
		{"link events unknown link", get(random+"/events", &alice), 404, CodeNotFound, ""},
		{"link events not authorized", deny(invites.OpLinkHistory, onLink("GET", "/links/%s/events", "", &alice, nil)), 403, CodeForbidden, ""},
		{"link events store down", failing(onLink("GET", "/links/%s/events", "", &alice, nil)), 500, CodeInternal, ""},
		{"link events store unavailable", unavailable(onLink("GET", "/links/%s/events", "", &alice, nil)), 503, CodeUnavailable, ""},

		// POST /links/revoke
		{"revoke links by creator", func(e *env) call {
			e.link(carolAdmin, linkSpec)
			e.link(carolAdmin, linkSpec)
			e.link(alice, linkSpec)
			return call{method: "POST", path: "/links/revoke", body: `{"createdByUserId":"u-carol"}`, as: &alice}
		}, 200, "", ""},
		{"revoke links by creator of none", post("/links/revoke", `{"createdByUserId":"u-nobody"}`, &alice), 200, "", ""},
		{"revoke links by no creator", post("/links/revoke", `{}`, &alice), 400, CodeInvalidRequest, "createdByUserId"},
		{"revoke links unknown field", post("/links/revoke", `{"createdBy":"u-carol"}`, &alice), 400, CodeInvalidRequest, "createdBy"},
		{"revoke links no actor", post("/links/revoke", `{"createdByUserId":"u-carol"}`, nil), 401, CodeUnauthenticated, ""},
		{"revoke links not authorized", deny(invites.OpRevokeLinksBy, post("/links/revoke", `{"createdByUserId":"u-carol"}`, &alice)), 403, CodeForbidden, ""},
		{"revoke links body too large", post("/links/revoke", bigLink, &alice), 413, CodeBodyTooLarge, ""},
		{"revoke links not json", func(*env) call {
			return call{method: "POST", path: "/links/revoke", body: `{"createdByUserId":"u-carol"}`, ctype: "-", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"revoke links store down", failing(post("/links/revoke", `{"createdByUserId":"u-carol"}`, &alice)), 500, CodeInternal, ""},
		{"revoke links store unavailable", unavailable(post("/links/revoke", `{"createdByUserId":"u-carol"}`, &alice)), 503, CodeUnavailable, ""},

		// POST /links/check
		{"check link", func(e *env) call {
			e.withService(func(c *invites.Config) {
				c.LinkView = func(context.Context, invites.Link) (json.RawMessage, error) {
					return json.RawMessage(`{"tenantName":"Acme"}`), nil
				}
			})
			return byToken("/links/check", linkSpec, nil, nil)(e)
		}, 200, "", ""},
		{"check expired link", byToken("/links/check", linkSpec, nil, expire), 200, "", ""},
		{"check revoked link", byToken("/links/check", linkSpec, nil, revoked), 200, "", ""},
		{"check exhausted link", byToken("/links/check", oneUse, nil, used), 200, "", ""},
		{"check unknown link", post("/links/check", strayToken, nil), 200, "", ""},
		{"check link no token", post("/links/check", `{}`, nil), 400, CodeInvalidRequest, "token"},
		{"check link body too large", post("/links/check", bigToken, nil), 413, CodeBodyTooLarge, ""},
		{"check link not json", func(*env) call {
			return call{method: "POST", path: "/links/check", body: strayToken, ctype: "text/plain"}
		}, 415, CodeUnsupportedMediaType, ""},
		{"check link store down", failing(byToken("/links/check", linkSpec, nil, nil)), 500, CodeInternal, ""},
		{"check link store unavailable", unavailable(byToken("/links/check", linkSpec, nil, nil)), 503, CodeUnavailable, ""},

		// POST /links/join
		{"join", join(linkSpec, &bob, nil), 200, "", ""},
		{"join a domain's link verified", join(atXio, nil, verified), 200, "", ""},
		{"join a domain's link unverified", join(atXio, &annUser, nil), 403, CodeDomainNotAllowed, ""},
		{"join no user", join(linkSpec, nil, nil), 401, CodeUnauthenticated, ""},
		{"join the host knows no user", join(linkSpec, &bob, func(e *env, _ invites.CreatedLink) {
			e.cfg.Joiner = func(*http.Request) (invites.Joiner, error) { return invites.Joiner{}, fmt.Errorf("no session") }
			e.build()
		}), 401, CodeUnauthenticated, ""},
		{"join unknown link", post("/links/join", strayToken, &bob), 404, CodeInvalidToken, ""},
		{"join twice", join(linkSpec, &bob, func(e *env, c invites.CreatedLink) { e.joinAs(c, bob.UserID) }), 409, CodeAlreadyJoined, ""},
		{"join a member", join(linkSpec, &annUser, func(e *env, c invites.CreatedLink) {
			e.withService(func(c *invites.Config) { c.IsMember = members("ann@x.io") })
			verified(e, c)
		}), 409, CodeAlreadyMember, ""},
		{"join revoked", join(linkSpec, &bob, revoked), 410, CodeLinkRevoked, ""},
		{"join exhausted", join(oneUse, &bob, used), 410, CodeLinkExhausted, ""},
		{"join expired", join(linkSpec, &bob, expire), 410, CodeLinkExpired, ""},
		{"join too often", join(linkSpec, &bob, func(e *env, c invites.CreatedLink) {
			e.withService(func(c *invites.Config) { c.LinkUsesPerMinute = 1 })
			e.joinAs(c, "u-first")
		}), 429, CodeLinkRateLimited, ""},
		{"join no token", post("/links/join", `{}`, &bob), 400, CodeInvalidRequest, "token"},
		{"join body too large", post("/links/join", bigToken, &bob), 413, CodeBodyTooLarge, ""},
		{"join not json", func(*env) call {
			return call{method: "POST", path: "/links/join", body: strayToken, ctype: "application/x-www-form-urlencoded", as: &bob}
		}, 415, CodeUnsupportedMediaType, ""},
		{"join store down", failing(join(linkSpec, &bob, nil)), 500, CodeInternal, ""},
		{"join store unavailable", unavailable(join(linkSpec, &bob, nil)), 503, CodeUnavailable, ""},

		// Every link route of a store that keeps no links.
		{"create link store without links", bare(post("/links", `{"maxUses":1}`, &alice)), 501, CodeUnsupported, ""},
		{"list links store without links", bare(get("/links", &alice)), 501, CodeUnsupported, ""},
		{"get link store without links", bare(get(random, &alice)), 501, CodeUnsupported, ""},
		{"revoke link store without links", bare(post(random+"/revoke", "", &alice)), 501, CodeUnsupported, ""},
		{"rotate link store without links", bare(post(random+"/rotate", "", &alice)), 501, CodeUnsupported, ""},
		{"link uses store without links", bare(get(random+"/uses", &alice)), 501, CodeUnsupported, ""},
		{"link events store without links", bare(get(random+"/events", &alice)), 501, CodeUnsupported, ""},
		{"revoke links by creator store without links", bare(post("/links/revoke", `{"createdByUserId":"u-carol"}`, &alice)), 501, CodeUnsupported, ""},
		{"check link store without links", bare(post("/links/check", strayToken, nil)), 501, CodeUnsupported, ""},
		{"join store without links", bare(post("/links/join", strayToken, &bob)), 501, CodeUnsupported, ""},

		{"links method not allowed", func(*env) call { return call{method: "DELETE", path: "/links", as: &alice} }, 405, CodeMethodNotAllowed, ""},
		{"links no such route", get("/links/a/b/c", &alice), 404, CodeNotFound, ""},
	}
}
