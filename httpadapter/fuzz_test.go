package httpadapter

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/invitekit/invites"
)

// checkAnswer holds any answer to what every answer must be: never a 500,
// JSON of the declared type, and a problem whose status is the response's.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	ok := false
	for _, s := range allowed {
		ok = ok || w.Code == s
	}
	if !ok || w.Code == 500 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("no JSON object: %v: %s", err, w.Body)
	}
	if w.Code >= 400 && (w.Header().Get("Content-Type") != "application/problem+json" || v["status"] != float64(w.Code)) {
		t.Fatalf("problem %d: %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// bodyRoutes are the routes that decode a body, by the fuzzer's pick.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/"}, {"PATCH", "/{id}"}, {"POST", "/lookup"}, {"POST", "/accept"}, {"POST", "/decline"},
	{"POST", "/{id}/resend"}, {"POST", "/{id}/cancel"},
}

// FuzzRequestBody sends any body to the routes that decode one.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{
		sendBody(`{"email":"ann@x.io","firstName":"Ann","locale":"de-AT","data":{"a":[1,{"b":null}]},"roles":["member"]}`),
		`{"tenantId":"acme","createdByUserId":"u-alice","userInvites":[{"email":"a@x.io","createdByUserId":"u-alice"}]}`,
		`{"firstName":"A","lastName":"B","locale":"fr","data":null,"roles":[]}`,
		strayToken, `{"token":""}`, `{"token":null}`, `null`, `[]`, `""`, `{}`, `{"userInvites":[{}]}`,
		`{"userInvites":[{"email":"a@x.io","data":"x"}]}`, `{"userInvites":[{"email":1e400}]}`,
		`{"userInvites":[{"email":"\ud800@x.io"}]}`, `{"a":1} {"b":2}`, `{"userInvites":`, "\xff\xfe{}",
		`{"roles":[null]}`, `{"firstName":{"nested":true}}`, `{"userInvites":[` + strings.Repeat("[", 200) + `]}`,
		batchOf(envMaxBatch + 1), "", " \n", `{"zz":1}`, `{}{}`,
		// Addresses, names and data the validation refuses or canonicalizes.
		sendBody(`{"email":"\u212Aate@x.io"}`, `{"email":"KATE@X.IO"}`, `{"email":"a@[1.2.3.4]"}`, `{"email":"a@[IPv6:::1]"}`,
			`{"email":"a@localhost"}`, `{"email":"a@io"}`, `{"email":"a@127.0.0.1"}`, `{"email":"b@bücher.de"}`,
			`{"email":"B@XN--BCHER-KVA.DE"}`, `{"email":"ＡＢ@x.io"}`, `{"email":"a\u200b@x.io"}`, `{"email":"a@x\u00ad.io"}`),
		sendBody(`{"email":"`+strings.Repeat("a", 65)+`@x.io"}`, `{"email":"a@`+strings.Repeat("b.", 126)+`io"}`),
		sendBody(`{"email":"n@x.io","firstName":"\u202Eevil","lastName":"a\u2028b"}`, `{"email":"m@x.io","roles":["a\u2066"]}`),
		sendBody(`{"email":"d@x.io","data":{"a":"\ud800"}}`, `{"email":"e@x.io","data":{"\udc00":1}}`,
			`{"email":"f@x.io","data":{"a":"\ud83d\u0041","b":"\ud83d\ude00","c":"\\ud800"}}`,
			`{"email":"g@x.io","data":{"a":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}}`),
		`{"firstName":"\u2067x","data":{"a":"\udfff"}}`, `{"data":` + strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat("}", 33) + `}`,
		`{"roles":["member","member"]}`, `{"roles":[` + strings.Repeat(`"r",`, invites.MaxRoles) + `"r"]}`,
		sendBody(`{"email":"a@x.io","roles":[` + strings.Repeat(`"r",`, invites.MaxRoles) + `"r"]}`),
	} {
		for i := range bodyRoutes {
			f.Add(uint8(i), s)
		}
	}
	e := newEnv(f)
	id := e.invite(alice, "fuzz@x.io").ID.String()
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		path := strings.Replace(rt.path, "{id}", id, 1)
		w := e.do(call{method: rt.method, path: path, body: body, ctype: "application/json", as: &alice})
		checkAnswer(t, w, 200, 400, 403, 404, 409, 410, 413, 429)
	})
}

// FuzzListQuery sends any query string to GET /.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"", "status=pending,accepted&order=-email&limit=1", "limit=100&offset=3", "createdAfter=2030-01-01T00:00:00%2B01:00",
		"createdBefore=2030-01-01T00:00:00Z&createdByUserId=u-alice", "email=ANN@x.io&search=an", "cursor=eyJmIjoiY3JlYXRlZEF0In0",
		"limit=0", "limit=-1", "limit=99999999999999999999", "offset=9223372036854775807", "order=", "order=-", "order=--email",
		"status=,", "status=expired", "a=%zz", "x;y", "limit=1&limit=2", "search=" + strings.Repeat("%E2%82%AC", 300),
		"search=%ff", "cursor=" + strings.Repeat("A", 2000), "tenantId=globex",
		"email[iLike]=%25@acme.com&status[valueIn]=pending,expired", "id[equalTo]=0190d5a4-0000-7000-8000-000000000000",
		"acceptedByUserId[equalTo]=", "lastName[like]=%5C%25%5C_%5C%5C", "firstName[iLike]=%5C", "order=-locale&locale[valueIn]=de,",
		"status[equalTo]=", "email[nope]=x", "[equalTo]=x", "email[=x", "email]=x", "id[valueIn]=,", "createdByUserId[valueNotIn]=" + strings.Repeat(",", 200),
		// Every list at and past its bound, repeats counted; the deepest
		// offset and past it; more parameters than there are; a query too long.
		"status=" + strings.Repeat("pending,", invites.MaxFilterValues-1) + "expired", "status=" + strings.Repeat("pending,", 150),
		"status[valueNotIn]=" + strings.Repeat(",", invites.MaxFilterValues), "email[valueIn]=" + strings.Repeat("a@x.io,", invites.MaxFilterValues),
		"id[valueNotIn]=" + strings.Repeat("0190d5a4-0000-7000-8000-000000000000,", invites.MaxFilterValues-1) + "0190d5a4-0000-7000-8000-000000000000",
		fmt.Sprintf("offset=%d", invites.MaxOffset), fmt.Sprintf("offset=%d", invites.MaxOffset+1), "offset=-9223372036854775808",
		strings.Repeat("&", len(listParams)), strings.Repeat("limit=1&", 60), "search=" + strings.Repeat("a", maxQueryBytes+1),
	} {
		f.Add(s)
	}
	e := newEnv(f)
	for _, m := range []string{"ann@x.io", "bob@x.io", "cy@x.io"} {
		e.invite(alice, m)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := call{method: "GET", path: "/", as: &alice}.request()
		r.URL.RawQuery = query
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		checkAnswer(t, w, 200, 400)
	})
}
