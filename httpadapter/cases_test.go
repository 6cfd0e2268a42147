package httpadapter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/mailer/mailertest"
)

// apiCase is one request against a fresh env, and the status and problem
// code (with the field it names, for 400s) it must get. The list covers
// every route and every code; the spec test replays it to learn what the
// handler really answers.
type apiCase struct {
	name   string
	call   func(e *env) call
	status int
	code   string // "" for a success
	field  string
}

func at(e *env, format string, email string) string {
	return fmt.Sprintf(format, e.invite(alice, email).ID)
}

func sendBody(items ...string) string {
	return `{"userInvites":[` + strings.Join(items, ",") + `]}`
}

func batchOf(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"email":"u%d@x.io"}`, i)
	}
	return sendBody(items...)
}

// failing sets the store failing after c's setup ran.
func failing(c func(e *env) call) func(e *env) call {
	return func(e *env) call {
		out := c(e)
		e.store.fail.Store(true)
		return out
	}
}

// unavailable sets the store answering invites.ErrUnavailable after c's
// setup ran, with a short Config.ListTimeout for List to run into.
func unavailable(c func(e *env) call) func(e *env) call {
	return func(e *env) call {
		out := c(e)
		e.withService(func(c *invites.Config) { c.ListTimeout = 10 * time.Millisecond })
		e.store.down.Store(true)
		return out
	}
}

// withoutUpkeep rebuilds the Service on the store seen as no
// invites.UpkeepStore, after c's setup ran.
func withoutUpkeep(c func(e *env) call) func(e *env) call {
	return func(e *env) call {
		out := c(e)
		e.noUpkeep = true
		e.build()
		return out
	}
}

// deny sets a Config.Authorize that refuses op to everyone but the
// invite's creator (to everyone, for an op on no invite), after c's setup
// ran as alice.
func deny(op invites.Op, c func(e *env) call) func(e *env) call {
	return func(e *env) call {
		out := c(e)
		e.withService(func(cfg *invites.Config) {
			cfg.Authorize = func(_ context.Context, a invites.Actor, o invites.Op, inv *invites.Invite) error {
				if o == op && (inv == nil || inv.CreatedByUserID != a.UserID) {
					return fmt.Errorf("only the creator may %s", o)
				}
				return nil
			}
		})
		return out
	}
}

// members is an IsMember for whom only emails are members.
func members(emails ...string) func(context.Context, string, []string) ([]bool, error) {
	return func(_ context.Context, _ string, asked []string) ([]bool, error) {
		out := make([]bool, len(asked))
		for i, a := range asked {
			out[i] = slices.Contains(emails, a)
		}
		return out, nil
	}
}

func tokenBody(e *env, email string) string { return `{"token":"` + e.token(email) + `"}` }

// A well-formed token no invite has.
const strayToken = `{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`

var (
	bigBody   = `{"userInvites":[{"email":"a@x.io","firstName":"` + strings.Repeat("x", envMaxBody) + `"}]}`
	bigToken  = `{"token":"` + strings.Repeat("x", envMaxBody) + `"}`
	bigUpdate = `{"firstName":"` + strings.Repeat("x", envMaxBody) + `"}`
)

func apiCases() []apiCase {
	post := func(path, body string, as *invites.Actor) func(*env) call {
		return func(*env) call { return call{method: "POST", path: path, body: body, as: as} }
	}
	get := func(path string, as *invites.Actor) func(*env) call {
		return func(*env) call { return call{method: "GET", path: path, as: as} }
	}
	onInvite := func(method, format, body string, as *invites.Actor) func(*env) call {
		return func(e *env) call {
			return call{method: method, path: at(e, format, "ann@x.io"), body: body, as: as}
		}
	}
	onFinal := func(method, format, body string, st invites.Status) func(*env) call {
		return func(e *env) call {
			inv := e.final("ann@x.io", st)
			return call{method: method, path: fmt.Sprintf(format, inv.ID), body: body, as: &alice}
		}
	}
	byToken := func(path string, as *invites.Actor, prep func(e *env)) func(*env) call {
		return func(e *env) call {
			e.invite(alice, "ann@x.io")
			if prep != nil {
				prep(e)
			}
			return call{method: "POST", path: path, body: tokenBody(e, "ann@x.io"), as: as}
		}
	}
	finalToken := func(path string, st invites.Status, as *invites.Actor) func(*env) call {
		return func(e *env) call {
			e.final("ann@x.io", st)
			return call{method: "POST", path: path, body: tokenBody(e, "ann@x.io"), as: as}
		}
	}
	expire := func(e *env) { e.advance(envTTL + time.Second) }
	matchEmail := func(e *env) { e.withService(func(c *invites.Config) { c.RequireEmailMatch = true }) }
	random := "/0190d5a4-0000-7000-8000-000000000000"
	// carolAdmin is carol (who may not grant admin) asking about alice's
	// invite, which grants admin and member.
	carolAdmin := invites.Actor{UserID: carol.UserID, TenantID: carol.TenantID, Roles: []string{"member"}}

	cs := []apiCase{
		// POST /
		{"send", post("/", sendBody(`{"email":"ann@x.io","locale":"de-AT","data":{"team":"a"}}`, `{"email":"bob@x.io","roles":["member"]}`), &alice), 200, "", ""},
		{"send item errors", func(e *env) call {
			e.invite(alice, "old@x.io")
			return call{method: "POST", path: "/", as: &alice, body: sendBody(
				`{"email":"ok@x.io"}`, `{"email":"nope"}`, `{"email":"n@x.io","firstName":"a\u0007"}`,
				`{"email":"l@x.io","locale":"!!"}`, `{"email":"d@x.io","data":[1]}`, `{"email":"r@x.io","roles":[""]}`,
				`{"email":"f@x.io","roles":["owner"]}`, `{"email":"OK@x.io"}`, `{"email":"old@x.io"}`)}
		}, 200, "", ""},
		{"send as own tenant and user", post("/", `{"tenantId":"acme","createdByUserId":"u-alice","userInvites":[{"email":"a@x.io","createdByUserId":"u-alice"}]}`, &alice), 200, "", ""},
		{"send without roles", func(e *env) call {
			e.invite(carol, "first@x.io")
			return call{method: "POST", path: "/", body: sendBody(`{"email":"a@x.io"}`), as: &carol}
		}, 200, "", ""},
		{"send with charset", func(*env) call {
			return call{method: "POST", path: "/", body: sendBody(`{"email":"a@x.io"}`), ctype: "application/json; charset=utf-8", as: &alice}
		}, 200, "", ""},
		{"send no actor", post("/", sendBody(`{"email":"a@x.io"}`), nil), 401, CodeUnauthenticated, ""},
		{"send actor without tenant", post("/", sendBody(`{"email":"a@x.io"}`), &bob), 401, CodeUnauthenticated, ""},
		{"send empty roles", post("/", sendBody(`{"email":"a@x.io","roles":[]}`), &alice), 200, "", ""},
		{"send not authorized", deny(invites.OpSend, post("/", sendBody(`{"email":"a@x.io"}`), &alice)), 403, CodeForbidden, ""},
		{"send other tenant", post("/", `{"tenantId":"globex","userInvites":[{"email":"a@x.io"}]}`, &alice), 403, CodeForbidden, "tenantId"},
		{"send other user", post("/", `{"createdByUserId":"u-gus","userInvites":[{"email":"a@x.io"}]}`, &alice), 403, CodeForbidden, "createdByUserId"},
		{"send other user on item", post("/", sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","createdByUserId":"u-gus"}`), &alice), 403, CodeForbidden, "userInvites[1].createdByUserId"},
		{"send empty batch", post("/", `{"userInvites":[]}`, &alice), 400, CodeInvalidRequest, "userInvites"},
		{"send null body", post("/", `null`, &alice), 400, CodeInvalidRequest, "userInvites"},
		{"send malformed", post("/", `{"userInvites":[{"email":}]}`, &alice), 400, CodeInvalidRequest, ""},
		{"send truncated", post("/", `{"userInvites":[`, &alice), 400, CodeInvalidRequest, ""},
		{"send empty body", func(*env) call { return call{method: "POST", path: "/", ctype: "application/json", as: &alice} }, 400, CodeInvalidRequest, ""},
		{"send unknown field", post("/", `{"userInvites":[],"extra":1}`, &alice), 400, CodeInvalidRequest, "extra"},
		{"send unknown item field", post("/", sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","acceptedByUserId":null}`), &alice), 400, CodeInvalidRequest, "userInvites[1].acceptedByUserId"},
		{"send wrong type", post("/", sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io"}`, `{"email":7}`), &alice), 400, CodeInvalidRequest, "userInvites[2].email"},
		{"send wrong type in roles", post("/", sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","roles":["a",{}]}`), &alice), 400, CodeInvalidRequest, "userInvites[1].roles[1]"},
		{"send missing userInvites", post("/", `{"tenantId":"acme"}`, &alice), 400, CodeInvalidRequest, "userInvites"},
		{"send duplicate key", post("/", `{"userInvites":[{"email":"a@x.io"}],"userInvites":[{"email":"b@x.io"}]}`, &alice), 400, CodeInvalidRequest, "userInvites"},
		{"send duplicate item key", post("/", sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","email":"c@x.io"}`), &alice), 400, CodeInvalidRequest, "userInvites[1].email"},
		{"send not an object", post("/", `[]`, &alice), 400, CodeInvalidRequest, ""},
		{"send trailing data", post("/", sendBody(`{"email":"a@x.io"}`)+`{}`, &alice), 400, CodeInvalidRequest, ""},
		{"send batch too large", post("/", batchOf(envMaxBatch+1), &alice), 413, CodeBatchTooLarge, ""},
		{"send body too large", post("/", bigBody, &alice), 413, CodeBodyTooLarge, ""},
		{"send no content type", func(*env) call {
			return call{method: "POST", path: "/", body: sendBody(`{"email":"a@x.io"}`), ctype: "-", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"send form", func(*env) call {
			return call{method: "POST", path: "/", body: "email=a@x.io", ctype: "application/x-www-form-urlencoded", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"send store down", failing(post("/", sendBody(`{"email":"a@x.io"}`), &alice)), 500, CodeInternal, ""},
		{"send store unavailable", unavailable(post("/", sendBody(`{"email":"a@x.io"}`), &alice)), 503, CodeUnavailable, ""},
		{"send partly over quota", func(e *env) call {
			e.withService(func(c *invites.Config) { c.MaxPendingPerTenant = 2 })
			e.invite(alice, "old@x.io")
			return call{method: "POST", path: "/", body: sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io"}`), as: &alice}
		}, 200, "", ""},
		{"send over quota", func(e *env) call {
			e.withService(func(c *invites.Config) { c.MaxSendsPerInviterPerHour = 1 })
			e.invite(alice, "old@x.io")
			return call{method: "POST", path: "/", body: sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io"}`), as: &alice}
		}, 429, CodeRateLimited, ""},
		{"send to an address over its daily limit", func(e *env) call {
			e.withService(func(c *invites.Config) { c.MaxSendsPerAddressPerDay = 1 })
			if _, err := e.svc.Cancel(context.Background(), alice, e.invite(alice, "ann@x.io").ID); err != nil {
				e.t.Fatal(err)
			}
			return call{method: "POST", path: "/", body: sendBody(`{"email":"ann@x.io"}`), as: &alice}
		}, 200, "", ""},
		{"send to a member", func(e *env) call {
			e.withService(func(c *invites.Config) { c.IsMember = members("m@x.io") })
			return call{method: "POST", path: "/", body: sendBody(`{"email":"m@x.io"}`, `{"email":"n@x.io"}`), as: &alice}
		}, 200, "", ""},
		{"send member check down", func(e *env) call {
			e.withService(func(c *invites.Config) {
				c.IsMember = func(context.Context, string, []string) ([]bool, error) { return nil, errStoreDown }
			})
			return call{method: "POST", path: "/", body: sendBody(`{"email":"m@x.io"}`), as: &alice}
		}, 500, CodeInternal, ""},

		// GET /
		{"list", func(e *env) call {
			e.invite(alice, "a@x.io")
			e.invite(alice, "b@x.io")
			return call{method: "GET", path: "/?status=pending,accepted&order=-email&limit=1&search=x.io&createdAfter=2030-01-01T00:00:00%2B01:00&createdBefore=2031-01-01T00:00:00Z&createdByUserId=u-alice&email=", as: &alice}
		}, 200, "", ""},
		{"list by email with offset", get("/?email=A@x.io&offset=1", &alice), 200, "", ""},
		{"list no actor", get("/", nil), 401, CodeUnauthenticated, ""},
		{"list bad cursor", get("/?cursor=bm90LWEtY3Vyc29y", &alice), 400, CodeInvalidRequest, "cursor"},
		{"list cursor and offset", get("/?cursor=x&offset=2", &alice), 400, CodeInvalidRequest, "cursor"},
		{"list unknown parameter", get("/?tenantId=globex", &alice), 400, CodeInvalidRequest, "tenantId"},
		{"list repeated parameter", get("/?limit=1&limit=2", &alice), 400, CodeInvalidRequest, "limit"},
		{"list bad status", get("/?status=pending,gone", &alice), 400, CodeInvalidRequest, "status"},
		{"list bad order", get("/?order=-tenantId", &alice), 400, CodeInvalidRequest, "order"},
		{"list bad limit", get("/?limit=0", &alice), 400, CodeInvalidRequest, "limit"},
		{"list limit too big", get("/?limit=101", &alice), 400, CodeInvalidRequest, "limit"},
		{"list bad offset", get("/?offset=-1", &alice), 400, CodeInvalidRequest, "offset"},
		{"list bad time", get("/?createdAfter=2030-01-01T00:00:00+01:00", &alice), 400, CodeInvalidRequest, "createdAfter"},
		{"list malformed query", get("/?a=%zz", &alice), 400, CodeInvalidRequest, ""},
		{"list with filters", func(e *env) call {
			e.invite(alice, "a@x.io")
			return call{method: "GET", path: "/?email[iLike]=%25@x.io&status[valueIn]=pending,expired&firstName%5Blike%5D=A%5C%25&" +
				"acceptedByUserId[equalTo]=&id[notEqualTo]=0190d5a4-0000-7000-8000-000000000000&order=-lastName", as: &alice}
		}, 200, "", ""},
		{"list by locale", get("/?order=locale&locale[valueNotIn]=fr,de&lastName[notEqualTo]=&createdByUserId[valueIn]=u-alice", &alice), 200, "", ""},
		{"list unknown operator", get("/?email[contains]=x", &alice), 400, CodeInvalidRequest, "email[contains]"},
		{"list pattern on an id", get("/?createdByUserId[like]=u%25", &alice), 400, CodeInvalidRequest, "createdByUserId[like]"},
		{"list unknown filter field", get("/?tenantId[equalTo]=globex", &alice), 400, CodeInvalidRequest, "tenantId[equalTo]"},
		{"list bad id", get("/?id[valueIn]=0190d5a4-0000-7000-8000-000000000000,nope", &alice), 400, CodeInvalidRequest, "id[valueIn]"},
		{"list bad filter status", get("/?status[valueNotIn]=pending,gone", &alice), 400, CodeInvalidRequest, "status[valueNotIn]"},
		{"list empty filter status", get("/?status[equalTo]=", &alice), 400, CodeInvalidRequest, "status[equalTo]"},
		{"list lone escape", get("/?lastName[iLike]=x%5C", &alice), 400, CodeInvalidRequest, "lastName[iLike]"},
		{"list too many values", get("/?email[valueIn]="+strings.Repeat("a,", invites.MaxFilterValues)+"a", &alice), 400,
			CodeInvalidRequest, "email[valueIn]"},
		{"list too many statuses", get("/?status="+strings.Repeat("pending,", invites.MaxFilterValues)+"pending", &alice), 400,
			CodeInvalidRequest, "status"},
		{"list too many values not in", get("/?status[valueNotIn]="+strings.Repeat(",", invites.MaxFilterValues), &alice), 400,
			CodeInvalidRequest, "status[valueNotIn]"},
		{"list offset too deep", get(fmt.Sprintf("/?offset=%d", invites.MaxOffset+1), &alice), 400, CodeInvalidRequest, "offset"},
		{"list offset of max int", get("/?offset=9223372036854775807", &alice), 400, CodeInvalidRequest, "offset"},
		{"list too many parameters", get("/?"+strings.Repeat("&", len(listParams)), &alice), 400, CodeInvalidRequest, ""},
		{"list query too long", get("/?search="+strings.Repeat("a", maxQueryBytes), &alice), 400, CodeInvalidRequest, ""},
		{"list repeated filter", get("/?locale[like]=a&locale[like]=b", &alice), 400, CodeInvalidRequest, "locale[like]"},
		{"list not authorized", deny(invites.OpList, get("/", &alice)), 403, CodeForbidden, ""},
		{"list store down", failing(get("/", &alice)), 500, CodeInternal, ""},
		{"list store unavailable", unavailable(get("/", &alice)), 503, CodeUnavailable, ""},

		// GET /{id}
		{"get", onInvite("GET", "/%s", "", &alice), 200, "", ""},
		{"get failed delivery", func(e *env) call {
			e.mail.FailNext(1, mailertest.ErrPermanent)
			return call{method: "GET", path: at(e, "/%s", "ann@x.io"), as: &alice}
		}, 200, "", ""},
		{"get no actor", onInvite("GET", "/%s", "", nil), 401, CodeUnauthenticated, ""},
		{"get other tenant", onInvite("GET", "/%s", "", &gus), 404, CodeNotFound, ""},
		{"get unknown id", get(random, &alice), 404, CodeNotFound, ""},
		{"get not a uuid", get("/not-a-uuid", &alice), 404, CodeNotFound, ""},
		{"get not authorized", deny(invites.OpGet, onInvite("GET", "/%s", "", &carolAdmin)), 403, CodeForbidden, ""},
		{"get authorized creator", deny(invites.OpGet, onInvite("GET", "/%s", "", &alice)), 200, "", ""},
		{"get store down", failing(onInvite("GET", "/%s", "", &alice)), 500, CodeInternal, ""},
		{"get store unavailable", unavailable(onInvite("GET", "/%s", "", &alice)), 503, CodeUnavailable, ""},

		// PATCH /{id}
		{"update", onInvite("PATCH", "/%s", `{"firstName":"Anne","lastName":"Lee","locale":"fr","data":{"k":1},"roles":["member"]}`, &alice), 200, "", ""},
		{"update clears data", onInvite("PATCH", "/%s", `{"data":null}`, &alice), 200, "", ""},
		{"update names when final", onFinal("PATCH", "/%s", `{"firstName":"Anne"}`, invites.StatusAccepted), 200, "", ""},
		{"update bad locale", onInvite("PATCH", "/%s", `{"locale":"!!"}`, &alice), 400, CodeInvalidRequest, "locale"},
		{"update lone surrogate", onInvite("PATCH", "/%s", `{"data":{"a":"\ud800"}}`, &alice), 400, CodeInvalidRequest, "data"},
		{"update data too deep", onInvite("PATCH", "/%s", `{"data":`+strings.Repeat(`{"a":`, 33)+`1`+strings.Repeat(`}`, 33)+`}`, &alice), 400, CodeInvalidRequest, "data"},
		{"update bidi override", onInvite("PATCH", "/%s", `{"lastName":"\u202Eevil"}`, &alice), 400, CodeInvalidRequest, "lastName"},
		{"update unknown field", onInvite("PATCH", "/%s", `{"status":"accepted"}`, &alice), 400, CodeInvalidRequest, "status"},
		{"update too many roles", onInvite("PATCH", "/%s", `{"roles":[`+strings.Repeat(`"member",`, invites.MaxRoles)+`"member"]}`, &alice), 400,
			CodeInvalidRequest, "roles"},
		{"update wrong type", onInvite("PATCH", "/%s", `{"roles":"admin"}`, &alice), 400, CodeInvalidRequest, "roles"},
		{"update no actor", onInvite("PATCH", "/%s", `{}`, nil), 401, CodeUnauthenticated, ""},
		{"update forbidden role", onInvite("PATCH", "/%s", `{"roles":["owner"]}`, &alice), 403, CodeForbiddenRole, "roles"},
		{"update no roles", onInvite("PATCH", "/%s", `{"roles":[]}`, &carolAdmin), 200, "", ""},
		{"update not authorized", deny(invites.OpUpdate, onInvite("PATCH", "/%s", `{"firstName":"X"}`, &carolAdmin)), 403, CodeForbidden, ""},
		{"update other tenant", onInvite("PATCH", "/%s", `{"firstName":"X"}`, &gus), 404, CodeNotFound, ""},
		{"update roles when accepted", onFinal("PATCH", "/%s", `{"roles":["member"]}`, invites.StatusAccepted), 409, CodeNotPending, ""},
		{"update roles when expired", func(e *env) call {
			path := at(e, "/%s", "ann@x.io")
			expire(e)
			return call{method: "PATCH", path: path, body: `{"roles":["member"]}`, as: &alice}
		}, 409, CodeNotPending, ""},
		{"update body too large", onInvite("PATCH", "/%s", bigUpdate, &alice), 413, CodeBodyTooLarge, ""},
		{"update not json", func(e *env) call {
			return call{method: "PATCH", path: at(e, "/%s", "ann@x.io"), body: `{}`, ctype: "text/plain", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"update store down", failing(onInvite("PATCH", "/%s", `{}`, &alice)), 500, CodeInternal, ""},
		{"update store unavailable", unavailable(onInvite("PATCH", "/%s", `{}`, &alice)), 503, CodeUnavailable, ""},

		// POST /{id}/resend
		{"resend", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			e.advance(envCooldown)
			return call{method: "POST", path: path, as: &alice}
		}, 200, "", ""},
		{"resend no actor", onInvite("POST", "/%s/resend", "", nil), 401, CodeUnauthenticated, ""},
		{"resend other tenant", onInvite("POST", "/%s/resend", "", &gus), 404, CodeNotFound, ""},
		{"resend accepted", onFinal("POST", "/%s/resend", "", invites.StatusAccepted), 409, CodeNotPending, ""},
		{"resend blocked by a newer invite", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			expire(e)
			e.invite(alice, "ann@x.io")
			return call{method: "POST", path: path, as: &alice}
		}, 409, CodeAlreadyInvited, ""},
		{"resend too soon", onInvite("POST", "/%s/resend", "", &alice), 429, CodeResendTooSoon, ""},
		{"resend too often", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			for range envMaxResend {
				e.advance(envCooldown)
				if w := e.do(call{method: "POST", path: path, as: &alice}); w.Code != 200 {
					e.t.Fatalf("resend: %d %s", w.Code, w.Body)
				}
			}
			e.advance(envCooldown)
			return call{method: "POST", path: path, as: &alice}
		}, 429, CodeTooManyResends, ""},
		{"resend over quota", func(e *env) call {
			e.withService(func(c *invites.Config) { c.MaxSendsPerInviterPerHour = 1 })
			path := at(e, "/%s/resend", "ann@x.io")
			e.advance(envCooldown)
			return call{method: "POST", path: path, as: &alice}
		}, 429, CodeRateLimited, ""},
		{"resend a role the actor may not grant", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			return call{method: "POST", path: path, as: &carolAdmin} // and too soon: 403 comes first
		}, 403, CodeForbiddenRole, "roles"},
		{"resend not authorized", deny(invites.OpResend, onInvite("POST", "/%s/resend", "", &carolAdmin)), 403, CodeForbidden, ""},
		{"resend with {}", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			e.advance(envCooldown)
			return call{method: "POST", path: path, body: ` {} `, as: &alice}
		}, 200, "", ""},
		{"resend no content type", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			e.advance(envCooldown)
			return call{method: "POST", path: path, ctype: "-", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"resend form", func(e *env) call {
			path := at(e, "/%s/resend", "ann@x.io")
			e.advance(envCooldown)
			return call{method: "POST", path: path, body: "a=1", ctype: "application/x-www-form-urlencoded", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"resend with a field", onInvite("POST", "/%s/resend", `{"roles":["admin"]}`, &alice), 400, CodeInvalidRequest, "roles"},
		{"resend null body", onInvite("POST", "/%s/resend", `null`, &alice), 400, CodeInvalidRequest, ""},
		{"resend body too large", onInvite("POST", "/%s/resend", bigUpdate, &alice), 413, CodeBodyTooLarge, ""},
		{"resend over the address limit", func(e *env) call {
			e.withService(func(c *invites.Config) { c.MaxSendsPerAddressPerDay = 2 })
			if _, err := e.svc.Cancel(context.Background(), alice, e.invite(alice, "ann@x.io").ID); err != nil {
				e.t.Fatal(err)
			}
			path := at(e, "/%s/resend", "ann@x.io")
			e.advance(envCooldown)
			return call{method: "POST", path: path, as: &alice}
		}, 429, CodeRateLimited, ""},
		{"resend store down", failing(onInvite("POST", "/%s/resend", "", &alice)), 500, CodeInternal, ""},
		{"resend store unavailable", unavailable(onInvite("POST", "/%s/resend", "", &alice)), 503, CodeUnavailable, ""},

		// POST /{id}/cancel
		{"cancel", onInvite("POST", "/%s/cancel", "", &alice), 200, "", ""},
		{"cancel no actor", onInvite("POST", "/%s/cancel", "", nil), 401, CodeUnauthenticated, ""},
		{"cancel other tenant", onInvite("POST", "/%s/cancel", "", &gus), 404, CodeNotFound, ""},
		{"cancel accepted", onFinal("POST", "/%s/cancel", "", invites.StatusAccepted), 409, CodeNotPending, ""},
		{"cancel not authorized", deny(invites.OpCancel, onInvite("POST", "/%s/cancel", "", &carolAdmin)), 403, CodeForbidden, ""},
		{"cancel with {}", onInvite("POST", "/%s/cancel", `{}`, &alice), 200, "", ""},
		{"cancel text/plain", func(e *env) call {
			return call{method: "POST", path: at(e, "/%s/cancel", "ann@x.io"), ctype: "text/plain", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"cancel multipart form", func(e *env) call {
			return call{method: "POST", path: at(e, "/%s/cancel", "ann@x.io"), body: "--b--\r\n", ctype: "multipart/form-data; boundary=b", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"cancel not an object", onInvite("POST", "/%s/cancel", `[]`, &alice), 400, CodeInvalidRequest, ""},
		{"cancel trailing data", onInvite("POST", "/%s/cancel", `{} {}`, &alice), 400, CodeInvalidRequest, ""},
		{"cancel body too large", onInvite("POST", "/%s/cancel", bigUpdate, &alice), 413, CodeBodyTooLarge, ""},
		{"cancel store down", failing(onInvite("POST", "/%s/cancel", "", &alice)), 500, CodeInternal, ""},
		{"cancel store unavailable", unavailable(onInvite("POST", "/%s/cancel", "", &alice)), 503, CodeUnavailable, ""},

		// GET /{id}/events
		{"events of a resent, accepted invite", func(e *env) call {
			inv := e.invite(alice, "ann@x.io")
			e.advance(envCooldown)
			if _, err := e.svc.Resend(context.Background(), alice, inv.ID); err != nil {
				e.t.Fatal(err)
			}
			e.deliver()
			if _, err := e.svc.Accept(context.Background(), e.token("ann@x.io"), invites.Acceptor{UserID: bob.UserID}); err != nil {
				e.t.Fatal(err)
			}
			return call{method: "GET", path: "/" + inv.ID.String() + "/events", as: &alice}
		}, 200, "", ""},
		{"events not authorized", deny(invites.OpHistory, onInvite("GET", "/%s/events", "", &carolAdmin)), 403, CodeForbidden, ""},
		{"events of a declined invite", onFinal("GET", "/%s/events", "", invites.StatusDeclined), 200, "", ""},
		{"events of a canceled invite", onFinal("GET", "/%s/events", "", invites.StatusCanceled), 200, "", ""},
		{"events of an expired invite", func(e *env) call {
			path := at(e, "/%s/events", "ann@x.io")
			expire(e)
			if _, err := e.svc.ExpireDue(context.Background()); err != nil {
				e.t.Fatal(err)
			}
			return call{method: "GET", path: path, as: &alice}
		}, 200, "", ""},
		{"events of a failed delivery", func(e *env) call {
			e.mail.FailNext(1, mailertest.ErrPermanent)
			return call{method: "GET", path: at(e, "/%s/events", "ann@x.io"), as: &alice}
		}, 200, "", ""},
		{"events no actor", onInvite("GET", "/%s/events", "", nil), 401, CodeUnauthenticated, ""},
		{"events other tenant", onInvite("GET", "/%s/events", "", &gus), 404, CodeNotFound, ""},
		{"events unknown id", get(random+"/events", &alice), 404, CodeNotFound, ""},
		{"events store down", failing(onInvite("GET", "/%s/events", "", &alice)), 500, CodeInternal, ""},
		{"events store unavailable", unavailable(onInvite("GET", "/%s/events", "", &alice)), 503, CodeUnavailable, ""},

		// POST /check
		{"check pending", func(e *env) call {
			if _, err := e.svc.Send(context.Background(), alice, []invites.NewInvite{{Email: "ann@x.io", FirstName: "Ann", LastName: "Lee"}}); err != nil {
				e.t.Fatal(err)
			}
			e.deliver()
			return call{method: "POST", path: "/check", body: tokenBody(e, "ann@x.io")}
		}, 200, "", ""},
		{"check expired", byToken("/check", nil, expire), 200, "", ""},
		{"check accepted", finalToken("/check", invites.StatusAccepted, nil), 200, "", ""},
		{"check unknown token", post("/check", strayToken, nil), 200, "", ""},
		{"check malformed token", post("/check", `{"token":"short"}`, nil), 200, "", ""},
		{"check no token", post("/check", `{}`, nil), 400, CodeInvalidRequest, "token"},
		{"check body too large", post("/check", bigToken, nil), 413, CodeBodyTooLarge, ""},
		{"check not json", func(*env) call { return call{method: "POST", path: "/check", body: strayToken, ctype: "text/plain"} }, 415, CodeUnsupportedMediaType, ""},
		{"check store down", failing(byToken("/check", nil, nil)), 500, CodeInternal, ""},
		{"check store unavailable", unavailable(byToken("/check", nil, nil)), 503, CodeUnavailable, ""},

		// POST /lookup
		{"lookup pending", byToken("/lookup", nil, nil), 200, "", ""},
		{"lookup expired", byToken("/lookup", nil, expire), 200, "", ""},
		{"lookup accepted", finalToken("/lookup", invites.StatusAccepted, nil), 200, "", ""},
		{"lookup declined", finalToken("/lookup", invites.StatusDeclined, nil), 200, "", ""},
		{"lookup canceled", finalToken("/lookup", invites.StatusCanceled, nil), 200, "", ""},
		{"lookup unknown token", post("/lookup", strayToken, nil), 404, CodeInvalidToken, ""},
		{"lookup malformed token", post("/lookup", `{"token":"short"}`, nil), 404, CodeInvalidToken, ""},
		{"lookup no token", post("/lookup", `{}`, nil), 400, CodeInvalidRequest, "token"},
		{"lookup token in wrong field", post("/lookup", `{"tok":"x"}`, nil), 400, CodeInvalidRequest, "tok"},
		{"lookup body too large", post("/lookup", bigToken, nil), 413, CodeBodyTooLarge, ""},
		{"lookup not json", func(*env) call { return call{method: "POST", path: "/lookup", body: strayToken, ctype: "text/json"} }, 415, CodeUnsupportedMediaType, ""},
		{"lookup store down", failing(byToken("/lookup", nil, nil)), 500, CodeInternal, ""},
		{"lookup store unavailable", unavailable(byToken("/lookup", nil, nil)), 503, CodeUnavailable, ""},

		// POST /accept
		{"accept", byToken("/accept", &bob, nil), 200, "", ""},
		{"accept as a member of a tenant", byToken("/accept", &gus, nil), 200, "", ""},
		{"accept no actor", byToken("/accept", nil, nil), 401, CodeUnauthenticated, ""},
		{"accept by the invited address", byToken("/accept", &annUser, matchEmail), 200, "", ""},
		{"accept by another address", byToken("/accept", &bob, matchEmail), 403, CodeEmailMismatch, ""},
		{"accept unknown token", post("/accept", strayToken, &bob), 404, CodeInvalidToken, ""},
		{"accept declined", finalToken("/accept", invites.StatusDeclined, &bob), 409, CodeNotPending, ""},
		{"accept expired", byToken("/accept", &bob, expire), 410, CodeExpired, ""},
		{"accept wrong type", post("/accept", `{"token":43}`, &bob), 400, CodeInvalidRequest, "token"},
		{"accept body too large", post("/accept", bigToken, &bob), 413, CodeBodyTooLarge, ""},
		{"accept not json", func(*env) call { return call{method: "POST", path: "/accept", body: strayToken, ctype: "-", as: &bob} }, 415, CodeUnsupportedMediaType, ""},
		{"accept store down", failing(byToken("/accept", &bob, nil)), 500, CodeInternal, ""},
		{"accept store unavailable", unavailable(byToken("/accept", &bob, nil)), 503, CodeUnavailable, ""},

		// POST /decline
		{"decline", byToken("/decline", nil, nil), 200, "", ""},
		{"decline unknown token", post("/decline", strayToken, nil), 404, CodeInvalidToken, ""},
		{"decline canceled", finalToken("/decline", invites.StatusCanceled, nil), 409, CodeNotPending, ""},
		{"decline expired", byToken("/decline", nil, expire), 410, CodeExpired, ""},
		{"decline trailing data", post("/decline", strayToken+" 1", nil), 400, CodeInvalidRequest, ""},
		{"decline body too large", post("/decline", bigToken, nil), 413, CodeBodyTooLarge, ""},
		{"decline not json", func(*env) call {
			return call{method: "POST", path: "/decline", body: strayToken, ctype: "application/jsonx"}
		}, 415, CodeUnsupportedMediaType, ""},
		{"decline store down", failing(byToken("/decline", nil, nil)), 500, CodeInternal, ""},
		{"decline store unavailable", unavailable(byToken("/decline", nil, nil)), 503, CodeUnavailable, ""},

		// GET /openapi.yaml, and requests no route takes
		{"openapi", get("/openapi.yaml", nil), 200, "", ""},
		{"no such route", get("/a/b/c", &alice), 404, CodeNotFound, ""},
		{"unclean path", post("//lookup", strayToken, nil), 404, CodeNotFound, ""},
		{"method not allowed", func(e *env) call { return call{method: "DELETE", path: at(e, "/%s", "ann@x.io"), as: &alice} }, 405, CodeMethodNotAllowed, ""},
		{"method not allowed on the root", func(*env) call { return call{method: "DELETE", path: "/", as: &alice} }, 405, CodeMethodNotAllowed, ""},
	}
	return slices.Concat(cs, upkeepCases(), keyCases(), hostLinkCases(), linkCases())
}
