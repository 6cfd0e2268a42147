package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitekit/invites"
)

func TestSendAnswersEachItem(t *testing.T) {
	e := newEnv(t)
	e.withService(func(c *invites.Config) { c.MaxSendsPerAddressPerDay = 1 })
	e.invite(alice, "old@x.io")
	if _, err := e.svc.Cancel(t.Context(), alice, e.invite(alice, "gone@x.io").ID); err != nil {
		t.Fatal(err)
	}
	w := e.do(call{method: "POST", path: "/", as: &alice, body: sendBody(
		`{"email":"ann@x.io","firstName":"Ann","locale":"de-AT","data":{"team":"a"}}`,
		`{"email":"nope"}`, `{"email":"ANN@x.io"}`, `{"email":"old@x.io"}`, `{"email":"f@x.io","roles":["owner"]}`,
		`{"email":"gone@x.io"}`)})
	var res struct {
		Success []map[string]any
		Errors  []invites.ItemError
	}
	decodeJSON(t, w.Body.Bytes(), &res)
	if w.Code != 200 || len(res.Success) != 1 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	s := res.Success[0]
	if s["email"] != "ann@x.io" || s["locale"] != "de-AT" || s["createdByUserId"] != alice.UserID ||
		s["tenantId"] != alice.TenantID || s["acceptedByUserId"] != nil || s["status"] != "pending" ||
		fmt.Sprint(s["roles"]) != "[admin member]" || fmt.Sprint(s["data"]) != "map[team:a]" {
		t.Errorf("stored invite %v", s)
	}
	var got []string
	for _, ie := range res.Errors {
		got = append(got, fmt.Sprintf("%d:%s", ie.Index, ie.Code))
	}
	want := []string{"1:invalid_email", "2:duplicate_in_batch", "3:already_invited", "4:forbidden_role", "5:address_limit"}
	if !slices.Equal(got, want) {
		t.Errorf("item errors %v, want %v", got, want)
	}
	if res.Errors[2].InviteID.String() == "" || res.Errors[2].Email != "old@x.io" {
		t.Errorf("already_invited does not name the invite: %+v", res.Errors[2])
	}
}

// Paging by cursor walks every invite of the tenant once, and only them.
func TestListPagesOneTenant(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.invite(alice, fmt.Sprintf("u%d@x.io", i))
		e.advance(time.Second)
	}
	e.invite(gus, "u9@x.io")
	var seen []string
	query := "/?order=-createdAt&limit=2"
	for page := 0; ; page++ {
		w := e.do(call{method: "GET", path: query, as: &alice})
		var res map[string]any
		decodeJSON(t, w.Body.Bytes(), &res)
		if w.Code != 200 || res["totalCount"] != 5.0 {
			t.Fatalf("page %d: %d %s", page, w.Code, w.Body)
		}
		for _, inv := range res["data"].([]any) {
			seen = append(seen, inv.(map[string]any)["email"].(string))
		}
		next, ok := res["nextCursor"]
		if !ok {
			break
		}
		query = "/?order=-createdAt&limit=2&cursor=" + next.(string)
	}
	if want := []string{"u4@x.io", "u3@x.io", "u2@x.io", "u1@x.io", "u0@x.io"}; !slices.Equal(seen, want) {
		t.Errorf("pages gave %v, want %v", seen, want)
	}
	// A cursor is bound to its order.
	w := e.do(call{method: "GET", path: "/?limit=2", as: &alice})
	var first map[string]any
	decodeJSON(t, w.Body.Bytes(), &first)
	w = e.do(call{method: "GET", path: "/?order=email&cursor=" + first["nextCursor"].(string), as: &alice})
	if p := decodeProblem(t, w); p.Field != "cursor" {
		t.Errorf("a cursor of another order: %+v", p)
	}
}

// Another tenant's actor can neither see nor change an invite.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	inv := e.invite(alice, "ann@x.io")
	e.advance(envCooldown)
	id := inv.ID.String()
	for _, c := range []call{
		{method: "GET", path: "/" + id},
		{method: "PATCH", path: "/" + id, body: `{"firstName":"Mallory"}`},
		{method: "POST", path: "/" + id + "/resend"},
		{method: "POST", path: "/" + id + "/cancel"},
	} {
		c.as = &gus
		if w := e.do(c); w.Code != 404 || decodeProblem(t, w).Code != CodeNotFound {
			t.Errorf("%s %s by another tenant: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	w := e.do(call{method: "GET", path: "/", as: &gus})
	if !strings.Contains(w.Body.String(), `"totalCount":0`) {
		t.Errorf("another tenant lists %s", w.Body)
	}
	now, err := e.svc.Get(t.Context(), alice, inv.ID)
	if err != nil || now.FirstName != "Ann" || now.Status != invites.StatusPending || now.SendCount != 1 {
		t.Errorf("the invite changed: %+v %v", now, err)
	}
}

// A check shows the holder of a link no ids either.
func TestCheckShowsNoIDs(t *testing.T) {
	e := newEnv(t)
	e.invite(alice, "ann@x.io")
	w := e.do(call{method: "POST", path: "/check", body: tokenBody(e, "ann@x.io")})
	var v map[string]any
	decodeJSON(t, w.Body.Bytes(), &v)
	keys := slices.Sorted(maps.Keys(v))
	if !slices.Equal(keys, publicKeys) || v["isValid"] != true {
		t.Errorf("check view %v", v)
	}
	w = e.do(call{method: "POST", path: "/check", body: strayToken})
	if got := strings.TrimSpace(w.Body.String()); got != `{"isValid":false,"isExpired":false}` {
		t.Errorf("check of an unknown token = %s", got)
	}
}

func TestLookupShowsThePublicViewOnly(t *testing.T) {
	e := newEnv(t)
	e.invite(alice, "ann@x.io")
	w := e.do(call{method: "POST", path: "/lookup", body: tokenBody(e, "ann@x.io")})
	var v map[string]any
	decodeJSON(t, w.Body.Bytes(), &v)
	keys := slices.Sorted(maps.Keys(v))
	if !slices.Equal(keys, publicKeys) || v["email"] != "ann@x.io" || v["status"] != "pending" || v["isValid"] != true || v["isExpired"] != false {
		t.Errorf("lookup view %v", v)
	}
}

// publicKeys are the members of the whole public view of an invite.
var publicKeys = []string{"email", "expiresAt", "firstName", "isExpired", "isValid", "lastName", "locale", "roles", "status", "tenantId"}

// An old link tells its status and nothing more: not who was invited.
func TestOldLinkTellsOnlyItsStatus(t *testing.T) {
	for _, st := range []invites.Status{invites.StatusAccepted, invites.StatusDeclined, invites.StatusCanceled, invites.StatusExpired} {
		e := newEnv(t)
		if st == invites.StatusExpired {
			e.invite(alice, "ann@x.io")
			e.advance(envTTL)
		} else {
			e.final("ann@x.io", st)
		}
		for _, path := range []string{"/lookup", "/check"} {
			w := e.do(call{method: "POST", path: path, body: tokenBody(e, "ann@x.io")})
			want := fmt.Sprintf(`{"isValid":false,"isExpired":%t,"status":%q}`, st == invites.StatusExpired, st)
			if got := strings.TrimSpace(w.Body.String()); w.Code != 200 || got != want {
				t.Errorf("%s of a %s invite: %d %s, want %s", path, st, w.Code, got, want)
			}
		}
	}
}

// Accept and decline answer their outcome, explicitly (isValid is false
// once the link is used), and the public view: no ids, creator, data,
// send count or delivery state.
func TestAcceptAndDeclineAnswerTheOutcomeAndThePublicView(t *testing.T) {
	for _, c := range []struct {
		path, outcome string
		as            *invites.Actor
		st            invites.Status
	}{{"/accept", "accepted", &bob, invites.StatusAccepted}, {"/decline", "declined", nil, invites.StatusDeclined}} {
		e := newEnv(t)
		e.invite(alice, "ann@x.io")
		w := e.do(call{method: "POST", path: c.path, body: tokenBody(e, "ann@x.io"), as: c.as})
		var v map[string]any
		decodeJSON(t, w.Body.Bytes(), &v)
		want := slices.Sorted(slices.Values(append([]string{c.outcome}, publicKeys...)))
		if keys := slices.Sorted(maps.Keys(v)); w.Code != 200 || !slices.Equal(keys, want) || v[c.outcome] != true ||
			v["status"] != string(c.st) || v["email"] != "ann@x.io" || v["isValid"] != false {
			t.Errorf("%s: %d %v", c.path, w.Code, v)
		}
	}
}

func TestAcceptRecordsTheActor(t *testing.T) {
	e := newEnv(t)
	inv := e.invite(alice, "ann@x.io")
	w := e.do(call{method: "POST", path: "/accept", body: tokenBody(e, "ann@x.io"), as: &bob})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"accepted"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got, err := e.svc.Get(t.Context(), alice, inv.ID); err != nil || got.AcceptedByUserID != bob.UserID {
		t.Fatalf("accepted by %q, %v", got.AcceptedByUserID, err)
	}
	// The link is used up.
	w = e.do(call{method: "POST", path: "/accept", body: tokenBody(e, "ann@x.io"), as: &bob})
	if p := decodeProblem(t, w); p.Code != CodeNotPending || p.InviteStatus != invites.StatusAccepted {
		t.Errorf("second accept: %+v", p)
	}
}

func TestUpdateDataNullClearsIt(t *testing.T) {
	e := newEnv(t)
	path := at(e, "/%s", "ann@x.io")
	e.do(call{method: "PATCH", path: path, body: `{"data":{"k":1}}`, as: &alice})
	w := e.do(call{method: "PATCH", path: path, body: `{"data":null}`, as: &alice})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"data":null`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// Retry-After is the cooldown left in whole seconds, rounded up.
func TestResendTooSoonSaysWhenToRetry(t *testing.T) {
	e := newEnv(t)
	path := at(e, "/%s/resend", "ann@x.io")
	e.advance(20*time.Second + 500*time.Millisecond)
	w := e.do(call{method: "POST", path: path, as: &alice})
	p := decodeProblem(t, w)
	if w.Code != 429 || w.Header().Get("Retry-After") != "40" || p.RetryAfter != 40 {
		t.Errorf("%d Retry-After %q, %+v", w.Code, w.Header().Get("Retry-After"), p)
	}
}

func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	e := newEnv(t)
	w := e.do(call{method: "PUT", path: "/0190d5a4-0000-7000-8000-000000000000", as: &alice})
	if got := w.Header().Get("Allow"); w.Code != 405 || got != "GET, HEAD, PATCH" {
		t.Errorf("%d Allow %q", w.Code, got)
	}
}

// A 500 names nothing of its cause; the log has the cause but no token.
func TestInternalErrorsStayInside(t *testing.T) {
	e := newEnv(t)
	e.invite(alice, "ann@x.io")
	tok := e.token("ann@x.io")
	e.store.fail.Store(true)
	w := e.do(call{method: "POST", path: "/accept", body: `{"token":"` + tok + `"}`, as: &bob})
	p := decodeProblem(t, w)
	if w.Code != 500 || p.Detail != "An internal error occurred." || strings.Contains(w.Body.String(), tok) {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, errStoreDown.Error()) || !strings.Contains(logs, "POST /accept") {
		t.Errorf("log lacks the cause or route: %s", logs)
	}
	if strings.Contains(logs, tok) {
		t.Errorf("the token is logged: %s", logs)
	}
}

// Config.Problem can set type URIs and map an error of the host's.
func TestProblemHook(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Problem = func(_ *http.Request, p *Problem) {
			p.Type = "https://errors.example/" + p.Code
			if errors.Is(p.Err, errStoreDown) {
				p.Status, p.Code, p.Title = http.StatusServiceUnavailable, "unavailable", ""
			}
		}
	})
	w := e.do(call{method: "GET", path: "/nowhere/at/all", as: &alice})
	if p := decodeProblem(t, w); p.Type != "https://errors.example/not_found" {
		t.Errorf("type %q", p.Type)
	}
	e.store.fail.Store(true)
	w = e.do(call{method: "GET", path: "/", as: &alice})
	if p := decodeProblem(t, w); w.Code != 503 || p.Code != "unavailable" || p.Title != "Service Unavailable" {
		t.Errorf("%d %+v", w.Code, p)
	}
	// What the hook answers as other than a 500 is no failure to log.
	if logs := e.logs.String(); strings.Contains(logs, "request failed") {
		t.Errorf("an error the hook mapped is logged as a failed request: %s", logs)
	}
}

// Mounted under a prefix, every route answers below it, and the prefix
// without its slash as the collection.
func TestMountedUnderPrefix(t *testing.T) {
	e := newEnv(t)
	host := http.NewServeMux()
	host.Handle("/api/invites/", http.StripPrefix("/api/invites", e.h))
	host.Handle("/api/invites", http.StripPrefix("/api/invites", e.h))
	srv := httptest.NewServer(host)
	defer srv.Close()
	e.invite(alice, "ann@x.io")
	for _, c := range []struct {
		call
		want int
	}{
		{call{method: "GET", path: "/api/invites/", as: &alice}, 200},
		{call{method: "GET", path: "/api/invites", as: &alice}, 200},
		{call{method: "POST", path: "/api/invites", as: &alice, body: sendBody(`{"email":"bo@x.io"}`)}, 200},
		{call{method: "PUT", path: "/api/invites", as: &alice}, 405},
		{call{method: "GET", path: "/api/invites/openapi.yaml"}, 200},
		{call{method: "POST", path: "/api/invites/lookup", body: tokenBody(e, "ann@x.io")}, 200},
		{call{method: "GET", path: "/api/invites/nowhere/x"}, 404},
	} {
		r := c.request()
		r.RequestURI, r.URL.Scheme, r.URL.Host = "", "http", strings.TrimPrefix(srv.URL, "http://")
		res, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.want)
		}
	}
}

// A host that strips the prefix with its slash gets the same routes, not
// a redirect out of its prefix.
func TestMountedWithTheSlashStripped(t *testing.T) {
	e := newEnv(t)
	host := http.NewServeMux()
	host.Handle("/api/invites/", http.StripPrefix("/api/invites/", e.h))
	for path, want := range map[string]int{"/api/invites/": 200, "/api/invites/links": 200, "/api/invites/links/x/y": 404} {
		w := httptest.NewRecorder()
		host.ServeHTTP(w, call{method: "GET", path: path, as: &alice}.request())
		if w.Code != want || w.Header().Get("Location") != "" {
			t.Errorf("GET %s: %d %v, want %d", path, w.Code, w.Header(), want)
		}
	}
}

func TestNewRefusesAMissingAuthenticate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without Authenticate did not panic")
		}
	}()
	New(newEnv(t).svc, Config{})
}

// inviteKeys are the members of an invite in every response that carries
// one: ROQ's shape, deliveryError only once a delivery failed.
var inviteKeys = []string{"acceptedByUserId", "createdAt", "createdByUserId", "data", "deliveryStatus", "email",
	"expiresAt", "firstName", "id", "lastName", "lastSentAt", "locale", "roles", "sendCount", "status",
	"statusUpdatedAt", "tenantId", "updatedAt"}

// Send, list and get write an invite alike, as invites.Invite's JSON:
// acceptedByUserId null until accepted, then the user.
func TestInviteWireShape(t *testing.T) {
	e := newEnv(t)
	members := func(path string, raw json.RawMessage) map[string]any {
		t.Helper()
		var m map[string]any
		decodeJSON(t, raw, &m)
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, inviteKeys) {
			t.Errorf("%s: invite members %v, want %v", path, keys, inviteKeys)
		}
		return m
	}
	w := e.do(call{method: "POST", path: "/", body: sendBody(`{"email":"ann@x.io","data":{"k":"<&>"}}`), as: &alice})
	var sent struct{ Success, Errors []json.RawMessage }
	decodeJSON(t, w.Body.Bytes(), &sent)
	if w.Code != 200 || len(sent.Success) != 1 || sent.Errors == nil || len(sent.Errors) != 0 {
		t.Fatalf("send: %d %s", w.Code, w.Body)
	}
	if m := members("send", sent.Success[0]); m["acceptedByUserId"] != nil || m["status"] != "pending" {
		t.Errorf("sent invite %v", m)
	}
	e.deliver()
	e.do(call{method: "POST", path: "/accept", body: tokenBody(e, "ann@x.io"), as: &bob})
	w = e.do(call{method: "GET", path: "/", as: &alice})
	var page struct {
		Data       []json.RawMessage
		TotalCount int
	}
	decodeJSON(t, w.Body.Bytes(), &page)
	if w.Code != 200 || len(page.Data) != 1 || page.TotalCount != 1 || strings.Contains(w.Body.String(), "nextCursor") {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	m := members("list", page.Data[0])
	if m["acceptedByUserId"] != bob.UserID || m["status"] != "accepted" {
		t.Errorf("listed invite %v", m)
	}
	got := e.do(call{method: "GET", path: "/" + m["id"].(string), as: &alice}).Body.Bytes()
	if !bytes.Equal(bytes.TrimSpace(got), page.Data[0]) {
		t.Errorf("GET /{id} wrote\n%s\nthe list\n%s", got, page.Data[0])
	}
}

// A list the store cannot finish within Config.ListTimeout is a 503 that
// says when to retry, not a 500.
func TestSlowListIsUnavailable(t *testing.T) {
	e := newEnv(t)
	e.withService(func(c *invites.Config) { c.ListTimeout = 10 * time.Millisecond })
	e.store.down.Store(true)
	w := e.do(call{method: "GET", path: "/?email[iLike]=%25x%25", as: &alice})
	p := decodeProblem(t, w)
	if w.Code != 503 || p.Code != CodeUnavailable || w.Header().Get("Retry-After") != "5" || p.RetryAfter != 5 {
		t.Errorf("%d Retry-After %q, %+v", w.Code, w.Header().Get("Retry-After"), p)
	}
}

// An outage of the store is logged once, however many requests meet it
// at once, and its end once, at the next success; the next outage is
// logged again. Every request of it is a 503 with Retry-After.
func TestOutageLoggedOnce(t *testing.T) {
	e := newEnv(t)
	inv := e.invite(alice, "ann@x.io")
	get := call{method: "GET", path: "/" + inv.ID.String(), as: &alice}
	for outage := 1; outage <= 2; outage++ {
		e.store.down.Store(true)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if w := e.do(get); w.Code != 503 || w.Header().Get("Retry-After") == "" {
					t.Errorf("during the outage: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
				}
			})
		}
		wg.Wait()
		e.store.down.Store(false)
		for range 3 {
			if w := e.do(get); w.Code != 200 {
				t.Fatalf("after the outage: %d %s", w.Code, w.Body)
			}
		}
		logs := e.logs.String()
		down, back := strings.Count(logs, "the store is unavailable"), strings.Count(logs, "the store answers again")
		if down != outage || back != outage || !strings.Contains(logs, errUnavailable.Error()) {
			t.Fatalf("after outage %d: %d unavailable lines and %d recovery lines, want %d each (and the cause):\n%s",
				outage, down, back, outage, logs)
		}
	}
}
