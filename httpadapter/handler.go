package httpadapter

import (
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/invitekit/invites"
)

// Config sets up the handler. Zero fields take the default their comment
// names; Authenticate is required.
type Config struct {
	// Authenticate tells which actor makes a request, from the host's own
	// session or token. An error, or an actor without UserID (or without
	// TenantID on the tenant's routes), is answered 401 unauthenticated;
	// the error is not shown. Required.
	Authenticate func(*http.Request) (invites.Actor, error)
	// MaxBodyBytes bounds a request body; a larger one is answered 413
	// body_too_large before it is read whole. Default 1 MiB.
	MaxBodyBytes int64
	// Logger gets the errors behind 500 responses (as Problem left them),
	// which show none of it, and the start and end of an outage of the store: the first 503
	// unavailable with its cause, and the next success. Default
	// slog.Default().
	Logger *slog.Logger
	// Joiner tells which user joins through a link on POST /links/join,
	// with the address the host knows and whether it verified it (a
	// link's allowedDomains admit only verified addresses). An error, or
	// a Joiner without UserID, is answered 401 unauthenticated. Default:
	// the UserID and Email of Authenticate's actor, unverified.
	Joiner func(*http.Request) (invites.Joiner, error)
	// Problem, when set, may change a problem before it is written: set
	// Type URIs, or turn the host's own errors (from Config.OnAccept, say;
	// see Problem.Err) into a status of its choosing. Default none.
	Problem func(*http.Request, *Problem)
}

// DefaultMaxBodyBytes is Config.MaxBodyBytes when it is zero.
const DefaultMaxBodyBytes = 1 << 20

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 description of the handler's routes, the
// document it serves at GET /openapi.yaml.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

type handler struct {
	svc *invites.Service
	cfg Config
	// mux serves the invites' routes and links the links' (see
	// linksPrefix).
	mux, links *http.ServeMux
	// methods are those some route answers, to tell 405 from 404.
	methods []string
	// down is set from the first answer of ErrUnavailable to the next
	// success, so an outage is logged once, not per request.
	down atomic.Bool
}

// New returns the handler of every route, to mount under any prefix with
// http.StripPrefix. It panics when svc or cfg.Authenticate is nil, as
// http.Handle does on a bad pattern: that is a bug of the host's wiring.
func New(svc *invites.Service, cfg Config) http.Handler {
	if svc == nil || cfg.Authenticate == nil {
		panic("httpadapter: New needs a Service and Config.Authenticate")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{svc: svc, cfg: cfg, mux: http.NewServeMux(), links: http.NewServeMux()}
	for _, rt := range h.routes() {
		method, p, _ := strings.Cut(rt.pattern, " ")
		h.muxFor(p).Handle(rt.pattern, rt.h)
		if !slices.Contains(h.methods, method) {
			h.methods = append(h.methods, method)
		}
	}
	return h
}

// route is one ServeMux pattern and what answers it.
type route struct {
	pattern string
	h       http.Handler
}

func (h *handler) routes() []route {
	invs := []route{
		{"POST /{$}", h.serve(keyed(h.send))},
		{"GET /{$}", h.serve(h.list)},
		{"GET /{id}", h.serve(h.byID(h.svc.Get))},
		{"PATCH /{id}", h.serve(keyed(h.update))},
		{"POST /{id}/resend", h.serve(keyed(h.resend))},
		{"POST /{id}/cancel", h.serve(keyed(h.command(h.svc.Cancel)))},
		{"GET /{id}/events", h.serve(h.events)},
		{"POST /forget", h.serve(keyed(h.forget))},
		{"POST /unsuppress", h.serve(h.unsuppress)},
		{"POST /lookup", h.serve(h.lookup)},
		{"POST /check", h.serve(h.check)},
		{"POST /accept", h.serve(keyed(h.accept))},
		{"POST /decline", h.serve(keyed(h.decline))},
		{"GET /openapi.yaml", http.HandlerFunc(serveOpenAPI)},
	}
	return append(invs, h.linkRoutes()...)
}

// muxFor returns the ServeMux of the routes of path p.
func (h *handler) muxFor(p string) *http.ServeMux {
	if isLinkPath(p) {
		return h.links
	}
	return h.mux
}

// ServeHTTP answers a request no route takes with a problem, where
// ServeMux would write plain text or redirect (a redirect would lose the
// prefix the host stripped).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A host that strips the prefix with its slash (/api/invites/) hands
	// over links and "" for /api/invites/links and /api/invites: the
	// routes are the same, and ServeMux would redirect out of the prefix.
	if p := r.URL.Path; !strings.HasPrefix(p, "/") {
		r = withPath(r, "/"+p)
	}
	if h.match(r) != "" {
		h.muxFor(r.URL.Path).ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range h.methods {
		other := r.Clone(r.Context())
		other.Method = m
		if h.match(other) != "" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) == 0 {
		h.fail(w, r, errNoRoute)
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	h.fail(w, r, problem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "", "The method is not allowed here."))
}

// withPath returns a shallow copy of r for path p, as http.StripPrefix
// makes.
func withPath(r *http.Request, p string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = p, ""
	r2.URL = &u
	return r2
}

// match returns the pattern of the route that takes r, or "" for none. A
// path that is not clean (//x, /a/../b) matches none.
func (h *handler) match(r *http.Request) string {
	p := r.URL.Path
	if p != "/" && path.Clean(p) != p {
		return ""
	}
	_, pattern := h.muxFor(p).Handler(r)
	return pattern
}

var errNoRoute = problem(http.StatusNotFound, CodeNotFound, "", "No such route.")

// endpoint answers a request with a value for a 200 JSON response, or an
// error for a problem. It takes w only for http.MaxBytesReader.
type endpoint func(http.ResponseWriter, *http.Request) (any, error)

func (h *handler) serve(f endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := f(w, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if h.down.Load() && h.down.CompareAndSwap(true, false) {
			h.cfg.Logger.InfoContext(r.Context(), "httpadapter: the store answers again", "method", r.Method, "route", r.Pattern)
		}
		b, err := marshal(v)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		write(w, http.StatusOK, "application/json", b)
	})
}

// marshal returns v's JSON. A json.Marshaler (an Invite, a page of them, a
// TokenCheck: this package's and the root's own types, which write
// compact JSON) is called directly: encoding/json would parse its output
// again to check it.
func marshal(v any) ([]byte, error) {
	if m, ok := v.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(v)
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusOK, "application/yaml", openAPI)
}

func write(w http.ResponseWriter, status int, contentType string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Invites are private to a tenant, and lookups are answered by token.
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// actor returns the authenticated actor of r. Tenant routes need a
// tenant; accept needs only a user.
func (h *handler) actor(r *http.Request, needTenant bool) (invites.Actor, error) {
	a, err := h.cfg.Authenticate(r)
	if err != nil || a.UserID == "" || (needTenant && a.TenantID == "") {
		return invites.Actor{}, problem(http.StatusUnauthorized, CodeUnauthenticated, "", "The request carries no authenticated actor.")
	}
	return a, nil
}

// forbidden returns the problem of a body that speaks for another tenant
// or user than the actor.
func forbidden(field string) error {
	return problem(http.StatusForbidden, CodeForbidden, field, field+" is not the actor's.")
}
