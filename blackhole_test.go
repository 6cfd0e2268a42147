package invites_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
)

// blackholeBound is the StoreTimeout of the blackhole tests.
const blackholeBound = time.Second

// within runs call and fails the test unless it returns an error that is
// ErrUnavailable within blackholeBound and a second: a call left hanging
// is reported, not waited for.
func within(t *testing.T, what string, call func() error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		if !errors.Is(err, invites.ErrUnavailable) {
			t.Errorf("%s during the blackhole = %v, want ErrUnavailable", what, err)
		}
		if d := time.Since(start); d > blackholeBound+time.Second {
			t.Errorf("%s during the blackhole took %v, want at most %v", what, d, blackholeBound+time.Second)
		}
	case <-time.After(blackholeBound + time.Second):
		t.Errorf("%s during the blackhole still hangs after %v", what, blackholeBound+time.Second)
	}
}

// A line that drops every byte but keeps the sockets open: each call of
// the Service answers ErrUnavailable within Config.StoreTimeout (a 503
// with Retry-After over HTTP), not when the kernel gives up minutes later.
func TestBlackholeAnswersUnavailable(t *testing.T) {
	f := newFaultDB(t)
	mail := mailertest.New()
	store := bunstore.New(f.via)
	service := func(bound time.Duration) *invites.Service {
		svc, err := invites.New(store, mail, invites.Config{AcceptURL: func(invites.Token) string { return "/" },
			Tokens: token.Issuer{}, Logger: slog.New(slog.DiscardHandler), StoreTimeout: bound})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	// The pool warms up (its first connections, the store's checks) with
	// the default bound, which a loaded machine may need.
	warm, svc := service(0), service(blackholeBound)
	ctx := t.Context()
	res, err := warm.Send(ctx, admin, []invites.NewInvite{{Email: "ann@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.DeliverPending(ctx); err != nil {
		t.Fatal(err)
	}
	tok := mail.TokenFor("ann@example.com")
	id := res.Success[0].ID
	h := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(*http.Request) (invites.Actor, error) { return admin, nil },
		Logger:       slog.New(slog.DiscardHandler),
	})

	f.proxy.Blackhole()
	within(t, "Send", func() error {
		_, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: "bob@example.com"}})
		return err
	})
	within(t, "Accept", func() error {
		_, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann"})
		return err
	})
	within(t, "Get", func() error { _, err := svc.Get(ctx, admin, id); return err })
	within(t, "Cancel", func() error { _, err := svc.Cancel(ctx, admin, id); return err })
	within(t, "Stats", func() error { _, err := svc.Stats(ctx); return err })
	within(t, "DeliverPending", func() error { _, err := svc.DeliverPending(ctx); return err })
	within(t, "POST /", func() error {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"userInvites":[{"email":"cy@example.com"}]}`))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			return fmt.Errorf("answered %d Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		return invites.ErrUnavailable
	})

	f.proxy.Restore()
	// The pool's connections the blackhole swallowed stay dead: each
	// costs at most one call its bound, then a fresh one serves.
	deadline := time.Now().Add(20 * blackholeBound)
	for {
		inv, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann"})
		if err == nil && inv.Status == invites.StatusAccepted {
			break
		}
		if !errors.Is(err, invites.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Accept after the blackhole = %v, %v", inv.Status, err)
		}
	}
}

// The worker meets a blackhole mid-run and, once the line is back,
// delivers everything queued meanwhile without a restart: no step of a
// pass hangs on a connection that will never answer.
func TestWorkerSurvivesBlackhole(t *testing.T) {
	f := newFaultDB(t)
	mail := mailertest.New()
	svc := faultService(t, f.via, mail, func(c *invites.Config) {
		c.StoreTimeout = blackholeBound
		c.PollInterval = 100 * time.Millisecond
		c.DeliveryLease = 3 * time.Second
	})
	direct := faultService(t, f.direct, mailertest.New())
	queueAs := func(prefix string, n int) []uuid.UUID {
		items := make([]invites.NewInvite, n)
		for i := range items {
			items[i].Email = fmt.Sprintf("%s%d@example.com", prefix, i)
		}
		res, err := direct.Send(t.Context(), admin, items)
		if err != nil || len(res.Success) != n {
			t.Fatalf("Send = %d stored, %v", len(res.Success), err)
		}
		ids := make([]uuid.UUID, n)
		for i, inv := range res.Success {
			ids[i] = inv.ID
		}
		return ids
	}
	run(t, svc)
	if ids := queueAs("before", 5); !awaitAll(mail, ids, time.Now().Add(10*time.Second)) {
		t.Fatal("the worker did not deliver before the blackhole")
	}
	f.proxy.Blackhole()
	ids := queueAs("during", 20)
	time.Sleep(3 * blackholeBound)
	if n := len(mail.Messages()); n != 5 {
		t.Fatalf("%d emails sent during the blackhole, want the 5 from before", n)
	}
	f.proxy.Restore()
	restored := time.Now()
	if !awaitAll(mail, ids, restored.Add(15*time.Second)) {
		t.Fatalf("15 s after the line came back, %d of 20 emails sent: the worker is stuck", len(mail.Messages())-5)
	}
	t.Logf("delivered all 20 %v after the line came back", time.Since(restored).Round(time.Millisecond))
}

// A connection attempt the blackhole swallows holds nothing back once the
// line is back. database/sql opens the connections that calls waiting on
// a full pool ask for in one goroutine of its own, with no deadline but
// the driver's connect_timeout: without one, that attempt never ends and
// the pool, its slots promised to it, answers no call again. The pool is
// opened as the README says (testdb.OpenPostgres), so the attempt ends
// within connect_timeout and the calls after it are served.
func TestPoolRecoversFromSwallowedDial(t *testing.T) {
	f := newFaultDB(t)
	f.via.SetMaxOpenConns(2)
	f.via.SetMaxIdleConns(2)
	const bound = 300 * time.Millisecond
	bounded := func(d time.Duration) *invites.Service {
		return faultService(t, f.via, mailertest.New(), func(c *invites.Config) { c.StoreTimeout = d })
	}
	warm, holder, waiter := bounded(0), bounded(bound), bounded(3*bound)
	get := func(s *invites.Service) error {
		_, err := s.Get(t.Context(), admin, uuid.New())
		return err
	}
	if err := get(warm); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Get before the blackhole = %v, want ErrNotFound", err)
	}

	f.proxy.Blackhole()
	// Two calls hold the pool's connections; four more wait for one
	// longer, so when the first two time out the pool dials for the
	// waiters, and the blackhole swallows the attempt.
	var calls sync.WaitGroup
	for i := range 6 {
		s := holder
		if i >= 2 {
			s = waiter
			time.Sleep(bound / 10)
		}
		calls.Go(func() {
			if err := get(s); !errors.Is(err, invites.ErrUnavailable) {
				t.Errorf("Get during the blackhole = %v, want ErrUnavailable", err)
			}
		})
	}
	calls.Wait()
	f.proxy.Restore()
	restored := time.Now()
	const recovery = 4 * time.Second // testdb's connect_timeout (2 s) and a margin for a loaded machine
	for {
		err := get(holder)
		if errors.Is(err, invites.ErrNotFound) {
			t.Logf("served %v after the line came back", time.Since(restored).Round(time.Millisecond))
			return
		}
		if !errors.Is(err, invites.ErrUnavailable) || time.Since(restored) > recovery {
			t.Fatalf("Get %v after the line came back = %v, want ErrNotFound within %v",
				time.Since(restored).Round(time.Millisecond), err, recovery)
		}
	}
}

// The idle connections a blackhole swallowed hold back no call once the
// line is back: the first call that timed out on one has the Store drop
// the others, which are as dead.
func TestSwallowedIdleConnsDropped(t *testing.T) {
	f := newFaultDB(t)
	f.via.SetMaxOpenConns(4)
	f.via.SetMaxIdleConns(4)
	const bound = 300 * time.Millisecond
	warm := faultService(t, f.via, mailertest.New())
	svc := faultService(t, f.via, mailertest.New(), func(c *invites.Config) { c.StoreTimeout = bound })
	get := func(s *invites.Service) error {
		_, err := s.Get(t.Context(), admin, uuid.New())
		return err
	}
	// The Store's first call opens as many connections as the pool keeps
	// idle (bunstore's pool check): four idle ones.
	if err := get(warm); !errors.Is(err, invites.ErrNotFound) {
		t.Fatalf("Get before the blackhole = %v, want ErrNotFound", err)
	}
	if idle := f.via.Stats().Idle; idle != 4 {
		t.Fatalf("%d idle connections before the blackhole, want 4", idle)
	}
	f.proxy.Blackhole()
	if err := get(svc); !errors.Is(err, invites.ErrUnavailable) {
		t.Fatalf("Get during the blackhole = %v, want ErrUnavailable", err)
	}
	time.Sleep(2 * bound)
	f.proxy.Restore()
	for i := range 4 {
		if err := get(svc); !errors.Is(err, invites.ErrNotFound) {
			t.Fatalf("Get %d after the line came back = %v, want ErrNotFound", i+1, err)
		}
	}
}
