package httpadapter

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestSpecDriftIsCaught breaks the spec, or the handler as the spec test
// sees it, one way at a time, and checks that the comparison notices each.
func TestSpecDriftIsCaught(t *testing.T) {
	b := learn(t)
	if got := compareSpec(openAPI, b); len(got) > 0 {
		t.Fatalf("the spec does not match to begin with: %v", got)
	}
	at := func(doc map[string]any, path ...string) map[string]any {
		for _, p := range path {
			doc = doc[p].(map[string]any)
		}
		return doc
	}
	schemas := func(doc map[string]any) map[string]any { return at(doc, "components", "schemas") }
	drifts := []struct {
		name  string
		spec  func(doc map[string]any)
		hand  func(b *behaviour)
		wants string
	}{
		{"a field the handler answers is dropped from the spec",
			func(d map[string]any) { delete(at(schemas(d), "Invite", "properties"), "email") }, nil,
			".email is answered but not in the spec"},
		{"the spec names a field no response has",
			func(d map[string]any) {
				at(schemas(d), "Invite", "properties")["nickname"] = map[string]any{"type": "string"}
			}, nil,
			"field Invite.nickname is in the spec but no response has it"},
		{"a required field is never answered",
			func(d map[string]any) {
				s := at(schemas(d), "InviteList")
				s["required"] = append(s["required"].([]any), "nextCursor")
			}, nil,
			"lacks nextCursor, which the spec requires"},
		{"a field answered with another type",
			func(d map[string]any) { at(schemas(d), "Invite", "properties", "sendCount")["type"] = "string" }, nil,
			"sendCount is integer"},
		{"a status the handler answers is missing",
			func(d map[string]any) { delete(at(d, "paths", "/{id}/cancel", "post", "responses"), "409") }, nil,
			"POST /{id}/cancel answered 409, which the spec does not list"},
		{"the spec lists a status never answered",
			func(d map[string]any) {
				at(d, "paths", "/{id}", "get", "responses")["418"] = map[string]any{"$ref": "#/components/responses/Internal"}
			}, nil,
			"GET /{id} 418 is in the spec but never answered"},
		{"a route of the handler is missing from the spec",
			func(d map[string]any) { delete(at(d, "paths"), "/decline") }, nil,
			"POST /decline answered but has no path in the spec"},
		{"the handler grows a route",
			nil, func(b *behaviour) { b.routes = append(b.routes, "DELETE /{id}") },
			"DELETE /{id} is a route of the handler but has no path in the spec"},
		{"the spec grows a route",
			func(d map[string]any) { at(d, "paths")["/{id}/archive"] = map[string]any{"post": map[string]any{}} }, nil,
			"POST /{id}/archive is in the spec but is no route of the handler"},
		{"an enum value is never answered",
			func(d map[string]any) {
				s := at(schemas(d), "Invite", "properties", "deliveryStatus")
				s["enum"] = append(s["enum"].([]any), "bounced")
			}, nil,
			"bounced is in the spec's enum but never answered"},
		{"an answered code is missing from an enum",
			func(d map[string]any) {
				s := at(schemas(d), "ProblemCode")
				s["enum"] = slices.DeleteFunc(s["enum"].([]any), func(v any) bool { return v == CodeExpired })
			}, nil,
			"= expired is not one of the spec's"},
		{"a query parameter is missing from the spec",
			func(d map[string]any) {
				op := at(d, "paths", "/", "get")
				op["parameters"] = slices.DeleteFunc(op["parameters"].([]any), func(p any) bool { return p.(map[string]any)["name"] == "cursor" })
			}, nil,
			"cursor is read by the handler, but not in the spec"},
		{"a request field is missing from the spec",
			func(d map[string]any) { delete(at(schemas(d), "SendItem", "properties"), "locale") }, nil,
			"POST /{$} body.userInvites.locale is read by the handler, but not in the spec"},
		{"the spec names a request field the handler refuses",
			func(d map[string]any) {
				at(schemas(d), "TokenRequest", "properties")["code"] = map[string]any{"type": "string"}
			}, nil,
			"POST /accept body.code is in the spec, but the handler refuses it"},
		{"a header is missing from the spec",
			func(d map[string]any) { delete(at(d, "components", "responses", "ResendLimited"), "headers") }, nil,
			"answered header Retry-After, which the spec does not list"},
		{"a problem's schema is inline",
			func(d map[string]any) {
				c := at(d, "components", "responses", "RateLimited", "content", "application/problem+json")
				c["schema"] = at(schemas(d), "RateLimitedProblem")
			}, nil,
			"POST /{$} 429: the problem's schema is inline"},
		{"an operation's problem is inline",
			func(d map[string]any) {
				at(d, "paths", "/{id}/resend", "post", "responses")["403"] = map[string]any{"description": "Refused.",
					"content": map[string]any{"application/problem+json": map[string]any{"schema": at(schemas(d), "RoleForbiddenProblem")}}}
			}, nil,
			"POST /{id}/resend 403: the problem's schema is inline"},
		{"the content type differs",
			func(d map[string]any) {
				r := at(d, "components", "responses", "Expired")
				r["content"] = map[string]any{"application/json": at(r, "content", "application/problem+json")}
			}, nil,
			"answered application/problem+json, the spec says application/json"},
		{"a 405 is missing from an operation",
			func(d map[string]any) { delete(at(d, "paths", "/{id}", "patch", "responses"), "405") }, nil,
			"PATCH /{id} answered 405, which the spec does not list"},
		{"the Allow header is missing from the spec",
			func(d map[string]any) { delete(at(d, "components", "responses", "MethodNotAllowed"), "headers") }, nil,
			"GET /{id} 405 answered header Allow, which the spec does not list"},
		{"a public route asks for security",
			func(d map[string]any) { delete(at(d, "paths", "/check", "post"), "security") }, nil,
			"POST /check needs no actor, but the spec asks for security"},
		{"an authenticated route asks for none",
			func(d map[string]any) { at(d, "paths", "/accept", "post")["security"] = []any{} }, nil,
			"POST /accept authenticates (401), but the spec asks for no security"},
		{"the security scheme is not declared",
			func(d map[string]any) { delete(at(d, "components"), "securitySchemes") }, nil,
			"POST /{$} asks for security scheme hostAuth, which the spec does not declare"},
		{"the spec drops a route's Idempotency-Key",
			func(d map[string]any) { at(d, "paths", "/decline", "post")["parameters"] = []any{} }, nil,
			"POST /decline header parameters: Idempotency-Key is read by the handler, but not in the spec"},
		{"a route stops reading Idempotency-Key",
			nil, func(b *behaviour) { b.headers = map[string][]string{} },
			"POST /{id}/cancel header parameters: Idempotency-Key is in the spec, but the handler does not read it"},
		{"a body the spec does not describe",
			func(d map[string]any) { delete(at(d, "paths", "/lookup", "post"), "requestBody") }, nil,
			"POST /lookup reads a body the spec does not describe"},
	}
	var plain map[string]any
	if err := json.Unmarshal(specJSON(t), &plain); err != nil {
		t.Fatal(err)
	}
	for _, d := range drifts {
		t.Run(d.name, func(t *testing.T) {
			var doc map[string]any
			raw, _ := json.Marshal(plain)
			_ = json.Unmarshal(raw, &doc) // a deep copy
			bb := b
			bb.routes = slices.Clone(b.routes)
			if d.spec != nil {
				d.spec(doc)
			}
			if d.hand != nil {
				d.hand(&bb)
			}
			raw, _ = json.Marshal(doc)
			got := compareSpec(raw, bb)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, d.wants) }) {
				t.Errorf("no problem says %q; got %q", d.wants, got)
			}
		})
	}
}

// specJSON is openapi.yaml without its comment header.
func specJSON(t *testing.T) []byte {
	t.Helper()
	_, js, ok := strings.Cut(string(openAPI), "\n{")
	if !ok {
		t.Fatal("openapi.yaml is not in JSON syntax")
	}
	return []byte("{" + js)
}
