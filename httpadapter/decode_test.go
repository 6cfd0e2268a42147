package httpadapter

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// Every route that reads a body refuses a member given twice, at the top
// and in nested objects, naming it by its path; data's members are the
// Service's to refuse (an item error of a send).
func TestDuplicateKeysRefusedOnEveryRoute(t *testing.T) {
	const id = "0190d5a4-0000-7000-8000-000000000000"
	cases := []struct{ route, path, body, field string }{
		{"POST /{$}", "/", `{"tenantId":"acme","tenantId":"acme","userInvites":[{"email":"a@x.io"}]}`, "tenantId"},
		{"POST /{$}", "/", `{"userInvites":[{"email":"a@x.io"},{"email":"b@x.io","locale":"de","locale":"fr"}]}`, "userInvites[1].locale"},
		{"PATCH /{id}", "/" + id, `{"firstName":"A","firstName":"B"}`, "firstName"},
		{"POST /{id}/resend", "/" + id + "/resend", `{"a":1,"a":1}`, "a"},
		{"POST /{id}/cancel", "/" + id + "/cancel", `{"a":1,"a":1}`, "a"},
		{"POST /lookup", "/lookup", `{"token":"a","token":"b"}`, "token"},
		{"POST /check", "/check", `{"token":"a","token":"b"}`, "token"},
		{"POST /accept", "/accept", `{"token":"a","token":"b"}`, "token"},
		{"POST /decline", "/decline", `{"token":"a","token":"b"}`, "token"},
		{"POST /forget", "/forget", `{"email":"a@x.io","email":"b@x.io"}`, "email"},
		{"POST /unsuppress", "/unsuppress", `{"email":"a@x.io","email":"b@x.io"}`, "email"},
		{"POST /links", "/links", `{"maxUses":1,"allowedDomains":["x.io"],"maxUses":2}`, "maxUses"},
		{"POST /links/{id}/revoke", "/links/" + id + "/revoke", `{"a":1,"a":1}`, "a"},
		{"POST /links/{id}/rotate", "/links/" + id + "/rotate", `{"a":1,"a":1}`, "a"},
		{"POST /links/revoke", "/links/revoke", `{"createdByUserId":"a","createdByUserId":"b"}`, "createdByUserId"},
		{"POST /links/check", "/links/check", `{"token":"a","token":"b"}`, "token"},
		{"POST /links/join", "/links/join", `{"token":"a","token":"b"}`, "token"},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
		e := newEnv(t)
		method, _, _ := strings.Cut(c.route, " ")
		w := e.do(call{method: method, path: c.path, body: c.body, as: &alice})
		p := decodeProblem(t, w)
		if w.Code != 400 || p.Code != CodeInvalidRequest || p.Field != c.field || p.Detail != c.field+" is given more than once." {
			t.Errorf("%s %s: %d %+v, want 400 naming %s", c.route, c.body, w.Code, p, c.field)
		}
	}
	for _, route := range slices.Sorted(maps.Keys(requestTypes)) {
		if !covered[route] {
			t.Errorf("%s reads a body but has no case here", route)
		}
	}
}

// A refusal by encoding/json names the field by its whole path, the
// items' indexes included, and a send without userInvites says it is
// required.
func TestDecodeNamesTheFieldsPath(t *testing.T) {
	for _, c := range []struct{ body, field, detail string }{
		{sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io"}`, `{"email":"c@x.io","firstName":7}`), "userInvites[2].firstName", "userInvites[2].firstName must be a string."},
		{sendBody(`{"email":"a@x.io","roles":["a",["b"]]}`), "userInvites[0].roles[1]", "userInvites[0].roles[1] must be a string."},
		{sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","Locale":"de"}`), "userInvites[1].Locale", "userInvites[1].Locale is not a known field: names are case-sensitive, and this one is spelled locale."},
		{sendBody(`{"email":"a@x.io"}`, `{"email":"b@x.io","nickname":"B"}`), "userInvites[1].nickname", "userInvites[1].nickname is not a known field."},
		{`{"userInvites":{"email":"a@x.io"}}`, "userInvites", "userInvites must be an array."},
		{`{}`, "userInvites", "userInvites is required."},
		{`{"userInvites":null}`, "userInvites", "userInvites is required."},
		{`{"userInvites":[]}`, "userInvites", "userInvites is empty."},
	} {
		e := newEnv(t)
		w := e.do(call{method: "POST", path: "/", body: c.body, as: &alice})
		if p := decodeProblem(t, w); w.Code != 400 || p.Field != c.field || p.Detail != c.detail {
			t.Errorf("%s: %d field %q detail %q, want %q %q", c.body, w.Code, p.Field, p.Detail, c.field, c.detail)
		}
	}
}
