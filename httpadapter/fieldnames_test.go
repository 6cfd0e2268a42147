package httpadapter

import (
	"fmt"
	"testing"
)

// caseCases send each body of the API with a member whose name matches a
// field only when case is ignored, which encoding/json would take, and
// the same bodies spelled right.
func caseCases() []apiCase {
	post := func(path, body string) func(*env) call {
		return func(*env) call { return call{method: "POST", path: path, body: body, as: &alice} }
	}
	onInvite := func(method, format, body string) func(*env) call {
		return func(e *env) call {
			return call{method: method, path: at(e, format, "ann@x.io"), body: body, as: &alice}
		}
	}
	byToken := func(path, format string) func(*env) call {
		return func(e *env) call {
			e.invite(alice, "ann@x.io")
			return call{method: "POST", path: path, body: fmt.Sprintf(format, e.token("ann@x.io")), as: &annUser}
		}
	}
	cs := []apiCase{
		{"send item Email", post("/", sendBody(`{"Email":"a@x.io"}`)), 400, CodeInvalidRequest, "userInvites[0].Email"},
		{"send second item FIRSTNAME", post("/", sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","FIRSTNAME":"B"}`)), 400, CodeInvalidRequest, "userInvites[1].FIRSTNAME"},
		{"send item roles with a long s", post("/", sendBody(`{"email":"a@x.io","locale":"en","data":{},"lastName":"x","firstName":"y","createdByUserId":"u-alice","roleſ":[]}`)), 400, CodeInvalidRequest, "userInvites[0].roleſ"},
		{"send UserInvites", post("/", `{"UserInvites":[{"email":"a@x.io"}]}`), 400, CodeInvalidRequest, "UserInvites"},
		{"send tenantID", post("/", `{"tenantID":"acme","userInvites":[{"email":"a@x.io"}]}`), 400, CodeInvalidRequest, "tenantID"},
		{"send spelled right, data keys free", post("/", sendBody(`{"email":"a@x.io","data":{"Email":"x","TEAM":{"Roles":1}}}`)), 200, "", ""},
		{"update FirstName", onInvite("PATCH", "/%s", `{"FirstName":"Ann"}`), 400, CodeInvalidRequest, "FirstName"},
		{"update Roles after a right one", onInvite("PATCH", "/%s", `{"lastName":"Lee","Roles":["member"]}`), 400, CodeInvalidRequest, "Roles"},
		{"update spelled right", onInvite("PATCH", "/%s", `{"firstName":"Ann","data":{"A":1}}`), 200, "", ""},
		{"resend {} with a member", onInvite("POST", "/%s/resend", `{"Token":"x"}`), 400, CodeInvalidRequest, "Token"},
		{"cancel {}", onInvite("POST", "/%s/cancel", `{}`), 200, "", ""},
		{"lookup Token", byToken("/lookup", `{"Token":%q}`), 400, CodeInvalidRequest, "Token"},
		{"check TOKEN", byToken("/check", `{"TOKEN":%q}`), 400, CodeInvalidRequest, "TOKEN"},
		{"accept Token", byToken("/accept", `{"Token":%q}`), 400, CodeInvalidRequest, "Token"},
		{"decline tOKEN", byToken("/decline", `{"tOKEN":%q}`), 400, CodeInvalidRequest, "tOKEN"},
		{"decline token", byToken("/decline", `{"token":%q}`), 200, "", ""},
		{"create link MaxUses", post("/links", `{"MaxUses":1}`), 400, CodeInvalidRequest, "MaxUses"},
		{"create link allowedDomainS", post("/links", `{"maxUses":1,"allowedDomainS":["x.io"]}`), 400, CodeInvalidRequest, "allowedDomainS"},
		{"create link spelled right", post("/links", `{"maxUses":1,"ttlSeconds":60,"roles":["member"],"note":"n","allowedDomains":["x.io"]}`), 200, "", ""},
		{"revoke links CreatedByUserId", post("/links/revoke", `{"CreatedByUserId":"u-carol"}`), 400, CodeInvalidRequest, "CreatedByUserId"},
		{"check link Token", post("/links/check", `{"Token":"x"}`), 400, CodeInvalidRequest, "Token"},
		{"join TOKEN", post("/links/join", `{"TOKEN":"x"}`), 400, CodeInvalidRequest, "TOKEN"},
	}
	return cs
}

// TestFieldNamesAreCaseSensitive: a member spelled with other case is a
// 400 naming it and the field's spelling, where encoding/json alone
// would take it.
func TestFieldNamesAreCaseSensitive(t *testing.T) {
	for _, c := range caseCases() {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(c.call(e))
			if w.Code != c.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, c.status, w.Body)
			}
			if c.code == "" {
				return
			}
			p := decodeProblem(t, w)
			if p.Code != c.code || p.Field != c.field {
				t.Errorf("problem %+v, want code %s, field %q", p, c.code, c.field)
			}
			if want := c.field + " is not a known field"; len(p.Detail) < len(want) || p.Detail[:len(want)] != want {
				t.Errorf("detail %q does not start %q", p.Detail, want)
			}
		})
	}
}
