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

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/httpadapter"
	"github.com/invitekit/invites/internal/faultproxy"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/uptrace/bun"
)

// faultDB is a migrated PostgreSQL schema of the test's own, with a proxy
// in front of the server that can cut the line.
type faultDB struct {
	direct *bun.DB // straight to the server: for checks, and for a Service the cut does not reach
	via    *bun.DB // through the proxy
	proxy  *faultproxy.Proxy
}

func newFaultDB(t *testing.T) *faultDB {
	t.Helper()
	direct := testdb.Postgres(t)
	if err := bunstore.Migrate(t.Context(), direct); err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.New(t, testdb.PostgresAddr(t))
	return &faultDB{direct: direct, via: testdb.PostgresVia(t, testdb.Schema(t, direct), proxy.Addr), proxy: proxy}
}

// service builds a Service on db with mail, quiet unless tune says.
func faultService(t *testing.T, db *bun.DB, mail invites.Mailer, tune ...func(*invites.Config)) *invites.Service {
	t.Helper()
	cfg := invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(tok invites.Token) string { return "https://app.test/accept?token=" + tok.Reveal() },
		Logger:    slog.New(slog.DiscardHandler),
	}
	for _, f := range tune {
		f(&cfg)
	}
	svc, err := invites.New(bunstore.New(db), mail, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// While the database is away, sends and accepts answer ErrUnavailable at
// once, and over HTTP a 503 with Retry-After; once it is back, both work
// again on the same pool.
func TestOutageAnswersUnavailable(t *testing.T) {
	f := newFaultDB(t)
	mail := mailertest.New()
	svc := faultService(t, f.via, mail)
	ctx := t.Context()
	send := func(email string) error {
		_, err := svc.Send(ctx, admin, []invites.NewInvite{{Email: email}})
		return err
	}
	if err := send("ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeliverPending(ctx); err != nil {
		t.Fatal(err)
	}
	tok := mail.TokenFor("ann@example.com")
	h := httpadapter.New(svc, httpadapter.Config{
		Authenticate: func(*http.Request) (invites.Actor, error) { return admin, nil },
		Logger:       slog.New(slog.DiscardHandler),
	})

	f.proxy.Cut()
	start := time.Now()
	if err := send("bob@example.com"); !errors.Is(err, invites.ErrUnavailable) {
		t.Errorf("Send during the cut = %v, want ErrUnavailable", err)
	}
	if _, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann"}); !errors.Is(err, invites.ErrUnavailable) {
		t.Errorf("Accept during the cut = %v, want ErrUnavailable", err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"userInvites":[{"email":"cy@example.com"}]}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"unavailable"`) {
		t.Errorf("POST / during the cut = %d Retry-After %q %s, want 503 unavailable with Retry-After",
			w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answering during the cut took %v, want no wait for a timeout", d)
	}

	f.proxy.Restore()
	if err := send("bob@example.com"); err != nil {
		t.Fatalf("Send after the cut: %v", err)
	}
	if inv, err := svc.Accept(ctx, tok, invites.Acceptor{UserID: "u-ann"}); err != nil || inv.Status != invites.StatusAccepted {
		t.Fatalf("Accept after the cut = %v, %v", inv.Status, err)
	}
}

// Many sends across a cut: each that succeeded is stored with its email
// queued, each that failed said ErrUnavailable and left its batch whole or
// absent (its commit may have landed as the line went), never in part.
func TestSendsAcrossACutAreAllOrNothing(t *testing.T) {
	f := newFaultDB(t)
	svc := faultService(t, f.via, mailertest.New())
	ctx := t.Context()
	type attempt struct {
		emails []string
		err    error
	}
	var (
		mu       sync.Mutex
		attempts []attempt
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	succeeded := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range attempts {
			if a.err == nil {
				n++
			}
		}
		return n
	}
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := attempt{}
				items := make([]invites.NewInvite, 3)
				for j := range items {
					items[j].Email = fmt.Sprintf("w%d-%d-%d@example.com", w, i, j)
					a.emails = append(a.emails, items[j].Email)
				}
				res, err := svc.Send(ctx, admin, items)
				if err == nil && (len(res.Success) != 3 || len(res.Errors) != 0) {
					err = fmt.Errorf("stored %d, item errors %+v", len(res.Success), res.Errors)
				}
				a.err = err
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // a client backing off
				}
			}
		})
	}
	await := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); succeeded() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("only %d sends succeeded, want %d", succeeded(), n)
			}
		}
	}
	await(40)
	f.proxy.Cut()
	time.Sleep(time.Second)
	before := succeeded()
	f.proxy.Restore()
	await(before + 40)
	close(stop)
	wg.Wait()

	check := faultService(t, f.direct, mailertest.New())
	stored := 0
	failed := 0
	for _, a := range attempts {
		found := 0
		for _, e := range a.emails {
			page, err := check.List(ctx, admin, invites.Query{Email: e})
			if err != nil {
				t.Fatal(err)
			}
			found += len(page.Invites)
		}
		switch {
		case a.err == nil && found != len(a.emails):
			t.Errorf("Send of %v succeeded but %d of its invites are stored", a.emails, found)
		case a.err != nil && !errors.Is(a.err, invites.ErrUnavailable):
			t.Errorf("Send during the cut = %v, want ErrUnavailable", a.err)
		case a.err != nil && found != 0 && found != len(a.emails):
			t.Errorf("failed Send of %v left %d of its invites", a.emails, found)
		}
		if a.err != nil {
			failed++
		}
		stored += found
	}
	if failed == 0 {
		t.Fatal("no Send failed: the cut was not felt")
	}
	// Every stored invite had its email queued with it.
	mail := mailertest.New()
	out := faultService(t, f.direct, mail)
	if n, err := out.DeliverPending(ctx); err != nil || n != stored {
		t.Fatalf("delivering after the cut: %d emails, %v; want one per stored invite, %d", n, err, stored)
	}
	t.Logf("%d sends, %d failed during the cut, %d invites stored", len(attempts), failed, stored)
}
