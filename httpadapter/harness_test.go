package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/internal/testclock"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

var (
	alice = invites.Actor{UserID: "u-alice", TenantID: "acme", Roles: []string{"admin", "member"}}
	gus   = invites.Actor{UserID: "u-gus", TenantID: "globex", Roles: []string{"admin"}}
	// carol holds no roles, so her invites grant none.
	carol = invites.Actor{UserID: "u-carol", TenantID: "acme"}
	// bob is an invitee: a user, not yet of any tenant.
	bob = invites.Actor{UserID: "u-bob"}
	// annUser is the user of the address the cases invite, ann@x.io.
	annUser = invites.Actor{UserID: "u-ann", Email: "Ann@X.io"}
	t0      = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// Limits of the env, small so tests reach them cheaply.
const (
	envTTL       = 24 * time.Hour
	envMaxBatch  = 10
	envMaxBody   = 4 << 10
	envCooldown  = time.Minute
	envMaxResend = 2
)

// env is the handler over a Service on memstore with a recording mailer, a
// clock the test moves, and a store that fails on demand.
type env struct {
	t     testing.TB
	h     *handler
	svc   *invites.Service
	mail  *mailertest.Mailer
	store *faultyStore
	// noUpkeep builds the Service on store seen as no invites.UpkeepStore
	// (nor LinkStore).
	noUpkeep bool
	// noLinks builds it on store seen as no invites.LinkStore.
	noLinks bool
	logs    syncbuf.Buffer
	clk     *testclock.Clock
	// The Configs the Service and handler were built with.
	svcCfg invites.Config
	cfg    Config
}

func newEnv(t testing.TB, tune ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, mail: mailertest.New(), store: &faultyStore{Store: memstore.New()}, clk: testclock.New(t0)}
	e.svcCfg = invites.Config{
		Tokens:         token.Issuer{},
		AcceptURL:      func(tok invites.Token) string { return "https://app.test/accept#" + tok.Reveal() },
		JoinURL:        func(tok invites.Token) string { return "https://app.test/join#" + tok.Reveal() },
		TTL:            envTTL,
		MaxBatch:       envMaxBatch,
		ResendCooldown: envCooldown,
		MaxResends:     envMaxResend,
		Now:            e.clock,
		Logger:         slog.New(slog.DiscardHandler),
	}
	e.cfg = Config{
		Authenticate: headerActor,
		MaxBodyBytes: envMaxBody,
		Logger:       slog.New(slog.NewTextHandler(&e.logs, nil)),
	}
	for _, f := range tune {
		f(&e.cfg)
	}
	e.build()
	return e
}

// withService rebuilds the env's Service and handler, on the same store,
// mailer and clock, with tune applied to the Service's Config.
func (e *env) withService(tune func(*invites.Config)) {
	tune(&e.svcCfg)
	e.build()
}

func (e *env) build() {
	e.t.Helper()
	var store invites.Store = e.store
	if e.noUpkeep {
		store = struct {
			invites.InviteStore
			invites.OutboxStore
			invites.EventStore
			invites.SuppressionStore
		}{e.store, e.store, e.store, e.store}
	} else if e.noLinks {
		store = struct {
			invites.Store
			invites.UpkeepStore
		}{e.store, e.store}
	}
	svc, err := invites.New(store, e.mail, e.svcCfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = svc
	e.h = New(svc, e.cfg).(*handler)
}

func (e *env) clock() time.Time { return e.clk.Now() }

func (e *env) advance(d time.Duration) { e.clk.Advance(d) }

// headerActor is the tests' Authenticate: the actor rides in X-Test-*
// headers; no X-Test-User means no actor.
func headerActor(r *http.Request) (invites.Actor, error) {
	a := invites.Actor{UserID: r.Header.Get("X-Test-User"), TenantID: r.Header.Get("X-Test-Tenant"),
		Email: r.Header.Get("X-Test-Email")}
	if a.UserID == "" {
		return a, errors.New("no session")
	}
	if roles := r.Header.Get("X-Test-Roles"); roles != "" {
		a.Roles = strings.Split(roles, ",")
	}
	return a, nil
}

// call is one request: a body, and any request but a GET, is sent as
// application/json unless ctype says otherwise ("-" for no Content-Type).
type call struct {
	method, path string
	body         string
	ctype        string
	as           *invites.Actor
	// key is the Idempotency-Key header sent, none when "".
	key string
}

func (c call) request() *http.Request {
	r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	switch {
	case c.ctype == "-":
	case c.ctype != "":
		r.Header.Set("Content-Type", c.ctype)
	case c.body != "" || c.method != http.MethodGet:
		r.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		r.Header.Set(IdempotencyKeyHeader, c.key)
	}
	if a := c.as; a != nil {
		r.Header.Set("X-Test-User", a.UserID)
		r.Header.Set("X-Test-Tenant", a.TenantID)
		r.Header.Set("X-Test-Roles", strings.Join(a.Roles, ","))
		r.Header.Set("X-Test-Email", a.Email)
	}
	return r
}

func (e *env) do(c call) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, c.request())
	return w
}

// invite sends one invite from a and delivers its email.
func (e *env) invite(a invites.Actor, email string) invites.Invite {
	e.t.Helper()
	res, err := e.svc.Send(context.Background(), a, []invites.NewInvite{{Email: email, FirstName: "Ann"}})
	if err != nil || len(res.Success) != 1 {
		e.t.Fatalf("send %s: %v %+v", email, err, res.Errors)
	}
	e.deliver()
	return res.Success[0]
}

func (e *env) deliver() {
	e.t.Helper()
	if _, err := e.svc.DeliverPending(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) token(email string) string { return e.mail.TokenFor(email) }

// final brings an invite of alice's to status st (accepted, declined or
// canceled), as a user would.
func (e *env) final(email string, st invites.Status) invites.Invite {
	e.t.Helper()
	inv := e.invite(alice, email)
	ctx := context.Background()
	var err error
	switch st {
	case invites.StatusAccepted:
		_, err = e.svc.Accept(ctx, e.token(email), invites.Acceptor{UserID: bob.UserID})
	case invites.StatusDeclined:
		_, err = e.svc.Decline(ctx, e.token(email))
	case invites.StatusCanceled:
		_, err = e.svc.Cancel(ctx, alice, inv.ID)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return inv
}

// decodeProblem reads a problem response, failing on anything else.
func decodeProblem(t testing.TB, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, w.Body)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// faultyStore is memstore whose invite methods fail while fail is set,
// with an error whose text must never reach a client, and answer
// invites.ErrUnavailable while down is set (List by running until its
// context ends, as a scan of a large tenant would).
type faultyStore struct {
	*memstore.Store
	fail, down atomic.Bool
}

var (
	errStoreDown   = errors.New("dial tcp 10.1.2.3:5432: connection refused")
	errUnavailable = fmt.Errorf("%w: canceling statement due to statement timeout", invites.ErrUnavailable)
)

func guard[T any](s *faultyStore, f func() (T, error)) (T, error) {
	var zero T
	if s.fail.Load() {
		return zero, errStoreDown
	}
	if s.down.Load() {
		return zero, errUnavailable
	}
	return f()
}

type row = invites.Invite

func (s *faultyStore) Insert(ctx context.Context, p invites.InsertParams) ([]invites.InsertResult, error) {
	return guard(s, func() ([]invites.InsertResult, error) { return s.Store.Insert(ctx, p) })
}
func (s *faultyStore) Get(ctx context.Context, p invites.GetParams) (row, error) {
	return guard(s, func() (row, error) { return s.Store.Get(ctx, p) })
}
func (s *faultyStore) List(ctx context.Context, p invites.ListParams) ([]row, int, error) {
	if s.fail.Load() {
		return nil, 0, errStoreDown
	}
	if s.down.Load() {
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	return s.Store.List(ctx, p)
}
func (s *faultyStore) Change(ctx context.Context, p invites.ChangeParams) (row, error) {
	return guard(s, func() (row, error) { return s.Store.Change(ctx, p) })
}
func (s *faultyStore) History(ctx context.Context, p invites.HistoryParams) ([]invites.Event, error) {
	return guard(s, func() ([]invites.Event, error) { return s.Store.History(ctx, p) })
}
func (s *faultyStore) Lookup(ctx context.Context, p invites.LookupParams) (row, error) {
	return guard(s, func() (row, error) { return s.Store.Lookup(ctx, p) })
}
func (s *faultyStore) Forget(ctx context.Context, p invites.ForgetParams) ([]uuid.UUID, error) {
	return guard(s, func() ([]uuid.UUID, error) { return s.Store.Forget(ctx, p) })
}
func (s *faultyStore) Unsuppress(ctx context.Context, p invites.UnsuppressParams) error {
	_, err := guard(s, func() (struct{}, error) { return struct{}{}, s.Store.Unsuppress(ctx, p) })
	return err
}

// Stats hangs while down, as a store that does not answer would, until
// its context ends.
func (s *faultyStore) Stats(ctx context.Context, p invites.StatsParams) (invites.Stats, error) {
	if s.fail.Load() {
		return invites.Stats{}, errStoreDown
	}
	if s.down.Load() {
		<-ctx.Done()
		return invites.Stats{}, ctx.Err()
	}
	return s.Store.Stats(ctx, p)
}

func (s *faultyStore) CreateLink(ctx context.Context, p invites.CreateLinkParams) (invites.Link, error) {
	return guard(s, func() (invites.Link, error) { return s.Store.CreateLink(ctx, p) })
}
func (s *faultyStore) RevokeLinks(ctx context.Context, p invites.RevokeLinksParams) ([]invites.Link, error) {
	return guard(s, func() ([]invites.Link, error) { return s.Store.RevokeLinks(ctx, p) })
}
func (s *faultyStore) JoinLink(ctx context.Context, p invites.JoinLinkParams) (invites.Link, error) {
	return guard(s, func() (invites.Link, error) { return s.Store.JoinLink(ctx, p) })
}
func (s *faultyStore) GetLink(ctx context.Context, p invites.GetLinkParams) (invites.Link, error) {
	return guard(s, func() (invites.Link, error) { return s.Store.GetLink(ctx, p) })
}
func (s *faultyStore) ListLinks(ctx context.Context, p invites.ListLinksParams) ([]invites.Link, error) {
	return guard(s, func() ([]invites.Link, error) { return s.Store.ListLinks(ctx, p) })
}
func (s *faultyStore) LinkUses(ctx context.Context, p invites.LinkParams) ([]invites.LinkUse, error) {
	return guard(s, func() ([]invites.LinkUse, error) { return s.Store.LinkUses(ctx, p) })
}
func (s *faultyStore) LinkHistory(ctx context.Context, p invites.LinkParams) ([]invites.Event, error) {
	return guard(s, func() ([]invites.Event, error) { return s.Store.LinkHistory(ctx, p) })
}
