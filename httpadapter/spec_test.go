package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// behaviour is the handler as the spec test learns it: its routes, what
// they read, and what they answered to every apiCase.
type behaviour struct {
	routes    []string                // ServeMux patterns
	query     map[string][]string     // route -> the query parameters it reads
	headers   map[string][]string     // route -> the request headers it reads
	bodies    map[string]reflect.Type // route -> the type its body decodes into
	exchanges []exchange
}

// requestTypes are the bodies of the routes that read one; the probe in
// learn checks that exactly these routes read a body.
var requestTypes = map[string]reflect.Type{
	"POST /{$}":         reflect.TypeFor[sendRequest](),
	"PATCH /{id}":       reflect.TypeFor[updateRequest](),
	"POST /{id}/resend": reflect.TypeFor[resendRequest](),
	"POST /{id}/cancel": reflect.TypeFor[emptyRequest](),
	"POST /lookup":      reflect.TypeFor[tokenRequest](),
	"POST /check":       reflect.TypeFor[tokenRequest](),
	"POST /accept":      reflect.TypeFor[tokenRequest](),
	"POST /decline":     reflect.TypeFor[tokenRequest](),
	"POST /forget":      reflect.TypeFor[forgetRequest](),
	"POST /unsuppress":  reflect.TypeFor[unsuppressRequest](),

	"POST /links":             reflect.TypeFor[createLinkRequest](),
	"POST /links/{id}/revoke": reflect.TypeFor[emptyRequest](),
	"POST /links/{id}/rotate": reflect.TypeFor[emptyRequest](),
	"POST /links/revoke":      reflect.TypeFor[revokeLinksRequest](),
	"POST /links/check":       reflect.TypeFor[tokenRequest](),
	"POST /links/join":        reflect.TypeFor[tokenRequest](),
}

func learn(t *testing.T) behaviour {
	t.Helper()
	e := newEnv(t)
	b := behaviour{query: map[string][]string{"GET /{$}": listParams, "GET /links": linkListParams}, bodies: requestTypes, headers: map[string][]string{}}
	for _, rt := range e.h.routes() {
		b.routes = append(b.routes, rt.pattern)
		// A route reads a body if it refuses an unknown member in one.
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{$}", "", "{id}", "0190d5a4-0000-7000-8000-000000000000").Replace(path)
		w := e.do(call{method: method, path: path, body: `{"zzProbe":1}`, as: &alice})
		reads := w.Code == 400 && strings.Contains(w.Body.String(), `"field":"zzProbe"`)
		if reads != (requestTypes[rt.pattern] != nil) {
			t.Fatalf("%s reads a body: %v, but requestTypes says %v", rt.pattern, reads, !reads)
		}
		// A route reads Idempotency-Key if it refuses a malformed one.
		r := call{method: method, path: path, as: &alice}.request()
		r.Header.Set(IdempotencyKeyHeader, `"unterminated`)
		if x := exchanges(e.h, r); x[0].status == 400 && strings.Contains(string(x[0].body), `"field":"Idempotency-Key"`) {
			b.headers[rt.pattern] = []string{IdempotencyKeyHeader}
		}
		// Every path answers PUT, which no route takes, with 405: the spec
		// lists it on each of the path's operations.
		b.exchanges = append(b.exchanges, exchanges(e.h, call{method: "PUT", path: path, as: &alice}.request())...)
	}
	for _, c := range apiCases() {
		e := newEnv(t)
		b.exchanges = append(b.exchanges, exchanges(e.h, c.call(e).request())...)
	}
	return b
}

// exchanges sends r through h. A 405 is the answer of every route of the
// path, those its Allow header names.
func exchanges(h *handler, r *http.Request) []exchange {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	x := exchange{route: h.match(r), status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	if x.status != http.StatusMethodNotAllowed {
		return []exchange{x}
	}
	var xs []exchange
	for _, m := range strings.Split(x.header.Get("Allow"), ", ") {
		other := r.Clone(r.Context())
		other.Method = m
		if route := h.match(other); route != "" && strings.HasPrefix(route, m+" ") {
			x.route = route
			xs = append(xs, x)
		}
	}
	return xs
}

// TestOpenAPIMatchesHandler holds openapi.yaml and the handler to each
// other both ways: paths and methods, status codes, content types,
// headers, query and path parameters, request and response fields, and
// enum values. TestSpecDriftIsCaught shows that it fails on drift.
func TestOpenAPIMatchesHandler(t *testing.T) {
	for _, p := range compareSpec(openAPI, learn(t)) {
		t.Error(p)
	}
}

// watchedHeaders are the response headers the spec must describe.
var watchedHeaders = []string{"Retry-After", "Allow"}

func compareSpec(raw []byte, b behaviour) []string {
	d, err := parseSpec(raw)
	if err != nil {
		return []string{err.Error()}
	}
	c := newWalker(d)
	declared, enums := map[string]bool{}, map[*schema]string{}
	headers := map[string]bool{} // "route status header" -> seen
	inSpec := map[string]bool{}
	for _, path := range slices.Sorted(maps.Keys(d.Paths)) {
		for _, method := range slices.Sorted(maps.Keys(d.Paths[path])) {
			route := strings.ToUpper(method) + " " + path
			if path == "/" {
				route += "{$}"
			}
			inSpec[route] = true
			if !slices.Contains(b.routes, route) {
				c.errorf("%s is in the spec but is no route of the handler", route)
				continue
			}
			var op operation
			if err := json.Unmarshal(d.Paths[path][method], &op); err != nil {
				c.errorf("%s: %v", route, err)
				continue
			}
			c.compareSecurity(route, op)
			c.compareParams(route, path, op, b.query[route], b.headers[route])
			c.compareRequest(route, op, b.bodies[route])
			c.compareResponses(route, op, b.exchanges, declared, enums, headers)
		}
	}
	problem := c.expand(&schema{Ref: "#/components/schemas/Problem"}, "", nil)
	for _, x := range b.exchanges {
		switch {
		case x.route == "":
			// 404 of no route: no operation, but a Problem.
			var v any
			_ = json.Unmarshal(x.body, &v)
			c.walk(fmt.Sprintf("no route %d", x.status), v, problem)
		case !inSpec[x.route]:
			c.errorf("%s answered but has no path in the spec", x.route)
		}
	}
	for _, r := range b.routes {
		if !inSpec[r] && !slices.ContainsFunc(b.exchanges, func(x exchange) bool { return x.route == r }) {
			c.errorf("%s is a route of the handler but has no path in the spec", r)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		if !headers[k] {
			c.errorf("%s is in the spec but never answered", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(declared)) {
		if !c.seen[k] {
			c.errorf("field %s is in the spec but no response has it", k)
		}
	}
	for s, at := range enums {
		for _, v := range s.Enum {
			if !c.seenEnum[s][fmt.Sprint(v)] {
				c.errorf("%s: %v is in the spec's enum but never answered", at, v)
			}
		}
	}
	slices.Sort(c.problems)
	return slices.Compact(c.problems)
}

func (c *walker) compareResponses(route string, op operation, xs []exchange, declared map[string]bool, enums map[*schema]string, headers map[string]bool) {
	answered := map[int][]exchange{}
	for _, x := range xs {
		if x.route == route {
			answered[x.status] = append(answered[x.status], x)
		}
	}
	for _, status := range slices.Sorted(maps.Keys(answered)) {
		if op.Responses[strconv.Itoa(status)] == nil {
			c.errorf("%s answered %d, which the spec does not list", route, status)
		}
	}
	for _, code := range slices.Sorted(maps.Keys(op.Responses)) {
		at := route + " " + code
		status, _ := strconv.Atoi(code)
		r := op.Responses[code].resolve(c.doc)
		if len(answered[status]) == 0 {
			c.errorf("%s is in the spec but never answered", at)
			continue
		}
		if len(r.Content) != 1 {
			c.errorf("%s: the spec gives %d content types, the handler answers one", at, len(r.Content))
			continue
		}
		for name := range r.Headers {
			headers[at+" "+http.CanonicalHeaderKey(name)] = false
		}
		mt := slices.Collect(maps.Keys(r.Content))[0]
		if sch := r.Content[mt].Schema; status >= 400 && sch != nil && sch.Ref == "" {
			// A client generator makes a type of an inline schema for each
			// operation that lists it (SendUserInvites403...Code): one
			// problem, many types.
			c.errorf("%s: the problem's schema is inline: $ref one of components.schemas", at)
		}
		parts := c.expand(r.Content[mt].Schema, "", nil)
		c.declare(parts, declared, enums, at, 0)
		for _, x := range answered[status] {
			if x.mediaType() != mt {
				c.errorf("%s answered %s, the spec says %s", at, x.mediaType(), mt)
			}
			for _, h := range watchedHeaders {
				if x.header.Get(h) == "" {
					continue
				}
				if _, ok := headers[at+" "+h]; !ok {
					c.errorf("%s answered header %s, which the spec does not list", at, h)
				}
				headers[at+" "+h] = true
			}
			if !strings.HasSuffix(mt, "json") {
				continue
			}
			var v any
			if err := json.Unmarshal(x.body, &v); err != nil {
				c.errorf("%s answered no JSON: %v", at, err)
				continue
			}
			c.walk(at, v, parts)
		}
	}
}

// compareSecurity holds an operation's security to its 401: the routes
// that authenticate list 401 (compareResponses holds that to the handler),
// and only they may ask for a scheme, one the document declares.
func (c *walker) compareSecurity(route string, op operation) {
	reqs := c.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	needs := len(reqs) > 0
	for _, req := range reqs {
		if len(req) == 0 { // {} makes the others optional
			needs = false
		}
		for name := range req {
			if c.doc.Components.SecuritySchemes[name] == nil {
				c.errorf("%s asks for security scheme %s, which the spec does not declare", route, name)
			}
		}
	}
	switch authenticates := op.Responses["401"] != nil; {
	case authenticates && !needs:
		c.errorf("%s authenticates (401), but the spec asks for no security", route)
	case !authenticates && needs:
		c.errorf("%s needs no actor, but the spec asks for security", route)
	}
}

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

func (c *walker) compareParams(route, path string, op operation, query, headers []string) {
	var inQuery, inPath, inHeader []string
	for _, p := range op.Parameters {
		p = p.resolve(c.doc)
		switch p.In {
		case "query":
			inQuery = append(inQuery, p.Name)
		case "path":
			inPath = append(inPath, p.Name)
		case "header":
			inHeader = append(inHeader, p.Name)
		default:
			c.errorf("%s: parameter %s in %s, which the handler does not read", route, p.Name, p.In)
		}
	}
	var want []string
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		want = append(want, m[1])
	}
	c.sameSet(route+" path parameters", inPath, want)
	c.sameSet(route+" query parameters", inQuery, query)
	c.sameSet(route+" header parameters", inHeader, headers)
}

// sameSet reports what spec names and handler does not, and the reverse.
func (c *walker) sameSet(what string, spec, handler []string) {
	for _, s := range spec {
		if !slices.Contains(handler, s) {
			c.errorf("%s: %s is in the spec, but the handler does not read it", what, s)
		}
	}
	for _, h := range handler {
		if !slices.Contains(spec, h) {
			c.errorf("%s: %s is read by the handler, but not in the spec", what, h)
		}
	}
}

func (c *walker) compareRequest(route string, op operation, t reflect.Type) {
	switch {
	case op.RequestBody == nil && t == nil:
	case op.RequestBody == nil:
		c.errorf("%s reads a body the spec does not describe", route)
	case t == nil:
		c.errorf("%s: the spec describes a body, the handler reads none", route)
	case len(op.RequestBody.Content) != 1 || op.RequestBody.Content["application/json"].Schema == nil:
		c.errorf("%s: the body must be application/json only", route)
	default:
		c.compareBody(route+" body", c.expand(op.RequestBody.Content["application/json"].Schema, "", nil), t)
	}
}

func TestServesItsSpec(t *testing.T) {
	e := newEnv(t)
	w := e.do(call{method: "GET", path: "/openapi.yaml"})
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), OpenAPI()) || w.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("%d %s", w.Code, w.Header())
	}
	if !bytes.HasPrefix(w.Body.Bytes(), []byte("# OpenAPI 3.1")) || !bytes.Contains(w.Body.Bytes(), []byte(`"openapi": "3.1.0"`)) {
		t.Error("not the OpenAPI 3.1 document")
	}
}
