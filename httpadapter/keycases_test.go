package httpadapter

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// keyCases are the apiCases of Idempotency-Key: on each route that writes,
// a retry of the same request is answered as the first, a malformed key
// is a 400, and the key sent again with another request a 422.
func keyCases() []apiCase {
	// twice makes first, then returns second, both under one key.
	twice := func(first, second func(e *env) call) func(*env) call {
		return func(e *env) call {
			c := first(e)
			c.key = `"k-1"`
			if w := e.do(c); w.Code != http.StatusOK {
				e.t.Fatalf("the first request under the key: %d %s", w.Code, w.Body)
			}
			c = second(e)
			c.key = `"k-1"`
			return c
		}
	}
	send := func(email string) func(*env) call {
		return func(*env) call {
			return call{method: "POST", path: "/", body: sendBody(`{"email":"` + email + `"}`), as: &alice}
		}
	}
	on := func(method, format, email, body string) func(*env) call {
		return func(e *env) call {
			inv := e.invite(alice, email)
			return call{method: method, path: fmt.Sprintf(format, inv.ID), body: body, as: &alice}
		}
	}
	same := func(c func(*env) call) func(*env) call {
		var first call
		return twice(func(e *env) call { first = c(e); return first }, func(*env) call { return first })
	}
	token := func(path string, as *invites.Actor) func(*env) call {
		return func(e *env) call {
			return call{method: "POST", path: path, body: tokenBody(e, "ann@x.io"), as: as}
		}
	}
	invited := func(c func(*env) call) func(*env) call {
		return func(e *env) call { e.invite(alice, "ann@x.io"); return c(e) }
	}
	malformed := func(k string, c func(*env) call) func(*env) call {
		return func(e *env) call { out := c(e); out.key = k; return out }
	}
	forget := func(email string) func(*env) call {
		return func(*env) call {
			return call{method: "POST", path: "/forget", body: `{"email":"` + email + `"}`, as: &alice}
		}
	}
	return []apiCase{
		{"send replayed under its key", same(send("ann@x.io")), 200, "", ""},
		{"send key reused", twice(send("ann@x.io"), send("bob@x.io")), 422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"send key unterminated", malformed(`"k`, send("ann@x.io")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"send key empty", malformed(`""`, send("ann@x.io")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"send key too long", malformed(strings.Repeat("k", invites.MaxIdempotencyKeyBytes+1), send("ann@x.io")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"send key with a bad escape", malformed(`"a\b"`, send("ann@x.io")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"send key after its string", malformed(`"a"b`, send("ann@x.io")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"send bare key replayed", func(e *env) call {
			c := send("ann@x.io")(e)
			c.key = "bare-key"
			e.do(c)
			return c
		}, 200, "", ""},
		{"update replayed under its key", same(on("PATCH", "/%s", "ann@x.io", `{"firstName":"A"}`)), 200, "", ""},
		{"update key reused", twice(on("PATCH", "/%s", "ann@x.io", `{"firstName":"A"}`), on("PATCH", "/%s", "bob@x.io", `{"firstName":"A"}`)),
			422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"cancel replayed under its key", same(on("POST", "/%s/cancel", "ann@x.io", "")), 200, "", ""},
		{"cancel key reused", twice(on("POST", "/%s/cancel", "ann@x.io", ""), on("POST", "/%s/cancel", "bob@x.io", "")),
			422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"cancel key malformed", malformed(`"\"`, on("POST", "/%s/cancel", "ann@x.io", "")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"resend key reused", twice(on("POST", "/%s/cancel", "ann@x.io", ""), on("POST", "/%s/resend", "bob@x.io", "")),
			422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"resend key malformed", malformed("\u00e9", on("POST", "/%s/resend", "ann@x.io", "")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"forget replayed under its key", same(invited(forget("ann@x.io"))), 200, "", ""},
		{"forget key reused", twice(forget("ann@x.io"), forget("bob@x.io")), 422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"accept replayed under its key", same(invited(token("/accept", &bob))), 200, "", ""},
		{"accept key reused by another user", twice(invited(token("/accept", &bob)), token("/accept", &gus)),
			422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"decline replayed under its key", same(invited(token("/decline", nil))), 200, "", ""},
		{"decline under an accept's key", twice(invited(token("/accept", &bob)), token("/decline", nil)),
			422, CodeIdempotencyKeyReused, IdempotencyKeyHeader},
		{"decline key malformed", malformed(`"k`, invited(token("/decline", nil))), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"accept key malformed", malformed(`"k`, invited(token("/accept", &bob))), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"update key malformed", malformed(`"k`, on("PATCH", "/%s", "ann@x.io", `{"firstName":"A"}`)), 400, CodeInvalidRequest, IdempotencyKeyHeader},
		{"forget key malformed", malformed(`"k`, forget("ann@x.io")), 400, CodeInvalidRequest, IdempotencyKeyHeader},
	}
}

// A retry under the key gets the first answer byte for byte, and writes
// nothing; the same retry without a key is told the address is invited.
func TestKeyReplaysTheFirstAnswer(t *testing.T) {
	e := newEnv(t)
	c := call{method: "POST", path: "/", body: sendBody(`{"email":"ann@x.io","data":{"a":1}}`, `{"email":"nope"}`), as: &alice, key: `"retry-1"`}
	first := e.do(c)
	e.advance(1e9)
	again := e.do(c)
	if first.Code != 200 || again.Code != first.Code || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("retry under the key: %d %s\nfirst: %d %s", again.Code, again.Body, first.Code, first.Body)
	}
	c.key = ""
	if w := e.do(c); !strings.Contains(w.Body.String(), `"code":"already_invited"`) {
		t.Fatalf("retry without a key: %s, want already_invited", w.Body)
	}
	page, err := e.svc.List(t.Context(), alice, invites.Query{})
	if err != nil || page.TotalCount != 1 {
		t.Fatalf("%d invites (%v), want 1", page.TotalCount, err)
	}
	c.key = `"retry-1"`
	c.body = sendBody(`{"email":"bob@x.io"}`)
	if w := e.do(c); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("another body under the key: %d %s, want 422", w.Code, w.Body)
	}
	r := call{method: "POST", path: "/", body: sendBody(`{"email":"cy@x.io"}`), as: &alice}.request()
	r.Header.Add(IdempotencyKeyHeader, `"a"`)
	r.Header.Add(IdempotencyKeyHeader, `"b"`)
	if x := exchanges(e.h, r); x[0].status != http.StatusBadRequest {
		t.Fatalf("two keys: %d, want 400", x[0].status)
	}
}
