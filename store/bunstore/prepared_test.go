package bunstore_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/syncbuf"
	"github.com/invitekit/invites/internal/testdb"
	"github.com/invitekit/invites/mailer/mailertest"
	"github.com/invitekit/invites/store/bunstore"
	"github.com/invitekit/invites/token"
	"github.com/uptrace/bun"
)

// On PostgreSQL accept and decline run prepared, and an accept with a
// hook, whose transaction holds a connection, never waits for another to
// prepare on: on a pool of one connection, a hook's accept before any
// statement was prepared, a decline (which prepares), and a hook's accept
// after, each finish and write their event.
func TestAcceptPreparedOnOneConnection(t *testing.T) {
	db := testdb.Postgres(t)
	store := migrated(t, db)
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	actor := invites.Actor{UserID: "admin", TenantID: "acme"}
	emails := []string{"ann@x.io", "bob@x.io", "cat@x.io"}
	svc, mail, hooked, sent := invited(t, store, emails...)
	steps := []struct {
		email string
		do    func(tok string) (invites.Invite, error)
		want  invites.EventType
	}{
		{"ann@x.io", func(tok string) (invites.Invite, error) { return svc.Accept(ctx, tok, invites.Acceptor{UserID: "u1"}) }, invites.EventAccepted},
		{"bob@x.io", func(tok string) (invites.Invite, error) { return svc.Decline(ctx, tok) }, invites.EventDeclined},
		{"cat@x.io", func(tok string) (invites.Invite, error) { return svc.Accept(ctx, tok, invites.Acceptor{UserID: "u3"}) }, invites.EventAccepted},
	}
	for i, s := range steps {
		inv, err := s.do(mail.TokenFor(s.email))
		if err != nil {
			t.Fatalf("%s %s: %v", s.want, s.email, err)
		}
		h, err := svc.History(ctx, actor, sent.Success[i].ID)
		if err != nil || h[len(h)-1].Type != s.want {
			t.Fatalf("%s: history %+v, %v; want it to end in %s", s.email, h, err, s.want)
		}
		if inv.ID != sent.Success[i].ID {
			t.Fatalf("%s: answered invite %v, want %v", s.email, inv.ID, sent.Success[i].ID)
		}
	}
	if *hooked != 2 {
		t.Fatalf("the hook ran %d times, want 2", *hooked)
	}
	if os.Getenv(testdb.EnvPooled) != "" {
		return // a pooler hands the count another server connection
	}
	if n := countRows(t, db, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH u AS (UPDATE invites%'"); n != 1 {
		t.Fatalf("%d prepared statements writing an event on the one connection, want 1 (the accept's)", n)
	}
}

// A server that lost a prepared statement, as one behind PgBouncer before
// 1.21 in transaction mode does, gets the statement again unprepared: an
// accept whose hook shares its transaction runs that transaction again, a
// decline runs the statement again, the Store says so once, and prepares
// nothing more.
func TestPreparedLostFallsBack(t *testing.T) {
	db, store, logs := oneConnection(t)
	ctx := t.Context()
	emails := []string{"ann@x.io", "dan@x.io", "bob@x.io", "cat@x.io"}
	svc, mail, hooked, _ := invited(t, store, emails...)
	if _, err := svc.Decline(ctx, mail.TokenFor("ann@x.io")); err != nil {
		t.Fatal(err)
	}
	// The pool's one connection forgets what it prepared.
	if _, err := db.ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	if inv, err := svc.Accept(ctx, mail.TokenFor("dan@x.io"), invites.Acceptor{UserID: "u"}); err != nil || inv.Status != invites.StatusAccepted {
		t.Fatalf("Accept in the hook's transaction after the statement was lost: %v, %v", inv.Status, err)
	}
	if *hooked != 1 {
		t.Fatalf("the hook ran %d times, want once", *hooked)
	}
	for _, e := range emails[2:] {
		if inv, err := svc.Decline(ctx, mail.TokenFor(e)); err != nil || inv.Status != invites.StatusDeclined {
			t.Fatalf("Decline of %s after the statement was lost: %v, %v", e, inv.Status, err)
		}
	}
	if n := strings.Count(logs.String(), "lost a prepared statement"); n != 1 {
		t.Fatalf("logged the loss %d times: %s", n, logs.String())
	}
	if os.Getenv(testdb.EnvPooled) != "" {
		return // a pooler hands the count another server connection
	}
	if n := countRows(t, db, "SELECT count(*) FROM pg_prepared_statements"); n != 0 {
		t.Fatalf("%d statements prepared after the loss, want none", n)
	}
}

// A join through a link runs its statement prepared in its transaction
// and, once the server lost it, runs that transaction again unprepared:
// OnJoin, which comes after the statement, runs once a join.
func TestPreparedJoinLostFallsBack(t *testing.T) {
	db, store, logs := oneConnection(t)
	ctx := t.Context()
	joined := 0
	svc, err := invites.New(store, mailertest.New(), invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return t.Reveal() },
		OnJoin:    func(context.Context, invites.Link, invites.Joiner) error { joined++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	made, err := svc.CreateLink(ctx, invites.Actor{UserID: "admin", TenantID: "acme"}, invites.LinkSpec{MaxUses: 5, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JoinByLink(ctx, made.Token.Reveal(), invites.Joiner{UserID: "ann"}); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(testdb.EnvPooled) == "" {
		if n := countRows(t, db, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH u AS (UPDATE invites_links%'"); n != 1 {
			t.Fatalf("%d join statements prepared, want 1", n)
		}
	}
	if _, err := db.ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	if l, err := svc.JoinByLink(ctx, made.Token.Reveal(), invites.Joiner{UserID: "bob"}); err != nil || l.Uses != 2 {
		t.Fatalf("a join after the statement was lost: %+v, %v; want the link with 2 uses", l, err)
	}
	if joined != 2 {
		t.Fatalf("OnJoin ran %d times for 2 joins", joined)
	}
	if n := strings.Count(logs.String(), "lost a prepared statement"); n != 1 {
		t.Fatalf("logged the loss %d times: %s", n, logs.String())
	}
}

// A page filtered by tenant alone runs prepared, and once the server lost
// its statement, as a pooler's may, unprepared, with the same answer: in
// email order as one statement, and in status order, which runs in a
// transaction bounding it on the server, by running that again.
func TestPreparedListLostFallsBack(t *testing.T) {
	for _, o := range []invites.OrderField{invites.OrderEmail, invites.OrderStatus} {
		t.Run(string(o), func(t *testing.T) {
			db, store, logs := oneConnection(t)
			ctx := t.Context()
			svc, _, _, _ := invited(t, store, "ann@x.io", "bob@x.io", "cat@x.io")
			list := func() invites.Page {
				t.Helper()
				page, err := svc.List(ctx, invites.Actor{UserID: "admin", TenantID: "acme"},
					invites.Query{Limit: 2, Order: invites.Order{Field: o}})
				if err != nil {
					t.Fatal(err)
				}
				return page
			}
			before := list()
			if os.Getenv(testdb.EnvPooled) == "" {
				if n := countRows(t, db, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT id, tenant_id%'"); n != 1 {
					t.Fatalf("%d list statements prepared, want 1", n)
				}
			}
			if _, err := db.ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
				t.Fatal(err)
			}
			after := list()
			if len(after.Invites) != 2 || after.TotalCount != 3 || after.Invites[0].ID != before.Invites[0].ID ||
				after.NextCursor != before.NextCursor {
				t.Fatalf("the list after the loss: %+v, want it as before: %+v", after, before)
			}
			if n := strings.Count(logs.String(), "lost a prepared statement"); n != 1 {
				t.Fatalf("logged the loss %d times: %s", n, logs.String())
			}
		})
	}
}

// oneConnection returns a migrated database on a pool of one connection,
// so a DEALLOCATE ALL reaches every prepared statement, and a Store on it
// logging to logs.
func oneConnection(t *testing.T) (*bun.DB, *bunstore.Store, *syncbuf.Buffer) {
	t.Helper()
	db := testdb.Postgres(t)
	migrated(t, db)
	db.SetMaxOpenConns(1)
	logs := &syncbuf.Buffer{}
	return db, bunstore.New(db, bunstore.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))), logs
}

// invited is a Service on store whose OnAccept counts its calls in hooked,
// with an invite of tenant acme sent and delivered to each of emails.
func invited(t *testing.T, store *bunstore.Store, emails ...string) (svc *invites.Service, mail *mailertest.Mailer, hooked *int, sent invites.SendResult) {
	t.Helper()
	mail, hooked = mailertest.New(), new(int)
	svc, err := invites.New(store, mail, invites.Config{
		Tokens:    token.Issuer{},
		AcceptURL: func(t invites.Token) string { return "https://app.test/accept#" + t.Reveal() },
		OnAccept:  func(context.Context, invites.Invite) error { *hooked++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	var batch []invites.NewInvite
	for _, e := range emails {
		batch = append(batch, invites.NewInvite{Email: e})
	}
	sent, err = svc.Send(t.Context(), invites.Actor{UserID: "admin", TenantID: "acme"}, batch)
	if err != nil || len(sent.Success) != len(emails) {
		t.Fatalf("Send: %v, %+v", err, sent)
	}
	if _, err := svc.DeliverPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	return svc, mail, hooked, sent
}
