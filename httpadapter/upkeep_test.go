package httpadapter

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
)

// upkeepCases are the apiCases of erasure and of bounced emails.
func upkeepCases() []apiCase {
	forget := func(body string, as *invites.Actor) func(*env) call {
		return func(e *env) call {
			e.invite(alice, "ann@x.io")
			return call{method: "POST", path: "/forget", body: body, as: as}
		}
	}
	unsuppress := func(body string, as *invites.Actor) func(*env) call {
		return func(e *env) call {
			bounced(e, e.invite(alice, "ann@x.io"))
			return call{method: "POST", path: "/unsuppress", body: body, as: as}
		}
	}
	return []apiCase{
		// POST /forget
		{"forget", forget(`{"email":" ANN@x.io "}`, &alice), 200, "", ""},
		{"forget no invite", forget(`{"email":"nobody@x.io"}`, &alice), 200, "", ""},
		{"forget no actor", forget(`{"email":"ann@x.io"}`, nil), 401, CodeUnauthenticated, ""},
		{"forget actor without tenant", forget(`{"email":"ann@x.io"}`, &bob), 401, CodeUnauthenticated, ""},
		{"forget no email", forget(`{}`, &alice), 400, CodeInvalidRequest, "email"},
		{"forget bad email", forget(`{"email":"ann"}`, &alice), 400, CodeInvalidRequest, "email"},
		{"forget unknown field", forget(`{"email":"ann@x.io","tenantId":"globex"}`, &alice), 400, CodeInvalidRequest, "tenantId"},
		{"forget not authorized", deny(invites.OpForget, forget(`{"email":"ann@x.io"}`, &alice)), 403, CodeForbidden, ""},
		{"forget body too large", forget(`{"email":"`+strings.Repeat("x", envMaxBody)+`"}`, &alice), 413, CodeBodyTooLarge, ""},
		{"forget not json", func(*env) call {
			return call{method: "POST", path: "/forget", body: "email=ann@x.io", ctype: "application/x-www-form-urlencoded", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"forget store down", failing(forget(`{"email":"ann@x.io"}`, &alice)), 500, CodeInternal, ""},
		{"forget store unavailable", unavailable(forget(`{"email":"ann@x.io"}`, &alice)), 503, CodeUnavailable, ""},
		{"forget store without upkeep", withoutUpkeep(forget(`{"email":"ann@x.io"}`, &alice)), 501, CodeUnsupported, ""},
		// What remains of an erased invite (its EventForgotten) goes to
		// Config.OnEvent only: the invite is gone, so is its history.
		{"events of a forgotten invite", func(e *env) call {
			path := at(e, "/%s/events", "ann@x.io")
			if _, err := e.svc.Forget(context.Background(), alice, "ann@x.io"); err != nil {
				e.t.Fatal(err)
			}
			return call{method: "GET", path: path, as: &alice}
		}, 404, CodeNotFound, ""},

		// POST /unsuppress, and the suppression it lifts
		{"send to a suppressed address", func(e *env) call {
			bounced(e, e.invite(alice, "ann@x.io"))
			return call{method: "POST", path: "/", body: `{"userInvites":[{"email":"ann@x.io"}]}`, as: &alice}
		}, 200, "", ""},
		{"resend to a suppressed address", func(e *env) call {
			inv := e.invite(alice, "ann@x.io")
			bounced(e, inv)
			e.advance(envCooldown)
			return call{method: "POST", path: "/" + inv.ID.String() + "/resend", as: &alice}
		}, 409, CodeSuppressed, ""},
		{"unsuppress", unsuppress(`{"email":" ANN@x.io "}`, &alice), 200, "", ""},
		{"unsuppress none", unsuppress(`{"email":"nobody@x.io"}`, &alice), 200, "", ""},
		{"unsuppress no actor", unsuppress(`{"email":"ann@x.io"}`, nil), 401, CodeUnauthenticated, ""},
		{"unsuppress no email", unsuppress(`{}`, &alice), 400, CodeInvalidRequest, "email"},
		{"unsuppress unknown field", unsuppress(`{"email":"ann@x.io","tenantId":"globex"}`, &alice), 400, CodeInvalidRequest, "tenantId"},
		{"unsuppress not authorized", deny(invites.OpUnsuppress, unsuppress(`{"email":"ann@x.io"}`, &alice)), 403, CodeForbidden, ""},
		{"unsuppress body too large", unsuppress(`{"email":"`+strings.Repeat("x", envMaxBody)+`"}`, &alice), 413, CodeBodyTooLarge, ""},
		{"unsuppress not json", func(*env) call {
			return call{method: "POST", path: "/unsuppress", body: "email=ann@x.io", ctype: "application/x-www-form-urlencoded", as: &alice}
		}, 415, CodeUnsupportedMediaType, ""},
		{"unsuppress store down", failing(unsuppress(`{"email":"ann@x.io"}`, &alice)), 500, CodeInternal, ""},
		{"unsuppress store unavailable", unavailable(unsuppress(`{"email":"ann@x.io"}`, &alice)), 503, CodeUnavailable, ""},

		{"events of an unsuppressed address", func(e *env) call {
			inv := e.invite(alice, "ann@x.io")
			bounced(e, inv)
			if _, err := e.svc.Unsuppress(context.Background(), alice, "ann@x.io"); err != nil {
				e.t.Fatal(err)
			}
			return call{method: "GET", path: "/" + inv.ID.String() + "/events", as: &alice}
		}, 200, "", ""},

		// GET /{id}/events after the provider told of a bounce
		{"events of a bounced email", func(e *env) call {
			path := at(e, "/%s/events", "ann@x.io")
			msg, _ := e.mail.LastTo("ann@x.io")
			if err := e.svc.RecordBounce(context.Background(), "<"+msg.ID+"@app.test>", true, "550 no such user"); err != nil {
				e.t.Fatal(err)
			}
			return call{method: "GET", path: path, as: &alice}
		}, 200, "", ""},
	}
}

// bounced has the provider tell of a hard bounce of inv's email, which
// suppresses its address.
func bounced(e *env, inv invites.Invite) {
	e.t.Helper()
	msg, _ := e.mail.LastTo(inv.Email)
	if err := e.svc.RecordBounce(context.Background(), "<"+msg.ID+"@app.test>", true, "550 no such user"); err != nil {
		e.t.Fatal(err)
	}
}

// Unsuppress lifts the suppression a hard bounce made, once: a Send to
// the address is the item code suppressed before, and stored after.
func TestUnsuppressLifts(t *testing.T) {
	e := newEnv(t)
	inv := e.invite(alice, "ann@x.io")
	if _, err := e.svc.Cancel(t.Context(), alice, inv.ID); err != nil {
		t.Fatal(err)
	}
	bounced(e, inv)
	send := call{method: "POST", path: "/", body: `{"userInvites":[{"email":"ann@x.io"}]}`, as: &alice}
	if w := e.do(send); !strings.Contains(w.Body.String(), `"code":"suppressed"`) {
		t.Fatalf("send to a suppressed address = %d %s", w.Code, w.Body)
	}
	for _, want := range []string{`{"unsuppressed":true}`, `{"unsuppressed":false}`} {
		w := e.do(call{method: "POST", path: "/unsuppress", body: `{"email":"Ann@X.io"}`, as: &alice})
		if w.Code != 200 || w.Body.String() != want {
			t.Fatalf("unsuppress = %d %s, want %s", w.Code, w.Body, want)
		}
	}
	if w := e.do(send); w.Code != 200 || !strings.Contains(w.Body.String(), `"errors":[]`) {
		t.Fatalf("send after unsuppress = %d %s", w.Code, w.Body)
	}
}

// Forget erases every invite of the address in the actor's tenant, in
// any status and however the address is spelled, and nothing else.
func TestForgetErasesTheAddress(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	first := e.invite(alice, "ann@x.io")
	if _, err := e.svc.Cancel(ctx, alice, first.ID); err != nil {
		t.Fatal(err)
	}
	second := e.invite(alice, "Ann@X.io")
	tok := tokenBody(e, "ann@x.io")
	other := e.invite(alice, "bob@x.io")
	theirs := e.invite(gus, "ann@x.io")

	w := e.do(call{method: "POST", path: "/forget", body: `{"email":"ann@x.io"}`, as: &alice})
	var res struct {
		InviteIDs []uuid.UUID `json:"inviteIds"`
	}
	decodeJSON(t, w.Body.Bytes(), &res)
	slices.SortFunc(res.InviteIDs, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	want := []uuid.UUID{first.ID, second.ID}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if w.Code != 200 || !slices.Equal(res.InviteIDs, want) {
		t.Fatalf("forget = %d %s, want the ids %v", w.Code, w.Body, want)
	}
	for _, id := range want {
		if w := e.do(call{method: "GET", path: "/" + id.String(), as: &alice}); w.Code != 404 {
			t.Errorf("GET an erased invite = %d %s", w.Code, w.Body)
		}
	}
	if w := e.do(call{method: "POST", path: "/lookup", body: tok}); w.Code != 404 {
		t.Errorf("the link of an erased invite looks up as %d %s", w.Code, w.Body)
	}
	if w := e.do(call{method: "GET", path: "/?email=ann@x.io", as: &alice}); !strings.Contains(w.Body.String(), `"totalCount":0`) {
		t.Errorf("the address is still listed: %s", w.Body)
	}
	if _, err := e.svc.Get(ctx, alice, other.ID); err != nil {
		t.Errorf("another address of the tenant went too: %v", err)
	}
	if _, err := e.svc.Get(ctx, gus, theirs.ID); err != nil {
		t.Errorf("the address in another tenant went too: %v", err)
	}

	// Again: nothing left, and an empty array, not null.
	w = e.do(call{method: "POST", path: "/forget", body: `{"email":"ann@x.io"}`, as: &alice})
	if w.Code != 200 || w.Body.String() != `{"inviteIds":[]}` {
		t.Errorf("forget of no invite = %d %s", w.Code, w.Body)
	}
}

// readyEnv is Ready over the env's Service, logging to logs.
func readyEnv(t *testing.T) (*env, *ready, *syncbuf.Buffer) {
	e := newEnv(t)
	rd := Ready(e.svc).(*ready)
	rd.fresh = 0 // each probe asks the store
	logs := &syncbuf.Buffer{}
	rd.log = slog.New(slog.NewTextHandler(logs, nil))
	return e, rd, logs
}

func probe(h http.Handler, method string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, "/readyz", nil))
	return w
}

// Ready answers 200 while the store answers and 503 while it does not,
// saying nothing more, and logs an outage once.
func TestReady(t *testing.T) {
	e, rd, logs := readyEnv(t)
	e.invite(alice, "ann@x.io") // counts it must not show
	w := probe(rd, "GET")
	if w.Code != 200 || w.Body.String() != `{"status":"ok"}` || w.Header().Get("Content-Type") != "application/json" ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("ready = %d %s %v", w.Code, w.Body, w.Header())
	}
	if w := probe(rd, "HEAD"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD = %d %q", w.Code, w.Body)
	}
	if w := probe(rd, "POST"); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}

	e.store.fail.Store(true)
	for range 3 {
		w = probe(rd, "GET")
		if w.Code != 503 || w.Body.String() != `{"status":"unavailable"}` || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("with the store down = %d %s", w.Code, w.Body)
		}
	}
	if n := strings.Count(logs.String(), errStoreDown.Error()); n != 1 {
		t.Errorf("the outage was logged %d times, want once with its cause:\n%s", n, logs)
	}
	e.store.fail.Store(false)
	if w := probe(rd, "GET"); w.Code != 200 || !strings.Contains(logs.String(), "ready again") {
		t.Errorf("after the outage = %d, logs:\n%s", w.Code, logs)
	}
}

// A store that does not answer is unready within the check's timeout,
// or the probe's own deadline when that comes first.
func TestReadyTimesOut(t *testing.T) {
	e, rd, logs := readyEnv(t)
	e.store.down.Store(true)
	rd.timeout = 20 * time.Millisecond
	if w := probe(rd, "GET"); w.Code != 503 || !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("a hanging store = %d, logs:\n%s", w.Code, logs)
	}

	rd.timeout = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	start := time.Now()
	rd.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil).WithContext(ctx))
	if w.Code != 503 || time.Since(start) > 10*time.Second {
		t.Errorf("a probe's deadline = %d after %v", w.Code, time.Since(start))
	}
}

// A flood of probes asks the store once per readyFresh, concurrent ones
// included.
func TestReadyAsksOncePerInterval(t *testing.T) {
	e := newEnv(t)
	var asked atomic.Int32
	rd := &ready{timeout: ReadyTimeout, fresh: time.Hour, stats: func(ctx context.Context) (invites.Stats, error) {
		asked.Add(1)
		return e.svc.Stats(ctx)
	}}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if w := probe(rd, "GET"); w.Code != 200 {
				t.Errorf("probe = %d", w.Code)
			}
		})
	}
	wg.Wait()
	if n := asked.Load(); n != 1 {
		t.Errorf("50 probes asked the store %d times, want once", n)
	}
}

func TestReadyRefusesNoService(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Ready(nil) did not panic")
		}
	}()
	Ready(nil)
}
